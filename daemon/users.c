/*
 * users: a chained hash table of passwd entries by uid (users.h). An entry
 * past its time is looked up again in place; one NSS no longer has is
 * dropped. The table never holds more than USERS_MAX: at that many it is
 * emptied, and the next requests fill it again.
 */
#include "config.h"

#include <sys/queue.h>

#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>

#include "users.h"
#include "util.h"

#define USERS_BUCKETS 256
#define USERS_GROUPS_MAX 1024 /* groups read per user; more are not seen */

struct entry {
	struct user u;
	int64_t at; /* looked up then (mono s) */
	gid_t group; /* the group last asked of users_in_group */
	int in_group; /* its answer; -1: not asked since the lookup */
	LIST_ENTRY(entry) link; /* in its bucket */
};

struct users {
	LIST_HEAD(, entry) buckets[USERS_BUCKETS];
	size_t n;
	size_t lookups;
};

struct users *
users_create(void)
{
	return xcalloc(1, sizeof(struct users));
}

static void
entry_free(struct entry *e)
{
	free(e->u.name);
	free(e->u.home);
	free(e);
}

static void
users_clear(struct users *us)
{
	struct entry *e;
	size_t i;

	for (i = 0; i < USERS_BUCKETS; i++)
		while ((e = LIST_FIRST(&us->buckets[i])) != NULL) {
			LIST_REMOVE(e, link);
			entry_free(e);
		}
	us->n = 0;
}

void
users_free(struct users *us)
{
	if (us == NULL)
		return;
	users_clear(us);
	free(us);
}

/* Fill e from NSS; -1: no such user. */
static int
entry_fill(struct users *us, struct entry *e, uid_t uid, int64_t now)
{
	struct passwd pw, *res = NULL;
	char buf[4096];

	us->lookups++;
	if (getpwuid_r(uid, &pw, buf, sizeof(buf), &res) != 0 || res == NULL)
		return -1;
	free(e->u.name);
	free(e->u.home);
	e->u.uid = uid;
	e->u.gid = pw.pw_gid;
	e->u.name = xstrdup(pw.pw_name);
	e->u.home = xstrdup(pw.pw_dir != NULL ? pw.pw_dir : "/");
	e->at = now;
	e->in_group = -1;
	return 0;
}

static struct entry *
users_entry(struct users *us, uid_t uid, int64_t now)
{
	struct entry *e;

	LIST_FOREACH(e, &us->buckets[uid % USERS_BUCKETS], link)
	if (e->u.uid == uid) {
		if (now - e->at < USERS_TTL_S && now >= e->at)
			return e;
		if (entry_fill(us, e, uid, now) == 0)
			return e;
		LIST_REMOVE(e, link);
		entry_free(e);
		us->n--;
		return NULL;
	}
	e = xcalloc(1, sizeof(*e));
	if (entry_fill(us, e, uid, now) != 0) {
		entry_free(e);
		return NULL;
	}
	if (us->n >= USERS_MAX)
		users_clear(us);
	LIST_INSERT_HEAD(&us->buckets[uid % USERS_BUCKETS], e, link);
	us->n++;
	return e;
}

const struct user *
users_get(struct users *us, uid_t uid, int64_t now)
{
	struct entry *e = users_entry(us, uid, now);

	return e != NULL ? &e->u : NULL;
}

int
users_in_group(struct users *us, uid_t uid, gid_t gid, int64_t now)
{
	gid_t groups[USERS_GROUPS_MAX];
	int n = (int)nitems(groups), i;
	struct entry *e;

	if ((e = users_entry(us, uid, now)) == NULL)
		return 0;
	if (e->in_group >= 0 && e->group == gid)
		return e->in_group;
	us->lookups++;
	if (getgrouplist(e->u.name, e->u.gid, groups, &n) == -1) {
		e->in_group = -1; /* more than we read: asked again */
		return 0;
	}
	e->group = gid;
	e->in_group = 0;
	for (i = 0; i < n && !e->in_group; i++)
		e->in_group = groups[i] == gid;
	return e->in_group;
}

size_t
users_lookups(const struct users *us)
{
	return us->lookups;
}

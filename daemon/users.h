/*
 * users: the passwd entries of the users who talk to llmctld, each kept
 * for USERS_TTL_S, with whether the user is in the admin group. Without it
 * a submit asked NSS (files, sssd, LDAP: a socket or a server away) twice
 * on the loop, for the job's user name and its home, and every request of
 * a user outside the admin gid once more, for the group list: 5% of the
 * loop's time per submit with /etc/passwd alone (tests/bench/
 * submit-bench.sh), and a stall of the loop for everyone when the
 * directory is slow. The daemon has one (llmctld.h), used on the loop
 * thread only. A user renamed, moved or taken out of the admin group is
 * seen at most USERS_TTL_S later (sssd's own cache keeps entries 90 min).
 */
#ifndef LLMCTLD_USERS_H
#define LLMCTLD_USERS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define USERS_TTL_S 60 /* how long an entry is believed */
#define USERS_MAX 4096 /* entries kept; past it the table starts again */

struct users;

struct user {
	uid_t uid;
	gid_t gid; /* primary */
	char *name;
	char *home;
};

struct users *users_create(void);
void users_free(struct users *);
/*
 * uid's entry as of at most USERS_TTL_S before now (mono seconds), valid
 * until the next call; NULL if NSS has none (not kept: asked again).
 */
const struct user *users_get(struct users *, uid_t, int64_t now);
/* Whether uid has group gid (getgrouplist), kept with its entry. */
int users_in_group(struct users *, uid_t, gid_t, int64_t now);
/* NSS lookups made so far (tests). */
size_t users_lookups(const struct users *);

#endif

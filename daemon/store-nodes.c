/*
 * store-nodes: the node health records (nodehealth.h) in the nodes and
 * node_failures tables, schema 10. The failure log is history and only
 * grows; the nodes row holds the state the rules act on.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "nodehealth.h"
#include "store-int.h"
#include "store.h"
#include "util.h"

#define NODE_COLUMNS \
	"name, score, score_at, quarantines, quarantined_until, " \
	"probation_until, drained, " \
	"(SELECT count(*) FROM node_failures f WHERE f.node = nodes.name)"

int
store_node_failure_log(struct store *st, const char *name, const char *cause,
    int64_t job_id, int attempt)
{
	sqlite3_stmt *stmt;

	stmt = store_prepare(st,
	    "INSERT INTO node_failures (node, at, cause, job_id, attempt) "
	    "VALUES (?, ?, ?, ?, ?)");
	if (stmt == NULL)
		return -1;
	bind_text(stmt, 1, name);
	sqlite3_bind_int64(stmt, 2, wall_s());
	bind_text(stmt, 3, cause);
	sqlite3_bind_int64(stmt, 4, job_id);
	sqlite3_bind_int(stmt, 5, attempt);
	return store_step_done(st, stmt);
}

/* The node's newest nfail failures into r->fail. */
static int
failures_of(struct store *st, struct node_record *r, size_t nfail)
{
	sqlite3_stmt *stmt;
	struct node_failure *f;

	stmt = store_prepare(st,
	    "SELECT f.at, f.cause, f.job_id, f.attempt, j.uid "
	    "FROM node_failures f LEFT JOIN jobs j ON j.id = f.job_id "
	    "WHERE f.node = ? ORDER BY f.id DESC LIMIT ?");
	if (stmt == NULL)
		return -1;
	bind_text(stmt, 1, r->name);
	sqlite3_bind_int64(stmt, 2, (sqlite3_int64)nfail);
	while (sqlite3_step(stmt) == SQLITE_ROW) {
		r->fail =
		    xreallocarray(r->fail, r->nfail + 1, sizeof(*r->fail));
		f = &r->fail[r->nfail++];
		f->at = sqlite3_column_int64(stmt, 0);
		f->cause = column_text(stmt, 1);
		f->job_id = sqlite3_column_int64(stmt, 2);
		f->attempt = sqlite3_column_int(stmt, 3);
		f->uid = (uid_t)sqlite3_column_int64(stmt, 4);
	}
	store_release(st, stmt);
	return 0;
}

static void
record_from_row(sqlite3_stmt *stmt, struct node_record *r)
{
	memset(r, 0, sizeof(*r));
	r->name = column_text(stmt, 0);
	r->score = sqlite3_column_double(stmt, 1);
	r->score_at = sqlite3_column_int64(stmt, 2);
	r->quarantines = sqlite3_column_int(stmt, 3);
	r->quarantined_until = sqlite3_column_int64(stmt, 4);
	r->probation_until = sqlite3_column_int64(stmt, 5);
	r->drained = sqlite3_column_int(stmt, 6);
	r->nfail_total = sqlite3_column_int64(stmt, 7);
}

int
store_node_get(
    struct store *st, const char *name, struct node_record *r, size_t nfail)
{
	sqlite3_stmt *stmt;
	int rc;

	stmt = store_prepare(
	    st, "SELECT " NODE_COLUMNS " FROM nodes WHERE name = ?");
	if (stmt == NULL)
		return -1;
	bind_text(stmt, 1, name);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		record_from_row(stmt, r);
	store_release(st, stmt);
	if (rc != SQLITE_ROW)
		return rc == SQLITE_DONE ? 1 : -1;
	return nfail > 0 ? failures_of(st, r, nfail) : 0;
}

int
store_node_put(struct store *st, const struct node_record *r)
{
	sqlite3_stmt *stmt;

	stmt = store_prepare(st,
	    "INSERT INTO nodes (name, score, score_at, quarantines, "
	    "quarantined_until, probation_until, drained) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT(name) DO UPDATE "
	    "SET score = ?2, score_at = ?3, quarantines = ?4, "
	    "quarantined_until = ?5, probation_until = ?6, drained = ?7");
	if (stmt == NULL)
		return -1;
	bind_text(stmt, 1, r->name);
	sqlite3_bind_double(stmt, 2, r->score);
	sqlite3_bind_int64(stmt, 3, r->score_at);
	sqlite3_bind_int(stmt, 4, r->quarantines);
	sqlite3_bind_int64(stmt, 5, r->quarantined_until);
	sqlite3_bind_int64(stmt, 6, r->probation_until);
	sqlite3_bind_int(stmt, 7, r->drained);
	return store_step_done(st, stmt);
}

struct node_record *
store_node_list(struct store *st, size_t nfail, size_t *n)
{
	sqlite3_stmt *stmt;
	struct node_record *v = NULL;

	*n = 0;
	stmt = store_prepare(
	    st, "SELECT " NODE_COLUMNS " FROM nodes ORDER BY name");
	if (stmt == NULL)
		return NULL;
	while (sqlite3_step(stmt) == SQLITE_ROW) {
		v = xreallocarray(v, *n + 1, sizeof(*v));
		record_from_row(stmt, &v[(*n)++]);
	}
	store_release(st, stmt);
	for (size_t i = 0; i < *n && nfail > 0; i++)
		(void)failures_of(st, &v[i], nfail);
	return v;
}

int
store_node_clear(struct store *st, const char *name)
{
	sqlite3_stmt *stmt;

	stmt = store_prepare(st,
	    "UPDATE nodes SET failures = 0, score = 0, quarantines = 0, "
	    "quarantined_until = 0, probation_until = 0, "
	    "drained = CASE WHEN drained = 0 THEN 0 ELSE 2 END "
	    "WHERE name = ?");
	if (stmt == NULL)
		return -1;
	bind_text(stmt, 1, name);
	if (store_step_done(st, stmt) != 0)
		return -1;
	return store_changes(st) > 0 ? 0 : 1;
}

char **
store_nodes_quarantined(struct store *st, int64_t now, size_t *n)
{
	sqlite3_stmt *stmt;
	char **v = NULL;

	*n = 0;
	stmt = store_prepare(st,
	    "SELECT name FROM nodes WHERE quarantined_until > ? ORDER BY name");
	if (stmt == NULL)
		return NULL;
	sqlite3_bind_int64(stmt, 1, now);
	while (sqlite3_step(stmt) == SQLITE_ROW) {
		v = xreallocarray(v, *n + 1, sizeof(*v));
		v[(*n)++] = column_text(stmt, 0);
	}
	store_release(st, stmt);
	return v;
}

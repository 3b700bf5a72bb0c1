/* nodehealth: the rules of a node's record; see nodehealth.h. */
#include "config.h"

#include <math.h>
#include <stdlib.h>

#include "conf.h"
#include "hostlist.h"
#include "nodehealth.h"
#include "store.h"
#include "util.h"

void
nodehealth_conf_from(struct nodehealth_conf *nc, const struct conf *c)
{
	nc->half_life_s = c->node_half_life_ms / 1000;
	nc->quarantine_score = c->node_quarantine_score;
	nc->quarantine_s = c->node_quarantine_ms / 1000;
	nc->quarantine_max_s = c->node_quarantine_max_ms / 1000;
	nc->probation_s = c->node_probation_ms / 1000;
	nc->drain_score = c->node_drain_score;
}

double
nodehealth_score(const struct node_record *r, int64_t now, int64_t hl)
{
	if (r->score <= 0 || hl <= 0 || now <= r->score_at)
		return r->score;
	return r->score * exp2(-(double)(now - r->score_at) / (double)hl);
}

enum node_health
nodehealth_state(const struct node_record *r, int64_t now)
{
	if (now < r->quarantined_until)
		return NODE_QUARANTINED;
	if (now < r->probation_until)
		return NODE_PROBATION;
	return NODE_OK;
}

const char *
nodehealth_state_name(enum node_health h)
{
	static const char *const names[] = {
		[NODE_OK] = "ok",
		[NODE_QUARANTINED] = "quarantined",
		[NODE_PROBATION] = "probation",
	};

	return names[h];
}

int64_t
nodehealth_until(const struct node_record *r, int64_t now)
{
	switch (nodehealth_state(r, now)) {
	case NODE_QUARANTINED:
		return r->quarantined_until;
	case NODE_PROBATION:
		return r->probation_until;
	case NODE_OK:
		break;
	}
	return 0;
}

int
nodehealth_fail(
    struct node_record *r, const struct nodehealth_conf *nc, int64_t now)
{
	enum node_health was = nodehealth_state(r, now);
	int64_t len = nc->quarantine_s;
	int k;

	r->score = nodehealth_score(r, now, nc->half_life_s) + 1;
	r->score_at = now;
	if (was == NODE_QUARANTINED)
		return 0; /* a job placed before: it counts, nothing more */
	if (was != NODE_PROBATION &&
	    (nc->quarantine_score <= 0 || r->score < nc->quarantine_score))
		return 0;
	for (k = 0; k < r->quarantines && len < nc->quarantine_max_s; k++)
		len *= 2;
	if (len > nc->quarantine_max_s)
		len = nc->quarantine_max_s;
	r->quarantines++;
	r->quarantined_until = now + len;
	r->probation_until = r->quarantined_until + nc->probation_s;
	return 1;
}

void
node_record_free(struct node_record *r)
{
	size_t i;

	if (r == NULL)
		return;
	free(r->name);
	for (i = 0; i < r->nfail; i++)
		free(r->fail[i].cause);
	free(r->fail);
}

void
node_record_list_free(struct node_record *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		node_record_free(&v[i]);
	free(v);
}

int
nodehealth_blame(struct store *st, const struct conf *c, const char *node,
    const char *cause, int64_t job_id, int attempt, int64_t *quarantined_s)
{
	struct nodehealth_conf nc;
	struct node_record r = { 0 };
	int64_t now = wall_s();
	int rc;

	*quarantined_s = 0;
	nodehealth_conf_from(&nc, c);
	if (store_node_failure_add(st, node) != 0 ||
	    store_node_failure_log(st, node, cause, job_id, attempt) != 0 ||
	    store_node_get(st, node, &r, 0) != 0)
		return -1;
	if (nodehealth_fail(&r, &nc, now))
		*quarantined_s = r.quarantined_until - now;
	rc = store_node_put(st, &r);
	node_record_free(&r);
	return rc;
}

/*
 * The attempt's blamed nodes: each a failure on its record and an event
 * for the job, and another when the failure quarantines the node.
 */
int
nodehealth_record_blame(
    struct store *st, const struct conf *c, const struct attempt *a)
{
	struct hostlist hl = { 0 };
	const char *cause =
	    a->cause != CAUSE_NONE ? attempt_cause_name(a->cause) : NULL;
	int64_t q;
	size_t i;
	int rc = 0;

	/* a list that does not parse blames no one, as before */
	if (a->blamed == NULL || hostlist_expand(&hl, a->blamed, NULL) != 0) {
		hostlist_clear(&hl);
		return 0;
	}
	for (i = 0; i < hl.n && rc == 0; i++) {
		rc |= nodehealth_blame(
		    st, c, hl.names[i], cause, a->job_id, a->attempt, &q);
		rc |= store_event_add(st, a->job_id, "node_blamed",
		    "node %s blamed for attempt %d (%s); later attempts "
		    "avoid it",
		    hl.names[i], a->attempt, cause != NULL ? cause : "?");
		if (rc == 0 && q > 0)
			rc |= store_event_add(st, a->job_id, "node_quarantined",
			    "node %s quarantined for %llds after failures "
			    "in this and other jobs; no job is placed on "
			    "it until then",
			    hl.names[i], (long long)q);
	}
	hostlist_clear(&hl);
	return rc;
}

/*
 * monitor-straggler: ranks that keep stepping slower than their peers
 * (docs/design.md section 8, "Stragglers"). health.c judges the rates;
 * here each change becomes an event in the job's history, named by rank
 * and node, and the metric moves. Nothing is ended: a straggler slows a
 * job, it does not break it.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "conf.h"
#include "health.h"
#include "llmctld.h"
#include "log.h"
#include "metrics.h"
#include "monitor-int.h"
#include "monitor.h"
#include "store.h"
#include "util.h"

/* The rank's node in the attempt's plan; "?" when there is none. */
const char *
monitor_rank_node(const json_t *plan, int rank)
{
	const json_t *r = json_array_get(json_object_get(plan, "ranks"), rank);
	const char *node = json_string_value(json_object_get(r, "node"));

	return node != NULL ? node : "?";
}

/* Check one running attempt's ranks; record what changed. */
void
straggler_check(struct monitor *m, const struct attempt *a)
{
	const struct conf *c = m->d->conf;
	struct straggler *ch;
	json_t *plan;
	size_t n, i;

	n = health_stragglers_check(m->d->health, a->token_hash, mono_ms(),
	    c->straggler_window_ms, c->straggler_factor, &ch);
	if (n == 0)
		return;
	plan = a->plan != NULL ? json_loads(a->plan, 0, NULL) : NULL;
	for (i = 0; i < n; i++) {
		const char *node = monitor_rank_node(plan, ch[i].rank);

		metrics_straggler(ch[i].flagged);
		/* history, not a transition: a failed write is only logged */
		if (ch[i].flagged)
			(void)store_event_add(m->d->store, a->job_id,
			    "straggler",
			    "attempt %d: rank %d on %s is a straggler: "
			    "%.1fx slower than its peers (%.2f s per step, "
			    "median %.2f s) for %llds",
			    a->attempt, ch[i].rank, node, ch[i].ratio,
			    ch[i].sps, ch[i].peer_sps,
			    (long long)(c->straggler_window_ms / 1000));
		else
			(void)store_event_add(m->d->store, a->job_id,
			    "straggler_cleared",
			    "attempt %d: rank %d on %s keeps pace again "
			    "(%.1fx its peers)",
			    a->attempt, ch[i].rank, node, ch[i].ratio);
		log_job(a->job_id, "attempt %d: rank %d on %s %s (%.1fx)",
		    a->attempt, ch[i].rank, node,
		    ch[i].flagged ? "is a straggler" : "keeps pace again",
		    ch[i].ratio);
	}
	json_decref(plan);
	free(ch);
}

/* The attempt ends: its flagged ranks leave the gauge. */
void
straggler_forget(struct monitor *m, const struct attempt *a)
{
	struct straggler *s;
	size_t n, i;

	n = health_stragglers(m->d->health, a->token_hash, &s);
	for (i = 0; i < n; i++)
		metrics_straggler(0);
	free(s);
}

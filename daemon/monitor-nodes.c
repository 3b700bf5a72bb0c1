/*
 * monitor-nodes: the admin's opt-in (node_drain_score in llmctld.conf) to
 * drain in Slurm a node whose score passes the threshold, with a reason
 * saying why, and to resume it once cleared (`llmctl nodes clear`). One
 * OP_NODE at a time, on the worker thread; what was done is kept in the
 * node's record (enum node_drain), so a restart neither drains twice nor
 * forgets a resume.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "llmctld.h"
#include "log.h"
#include "monitor-int.h"
#include "nodehealth.h"
#include "store.h"
#include "util.h"
#include "worker.h"

static void
node_done(struct op *op, void *arg)
{
	struct monitor *m = arg;
	struct node_record r = { 0 };
	const char *name = op->u.node.name;
	int drain = op->u.node.reason != NULL;

	m->node_op = 0;
	if (op->rc != 0) {
		log_warnx("node %s: cannot %s it in Slurm: %s; trying again "
		          "on the next poll",
		    name, drain ? "drain" : "resume", op->cause);
		return;
	}
	log_info("node %s %s in Slurm%s%s", name, drain ? "drained" : "resumed",
	    drain ? ": " : "", drain ? op->u.node.reason : "");
	if (store_node_get(m->d->store, name, &r, 0) == 0) {
		/* a clear since the drain was sent: resume it next */
		if (!(drain && r.drained == NODE_RESUMING))
			r.drained = drain ? NODE_DRAINED : NODE_UNDRAINED;
		(void)store_node_put(m->d->store, &r);
	}
	node_record_free(&r);
}

/* The reason Slurm shows: why, and how to undo it. */
static char *
drain_reason(const struct node_record *r, double score)
{
	return xasprintf("llmctl: health score %.1f after %lld failures; "
	                 "llmctl nodes clear %s resumes it",
	    score, (long long)r->nfail_total, r->name);
}

void
nodes_tick(struct monitor *m)
{
	const struct conf *c = m->d->conf;
	struct node_record *v;
	int64_t now = wall_s();
	char *reason;
	double score;
	size_t n, i;

	if (m->node_op)
		return;
	v = store_node_list(m->d->store, 0, &n);
	for (i = 0; i < n && !m->node_op; i++) {
		score =
		    nodehealth_score(&v[i], now, c->node_half_life_ms / 1000);
		if (v[i].drained == NODE_RESUMING) {
			m->node_op = 1;
			worker_push(m->d->worker,
			    worker_node(v[i].name, NULL, node_done, m));
		} else if (v[i].drained == NODE_UNDRAINED &&
		    c->node_drain_score > 0 && score >= c->node_drain_score) {
			reason = drain_reason(&v[i], score);
			m->node_op = 1;
			worker_push(m->d->worker,
			    worker_node(v[i].name, reason, node_done, m));
			free(reason);
		}
	}
	node_record_list_free(v, n);
}

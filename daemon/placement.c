/* placement: plan an attempt on a snapshot; see placement.h. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "log.h"
#include "placement.h"
#include "util.h"

void
placement_hold_add(
    struct hold **v, size_t *n, const char *tag, const char *node, int gpus)
{
	struct hold *h;

	*v = xreallocarray(*v, *n + 1, sizeof(**v));
	h = &(*v)[(*n)++];
	h->tag = xstrdup(tag);
	h->node = xstrdup(node);
	h->gpus = gpus;
}

static void
hold_clear(struct hold *h)
{
	free(h->tag);
	free(h->node);
}

/* Take h's GPUs off its node in t, the lowest free ones first. */
static void
hold_apply(struct topo *t, const struct hold *h, const char *own)
{
	int i, g;
	uint64_t *free_gpus;

	if (own != NULL && strcmp(h->tag, own) == 0)
		return;
	if ((i = topo_find_node(t, h->node)) < 0)
		return;
	free_gpus = &t->nodes[i].free_gpus;
	for (g = 0; g < h->gpus && *free_gpus != 0; g++)
		*free_gpus &= *free_gpus - 1;
}

/*
 * The live topology as the planner is to see it: a copy of its nodes with
 * the GPUs our held attempts will take marked busy. NULL: no holds, use
 * the live one as it is.
 */
static struct topo *
placement_view(struct placement *pl, const struct bcluster *cl)
{
	struct topo *t;
	size_t i;

	if (pl->nheld == 0)
		return NULL;
	t = xmalloc(sizeof(*t));
	*t = *cl->live;
	t->nodes = xreallocarray(NULL, t->nnodes, sizeof(*t->nodes));
	memcpy(t->nodes, cl->live->nodes, t->nnodes * sizeof(*t->nodes));
	for (i = 0; i < pl->nheld; i++)
		hold_apply(t, &pl->held[i], pl->tag);
	return t;
}

/*
 * The request with more nodes excluded: after a re-plan (with_avoid) the
 * last nodes, and (with_quarantined) the quarantined ones.
 */
static struct plan *
plan_excluding(const struct placement *pl, const struct topo *t, int with_avoid,
    int with_quarantined, char **cause)
{
	struct plan_request req = pl->req;
	struct plan *plan;
	const char **names;
	size_t i, n = 0;

	names = xcalloc(pl->req.nexclude + pl->navoid + pl->nquarantined + 1,
	    sizeof(*names));
	for (i = 0; i < pl->req.nexclude; i++)
		names[n++] = pl->req.exclude[i];
	for (i = 0; with_avoid && i < pl->navoid; i++)
		names[n++] = pl->avoid[i];
	for (i = 0; with_quarantined && i < pl->nquarantined; i++)
		names[n++] = pl->quarantined[i];
	req.exclude = names;
	req.nexclude = n;
	plan = plan_make(t, &req, cause);
	free(names);
	return plan;
}

/* A node the job may run on: not excluded (nor avoided), GPUs enough. */
static int
candidate(const struct placement *pl, const struct topo_node *n, int avoid)
{
	const struct plan_request *r = &pl->req;
	size_t i;

	if (n->gpus < r->gpus_per_node ||
	    (r->gpu_type != NULL &&
	        (n->gpu_type == NULL || strcmp(n->gpu_type, r->gpu_type) != 0)))
		return 0;
	for (i = 0; i < r->nexclude; i++)
		if (strcmp(r->exclude[i], n->name) == 0)
			return 0;
	for (i = 0; avoid && i < pl->navoid; i++)
		if (strcmp(pl->avoid[i], n->name) == 0)
			return 0;
	for (i = 0; i < pl->nquarantined; i++)
		if (strcmp(pl->quarantined[i], n->name) == 0)
			return 0;
	return 1;
}

/* Print the candidates under switch sw, leaf by leaf in tree order. */
static void
tree_order(const struct placement *pl, const struct topo *t, int sw, int avoid,
    FILE *f, int *any)
{
	const struct topo_switch *s = &t->switches[sw];
	size_t i;
	int k, in_leaf = 0;

	for (i = 0; i < s->nchildren; i++)
		tree_order(pl, t, s->children[i], avoid, f, any);
	for (i = 0; i < s->nnodes; i++) {
		k = s->nodes[i];
		if (!candidate(pl, &t->nodes[k], avoid))
			continue;
		fprintf(f, "%s%s",
		    in_leaf    ? ","
		        : *any ? " "
		               : "",
		    t->nodes[k].name);
		in_leaf = *any = 1;
	}
}

/* A memory stream's text, NULL when empty. */
static char *
stream_text(FILE *f, char **buf, size_t *len)
{
	fclose(f);
	if (*len > 0)
		return *buf;
	free(*buf);
	return NULL;
}

/*
 * Hand the job to Slurm: as few leaf switches as ideal spans (pack only),
 * its candidates in tree order for the launch's rank order, the rest
 * excluded. avoid: the re-plan's nodes are left out as well.
 */
static void
placement_to_slurm(struct placement *pl, const struct topo *t,
    const struct plan *ideal, int avoid)
{
	char *obuf = NULL, *ebuf = NULL;
	size_t olen = 0, elen = 0, i;
	FILE *of, *ef;
	int any = 0;

	pl->to_slurm = 1;
	pl->switches =
	    pl->req.policy == POLICY_PACK ? ideal->switches_per_level[0] : 0;
	if ((of = open_memstream(&obuf, &olen)) == NULL ||
	    (ef = open_memstream(&ebuf, &elen)) == NULL)
		fatal("open_memstream");
	tree_order(pl, t, t->root, avoid, of, &any);
	any = 0;
	for (i = 0; i < t->nnodes; i++) {
		if (candidate(pl, &t->nodes[i], avoid))
			continue;
		fprintf(ef, "%s%s", any ? "," : "", t->nodes[i].name);
		any = 1;
	}
	pl->order = stream_text(of, &obuf, &olen);
	pl->exclude = stream_text(ef, &ebuf, &elen);
}

/* Does the live plan span more than the idle cluster's best? */
static int
plan_worse(const struct plan *live, const struct plan *ideal)
{
	return live->levels_spanned > ideal->levels_spanned ||
	    live->switches_per_level[0] > ideal->switches_per_level[0];
}

/*
 * Pin nodes only when they are free now and as good as the best the idle
 * cluster has, and no job of ours waits in Slurm's queue (Slurm's
 * scheduler starts nothing behind it before its backfill, pinned or not,
 * and a pinned job is cancelled after replan_after); otherwise, and always
 * on a re-plan (Slurm did not start the pinned job on nodes that looked
 * free: it keeps them for others), Slurm places the job, waiting in its
 * queue for that many leaf switches, away from the old nodes if the idle
 * cluster fits without them. A request that does not fit the idle
 * cluster never fits.
 */
int
placement_run(struct placement *pl, const struct bcluster *cl, char **cause,
    int *transient)
{
	struct topo *view = placement_view(pl, cl);
	const struct topo *live = view != NULL ? view : cl->live;
	struct plan *ideal = NULL, *q = NULL;
	char *why = NULL;
	int avoid = 0;

	pl->never = 0;
	*transient = 0;
	/* a re-plan: Slurm kept its pinned nodes for others; it decides */
	if (pl->navoid == 0 || pl->req.spares > 0)
		pl->plan = plan_excluding(pl, live, 0, 1, cause);
	if (view != NULL) {
		free(view->nodes);
		free(view);
	}
	if (pl->navoid > 0 &&
	    (ideal = plan_excluding(pl, cl->ideal, 1, 0, NULL)) != NULL)
		avoid = 1;
	else
		ideal = plan_make(cl->ideal, &pl->req, &why);
	if (ideal == NULL) {
		plan_free(pl->plan);
		pl->plan = NULL;
		pl->never = 1;
		free(*cause);
		*cause = why;
		return -1;
	}
	free(why);
	/*
	 * Spares: which nodes are the spares is llmctl's to know (the batch
	 * script gets them by name), so the job is pinned on free nodes or
	 * waits here for them; it is never handed to Slurm to place.
	 */
	if (pl->req.spares > 0) {
		plan_free(ideal);
		if (pl->plan != NULL)
			return 0;
		*transient = 1;
		return -1;
	}
	/*
	 * Slurm never gets a quarantined node: a job that needs one waits
	 * here until its quarantine ends, planned again on each change.
	 */
	if (pl->plan == NULL && pl->nquarantined > 0 &&
	    (q = plan_excluding(pl, cl->ideal, avoid, 1, NULL)) == NULL) {
		plan_free(ideal);
		*transient = 1;
		if (*cause == NULL)
			*cause = xstrdup("the nodes it needs are quarantined");
		return -1;
	}
	plan_free(q);
	if (pl->plan == NULL && pl->navoid == 0)
		*transient = 1;
	else if (pl->plan != NULL &&
	    (pl->queued > 0 || pl->waiting > 0 ||
	        (pl->req.policy == POLICY_PACK &&
	            plan_worse(pl->plan, ideal)))) {
		plan_free(pl->plan);
		pl->plan = NULL;
	}
	if (pl->plan == NULL)
		placement_to_slurm(pl, cl->ideal, ideal, avoid);
	plan_free(ideal);
	return 0;
}

void
placement_clear(struct placement *pl)
{
	size_t i;

	plan_free(pl->plan);
	pl->plan = NULL;
	free(pl->order);
	free(pl->exclude);
	pl->order = pl->exclude = NULL;
	pl->to_slurm = 0;
	for (i = 0; i < pl->nheld; i++)
		hold_clear(&pl->held[i]);
	free(pl->held);
	pl->held = NULL;
	pl->nheld = 0;
}

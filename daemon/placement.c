/* placement: plan an attempt on a snapshot; see placement.h. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "backend.h"
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
 * The live request: without the quarantined nodes and, after a re-plan
 * (with_avoid), without the last nodes as well.
 */
static struct plan *
plan_live(const struct placement *pl, const struct topo *live, int with_avoid,
    char **cause)
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
	for (i = 0; i < pl->nquarantined; i++)
		names[n++] = pl->quarantined[i];
	req.exclude = names;
	req.nexclude = n;
	plan = plan_make(live, &req, cause);
	free(names);
	return plan;
}

/*
 * A request that fails only because nodes are busy waits; one that fails
 * on the same cluster with every node idle never fits.
 */
int
placement_run(struct placement *pl, const struct bcluster *cl, char **cause,
    int *transient)
{
	struct topo *view = placement_view(pl, cl);
	const struct topo *live = view != NULL ? view : cl->live;
	struct plan *ideal;
	char *why = NULL;

	pl->never = 0;
	if (pl->navoid > 0)
		pl->plan = plan_live(pl, live, 1, NULL);
	if (pl->plan == NULL)
		pl->plan = plan_live(pl, live, 0, cause);
	if (view != NULL) {
		free(view->nodes);
		free(view);
	}
	if (pl->plan != NULL)
		return 0;
	*transient = 1;
	ideal = plan_make(cl->ideal, &pl->req, &why);
	if (ideal == NULL) {
		pl->never = 1;
		*transient = 0;
		free(*cause);
		*cause = why;
	} else {
		plan_free(ideal);
		free(why);
	}
	return -1;
}

void
placement_clear(struct placement *pl)
{
	size_t i;

	plan_free(pl->plan);
	pl->plan = NULL;
	for (i = 0; i < pl->nheld; i++)
		hold_clear(&pl->held[i]);
	free(pl->held);
	pl->held = NULL;
	pl->nheld = 0;
}

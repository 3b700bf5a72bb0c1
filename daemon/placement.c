/* placement: plan an attempt on a snapshot; see placement.h. */
#include "config.h"

#include <stdlib.h>

#include "backend.h"
#include "placement.h"
#include "util.h"

/* After a re-plan: the request with the last nodes excluded as well. */
static struct plan *
plan_avoiding(const struct placement *pl, const struct bcluster *cl)
{
	struct plan_request req = pl->req;
	struct plan *plan;
	const char **names;
	size_t i;

	names = xcalloc(pl->req.nexclude + pl->navoid, sizeof(*names));
	for (i = 0; i < pl->req.nexclude; i++)
		names[i] = pl->req.exclude[i];
	for (i = 0; i < pl->navoid; i++)
		names[pl->req.nexclude + i] = pl->avoid[i];
	req.exclude = names;
	req.nexclude = pl->req.nexclude + pl->navoid;
	plan = plan_make(cl->live, &req, NULL);
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
	struct plan *ideal;
	char *why = NULL;

	pl->never = 0;
	if (pl->navoid > 0 && (pl->plan = plan_avoiding(pl, cl)) != NULL)
		return 0;
	if ((pl->plan = plan_make(cl->live, &pl->req, cause)) != NULL)
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
	plan_free(pl->plan);
	pl->plan = NULL;
}

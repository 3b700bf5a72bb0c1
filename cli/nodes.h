/* nodes: the parts of `llmctl nodes` in cmd-nodes-health.c. */
#ifndef LLMCTL_NODES_H
#define LLMCTL_NODES_H

#include <jansson.h>

#include "output.h"

struct llmctl;

/* The health records of GET /v1/nodes, a table (none: nothing). */
void nodes_health_print(const json_t *health);
/* POST /v1/nodes/NODE/clear; a CMD_* status. */
int nodes_clear(struct llmctl *, const char *node, enum output_format);

#endif

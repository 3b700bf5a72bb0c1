/*
 * topo-yaml: cluster snapshot files, version 1, as `llmctl nodes -o yaml`
 * writes them and `llmctl plan --cluster FILE` reads them:
 *
 *   version: 1
 *   switches:
 *     - { name: spine0, switches: [leaf0, leaf1] }
 *     - { name: leaf0, nodes: "gpu[001-032]" }
 *   nodes:              # each entry applies to every node named; later
 *     - { names: "gpu[001-064]", gpus: 8 }          # entries override
 *     - { names: "gpu021", free: [4, 5], nvlink_domain: 3, failures: 2 }
 *
 * Node keys: names, gpus, free (GPU indices), free_gpus (a count: GPUs 0 to
 * N-1 are free), gpu_type, state, nvlink_domain, failures. Without free or
 * free_gpus every GPU is free unless the node is allocated. Errors are
 * collected, each "FILE:LINE:COL: path: message". topo-emit.c writes the
 * same format.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "hostlist.h"
#include "topo.h"
#include "util.h"

#define TOPO_YAML_MAX_ERRORS 20

struct ynode {
	char *name;
	int gpus;
	uint64_t free_gpus;
	int free_set;
	char *gpu_type;
	enum topo_state state;
	int domain;
	int failures;
	yaml_mark_t free_mark;
};

struct yparse {
	const char *file;
	yaml_document_t doc;
	char *errors;
	int nerrors;
	struct ynode *nodes;
	size_t nnodes;
	int *hash; /* open addressing: index + 1 */
	size_t hsize; /* a power of two */
};

static void yerr(struct yparse *, const yaml_node_t *, const char *,
    const char *, ...) __attribute__((format(printf, 4, 5)));
static void yerr_mark(struct yparse *, const yaml_mark_t *, const char *,
    const char *, ...) __attribute__((format(printf, 4, 5)));
static int yint(
    struct yparse *, yaml_node_t *, const char *, long, long, long *);
static struct ynode *ynode_get(struct yparse *, const char *, int);
static void yswitch(struct yparse *, struct topo *, yaml_node_t *, size_t);
static void ynodes(struct yparse *, yaml_node_t *, size_t);

static const char *switch_keys[] = { "name", "switches", "nodes", NULL };
static const char *node_keys[] = { "names", "gpus", "free", "free_gpus",
	"gpu_type", "state", "nvlink_domain", "failures", NULL };

static void
yerr_v(struct yparse *y, const yaml_mark_t *m, const char *path,
    const char *fmt, va_list ap)
{
	char *msg, *line, *all;

	if (y->nerrors++ >= TOPO_YAML_MAX_ERRORS)
		return;
	msg = xvasprintf(fmt, ap);
	if (m != NULL)
		line = xasprintf("%s:%zu:%zu: %s%s%s", y->file, m->line + 1,
		    m->column + 1, path, *path != '\0' ? ": " : "", msg);
	else
		line = xasprintf("%s: %s%s%s", y->file, path,
		    *path != '\0' ? ": " : "", msg);
	if (y->errors == NULL)
		all = xstrdup(line);
	else
		all = xasprintf("%s\n%s", y->errors, line);
	free(y->errors);
	free(line);
	free(msg);
	y->errors = all;
}

static void
yerr(struct yparse *y, const yaml_node_t *at, const char *path, const char *fmt,
    ...)
{
	va_list ap;

	va_start(ap, fmt);
	yerr_v(y, at != NULL ? &at->start_mark : NULL, path, fmt, ap);
	va_end(ap);
}

static void
yerr_mark(struct yparse *y, const yaml_mark_t *m, const char *path,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	yerr_v(y, m, path, fmt, ap);
	va_end(ap);
}

static const char *
yscalar(yaml_node_t *n)
{
	if (n == NULL || n->type != YAML_SCALAR_NODE)
		return NULL;
	return (const char *)n->data.scalar.value;
}

static int
yint(struct yparse *y, yaml_node_t *n, const char *path, long lo, long hi,
    long *out)
{
	const char *s = yscalar(n);
	char *end;
	long v;

	if (s == NULL || *s == '\0') {
		yerr(y, n, path, "expected an integer");
		return -1;
	}
	errno = 0;
	v = strtol(s, &end, 10);
	if (*end != '\0' || errno != 0 || v < lo || v > hi) {
		yerr(y, n, path,
		    "expected an integer from %ld to %ld, got "
		    "\"%s\"",
		    lo, hi, s);
		return -1;
	}
	*out = v;
	return 0;
}

/* Levenshtein distance, for "did you mean". */
static size_t
distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j, d[64], prev, tmp;

	if (lb >= nitems(d))
		return lb;
	for (j = 0; j <= lb; j++)
		d[j] = j;
	for (i = 1; i <= la; i++) {
		prev = d[0];
		d[0] = i;
		for (j = 1; j <= lb; j++) {
			tmp = d[j];
			d[j] = a[i - 1] == b[j - 1] ? prev
			                            : 1 +
			        (prev < d[j]
			                ? (prev < d[j - 1] ? prev : d[j - 1])
			                : (d[j] < d[j - 1] ? d[j] : d[j - 1]));
			prev = tmp;
		}
	}
	return d[lb];
}

/* Check the keys of a mapping; errors for unknown and repeated ones. */
static int
ykeys(struct yparse *y, yaml_node_t *map, const char *path, const char **known)
{
	yaml_node_pair_t *p, *q;
	const char *k, *best;
	size_t i, d, bestd;
	int rc = 0;

	for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
	     p++) {
		k = yscalar(yaml_document_get_node(&y->doc, p->key));
		if (k == NULL) {
			yerr(y, yaml_document_get_node(&y->doc, p->key), path,
			    "keys must be plain strings");
			rc = -1;
			continue;
		}
		for (q = map->data.mapping.pairs.start; q < p; q++)
			if (strcmp(k,
			        yscalar(yaml_document_get_node(&y->doc, q->key))
			            ?: "") == 0) {
				yerr(y, yaml_document_get_node(&y->doc, p->key),
				    path, "duplicate key \"%s\"", k);
				rc = -1;
			}
		for (i = 0, best = NULL, bestd = 3; known[i] != NULL; i++) {
			if (strcmp(k, known[i]) == 0)
				break;
			if ((d = distance(k, known[i])) < bestd) {
				bestd = d;
				best = known[i];
			}
		}
		if (known[i] == NULL) {
			if (best != NULL)
				yerr(y, yaml_document_get_node(&y->doc, p->key),
				    path,
				    "unknown key \"%s\" (did you mean "
				    "%s?)",
				    k, best);
			else
				yerr(y, yaml_document_get_node(&y->doc, p->key),
				    path, "unknown key \"%s\"", k);
			rc = -1;
		}
	}
	return rc;
}

static yaml_node_t *
yget(struct yparse *y, yaml_node_t *map, const char *key)
{
	yaml_node_pair_t *p;
	const char *k;

	for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
	     p++) {
		k = yscalar(yaml_document_get_node(&y->doc, p->key));
		if (k != NULL && strcmp(k, key) == 0)
			return yaml_document_get_node(&y->doc, p->value);
	}
	return NULL;
}

/* A hostlist given as a string or as a list of strings, joined by ','. */
static char *
ylist(struct yparse *y, yaml_node_t *n, const char *path)
{
	yaml_node_item_t *it;
	const char *s;
	char *all = NULL, *tmp;

	if (yscalar(n) != NULL && *yscalar(n) != '\0')
		return xstrdup(yscalar(n));
	if (n == NULL || n->type != YAML_SEQUENCE_NODE ||
	    n->data.sequence.items.start == n->data.sequence.items.top) {
		yerr(y, n, path, "expected a name list");
		return NULL;
	}
	for (it = n->data.sequence.items.start; it < n->data.sequence.items.top;
	     it++) {
		if ((s = yscalar(yaml_document_get_node(&y->doc, *it))) ==
		        NULL ||
		    *s == '\0') {
			yerr(y, yaml_document_get_node(&y->doc, *it), path,
			    "expected a name");
			free(all);
			return NULL;
		}
		tmp = all == NULL ? xstrdup(s) : xasprintf("%s,%s", all, s);
		free(all);
		all = tmp;
	}
	return all;
}

static void
yswitch(struct yparse *y, struct topo *t, yaml_node_t *n, size_t i)
{
	char path[64], *kids = NULL, *nodes = NULL, *cause = NULL;
	struct hostlist hl = { 0 };
	yaml_node_t *name, *sw, *nd;
	size_t x;

	snprintf(path, sizeof(path), "switches[%zu]", i);
	if (n->type != YAML_MAPPING_NODE) {
		yerr(y, n, path, "expected a mapping");
		return;
	}
	if (ykeys(y, n, path, switch_keys) != 0)
		return;
	name = yget(y, n, "name");
	sw = yget(y, n, "switches");
	nd = yget(y, n, "nodes");
	if (yscalar(name) == NULL || *yscalar(name) == '\0') {
		yerr(y, name != NULL ? name : n, path, "needs a name");
		return;
	}
	if ((sw == NULL) == (nd == NULL)) {
		yerr(y, n, path, "needs exactly one of switches and nodes");
		return;
	}
	if (sw != NULL && (kids = ylist(y, sw, path)) == NULL)
		return;
	if (nd != NULL && (nodes = ylist(y, nd, path)) == NULL)
		return;
	if (nodes != NULL && hostlist_expand(&hl, nodes, &cause) == 0) {
		for (x = 0; x < hl.n; x++)
			if (ynode_get(y, hl.names[x], 0) == NULL) {
				yerr(y, nd, path, "node %s is not in nodes",
				    hl.names[x]);
				break;
			}
	} else if (nodes != NULL) {
		yerr(y, nd, path, "%s", cause);
		free(cause);
		cause = NULL;
	}
	if (topo_add_switch(t, yscalar(name), kids, nodes, &cause) != 0) {
		yerr(y, name, path, "%s", cause);
		free(cause);
	}
	hostlist_clear(&hl);
	free(kids);
	free(nodes);
}

static uint64_t
hash_name(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	while (*s != '\0')
		h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
	return h;
}

/* The node called name; with add, made if it is new. */
static struct ynode *
ynode_get(struct yparse *y, const char *name, int add)
{
	struct ynode *yn;
	size_t h, i;

	if (y->nnodes * 2 >= y->hsize) {
		free(y->hash);
		y->hsize = y->hsize == 0 ? 1024 : y->hsize * 2;
		y->hash = xcalloc(y->hsize, sizeof(*y->hash));
		for (i = 0; i < y->nnodes; i++) {
			h = hash_name(y->nodes[i].name) & (y->hsize - 1);
			while (y->hash[h] != 0)
				h = (h + 1) & (y->hsize - 1);
			y->hash[h] = (int)i + 1;
		}
	}
	h = hash_name(name) & (y->hsize - 1);
	for (; y->hash[h] != 0; h = (h + 1) & (y->hsize - 1))
		if (strcmp(y->nodes[y->hash[h] - 1].name, name) == 0)
			return &y->nodes[y->hash[h] - 1];
	if (!add)
		return NULL;
	y->nodes = xreallocarray(y->nodes, y->nnodes + 1, sizeof(*y->nodes));
	yn = &y->nodes[y->nnodes++];
	memset(yn, 0, sizeof(*yn));
	yn->name = xstrdup(name);
	yn->domain = -1;
	y->hash[h] = (int)y->nnodes;
	return yn;
}

/* What one nodes entry says, parsed once and applied to every name. */
struct ypatch {
	int has_gpus, gpus;
	int has_free;
	uint64_t free_gpus;
	yaml_mark_t free_mark;
	const char *gpu_type;
	int has_state;
	enum topo_state state;
	int has_domain, domain;
	int has_failures, failures;
};

static void
ypatch_parse(struct yparse *y, yaml_node_t *e, const char *p, struct ypatch *pt)
{
	yaml_node_t *v;
	yaml_node_item_t *it;
	long x;

	memset(pt, 0, sizeof(*pt));
	if ((v = yget(y, e, "gpus")) != NULL &&
	    yint(y, v, p, 0, TOPO_MAX_GPUS, &x) == 0) {
		pt->has_gpus = 1;
		pt->gpus = (int)x;
	}
	if ((v = yget(y, e, "free_gpus")) != NULL &&
	    yint(y, v, p, 0, TOPO_MAX_GPUS, &x) == 0) {
		pt->free_gpus = x == 64 ? ~(uint64_t)0 : ((uint64_t)1 << x) - 1;
		pt->has_free = 1;
		pt->free_mark = v->start_mark;
	}
	if ((v = yget(y, e, "free")) != NULL) {
		if (v->type != YAML_SEQUENCE_NODE)
			yerr(y, v, p, "free: expected a list of GPU indices");
		else {
			pt->has_free = 1;
			pt->free_mark = v->start_mark;
			for (it = v->data.sequence.items.start;
			     it < v->data.sequence.items.top; it++)
				if (yint(y,
				        yaml_document_get_node(&y->doc, *it), p,
				        0, TOPO_MAX_GPUS - 1, &x) == 0)
					pt->free_gpus |= (uint64_t)1 << x;
		}
	}
	if ((v = yget(y, e, "gpu_type")) != NULL &&
	    (pt->gpu_type = yscalar(v)) == NULL)
		yerr(y, v, p, "gpu_type: expected a string");
	if ((v = yget(y, e, "state")) != NULL) {
		pt->has_state = 1;
		if (yscalar(v) == NULL ||
		    topo_state_from_name(yscalar(v), &pt->state) != 0)
			yerr(y, v, p,
			    "unknown state \"%s\" (idle, mixed, "
			    "allocated, down, drain, powered-down)",
			    yscalar(v) != NULL ? yscalar(v) : "");
	}
	if ((v = yget(y, e, "nvlink_domain")) != NULL &&
	    yint(y, v, p, -1, 1000000000, &x) == 0) {
		pt->has_domain = 1;
		pt->domain = (int)x;
	}
	if ((v = yget(y, e, "failures")) != NULL &&
	    yint(y, v, p, 0, 1000000000, &x) == 0) {
		pt->has_failures = 1;
		pt->failures = (int)x;
	}
}

static void
ypatch_apply(const struct ypatch *pt, struct ynode *yn)
{
	if (pt->has_gpus)
		yn->gpus = pt->gpus;
	if (pt->has_free) {
		yn->free_set = 1;
		yn->free_gpus = pt->free_gpus;
		yn->free_mark = pt->free_mark;
	}
	if (pt->gpu_type != NULL) {
		free(yn->gpu_type);
		yn->gpu_type = xstrdup(pt->gpu_type);
	}
	if (pt->has_state)
		yn->state = pt->state;
	if (pt->has_domain)
		yn->domain = pt->domain;
	if (pt->has_failures)
		yn->failures = pt->failures;
}

static void
ynodes(struct yparse *y, yaml_node_t *e, size_t i)
{
	struct hostlist hl = { 0 };
	char path[64], *names, *cause = NULL;
	struct ypatch pt;
	yaml_node_t *v;
	size_t x;

	snprintf(path, sizeof(path), "nodes[%zu]", i);
	if (e->type != YAML_MAPPING_NODE) {
		yerr(y, e, path, "expected a mapping");
		return;
	}
	if (ykeys(y, e, path, node_keys) != 0)
		return;
	if ((v = yget(y, e, "names")) == NULL) {
		yerr(y, e, path, "needs names");
		return;
	}
	if ((names = ylist(y, v, path)) == NULL)
		return;
	if (hostlist_expand(&hl, names, &cause) != 0) {
		yerr(y, v, path, "%s", cause);
		free(cause);
		free(names);
		return;
	}
	ypatch_parse(y, e, path, &pt);
	for (x = 0; x < hl.n; x++)
		ypatch_apply(&pt, ynode_get(y, hl.names[x], 1));
	hostlist_clear(&hl);
	free(names);
}

static void
yparse_free(struct yparse *y)
{
	size_t i;

	for (i = 0; i < y->nnodes; i++) {
		free(y->nodes[i].name);
		free(y->nodes[i].gpu_type);
	}
	free(y->nodes);
	free(y->hash);
}

/* The nodes, then the switches over them, into t. */
static void
ytop(struct yparse *y, struct topo *t, yaml_node_t *root)
{
	static const char *top_keys[] = { "version", "switches", "nodes",
		NULL };
	struct topo_node_info info;
	yaml_node_t *v, *sw, *nd;
	yaml_node_item_t *it;
	struct ynode *yn;
	char *cause = NULL;
	uint64_t all;
	size_t i;
	long ver;

	if (root == NULL || root->type != YAML_MAPPING_NODE) {
		yerr(y, root, "",
		    "expected a mapping with version, switches "
		    "and nodes");
		return;
	}
	if (ykeys(y, root, "", top_keys) != 0)
		return;
	if ((v = yget(y, root, "version")) == NULL)
		yerr(y, root, "version", "missing (this reader knows 1)");
	else if (yint(y, v, "version", 1, 1, &ver) != 0)
		return;
	if ((nd = yget(y, root, "nodes")) == NULL ||
	    nd->type != YAML_SEQUENCE_NODE) {
		yerr(y, nd != NULL ? nd : root, "nodes", "expected a list");
		return;
	}
	for (i = 0, it = nd->data.sequence.items.start;
	     it < nd->data.sequence.items.top; it++, i++)
		ynodes(y, yaml_document_get_node(&y->doc, *it), i);
	for (i = 0; i < y->nnodes; i++) {
		yn = &y->nodes[i];
		all = yn->gpus == 64 ? ~(uint64_t)0
		                     : ((uint64_t)1 << yn->gpus) - 1;
		if (!yn->free_set)
			yn->free_gpus = yn->state == TOPO_ALLOCATED ? 0 : all;
		else if ((yn->free_gpus & ~all) != 0)
			yerr_mark(y, &yn->free_mark, "nodes",
			    "%s has %d GPUs, "
			    "fewer than its free ones",
			    yn->name, yn->gpus);
		info.name = yn->name;
		info.gpus = yn->gpus;
		info.free_gpus = yn->free_gpus;
		info.gpu_type = yn->gpu_type;
		info.state = yn->state;
		info.nvlink_domain = yn->domain;
		info.failures = yn->failures;
		if (topo_add_node(t, &info, &cause) != 0) {
			yerr(y, nd, "nodes", "%s", cause);
			free(cause);
			cause = NULL;
		}
	}
	if ((sw = yget(y, root, "switches")) == NULL)
		return; /* no topology: one implicit switch */
	if (sw->type != YAML_SEQUENCE_NODE) {
		yerr(y, sw, "switches", "expected a list");
		return;
	}
	for (i = 0, it = sw->data.sequence.items.start;
	     it < sw->data.sequence.items.top; it++, i++)
		yswitch(y, t, yaml_document_get_node(&y->doc, *it), i);
}

struct topo *
topo_from_yaml(const char *buf, size_t len, const char *filename, char **cause)
{
	struct yparse y = { .file = filename };
	yaml_parser_t parser;
	yaml_document_t extra;
	struct topo *t = topo_create();
	char *why = NULL;
	int loaded = 0;

	yaml_parser_initialize(&parser);
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	if (!yaml_parser_load(&parser, &y.doc)) {
		why = xasprintf("%s:%zu:%zu: %s", filename,
		    parser.problem_mark.line + 1,
		    parser.problem_mark.column + 1,
		    parser.problem != NULL ? parser.problem : "bad YAML");
		goto out;
	}
	loaded = 1;
	if (yaml_document_get_root_node(&y.doc) == NULL) {
		why = xasprintf("%s: empty file", filename);
		goto out;
	}
	if (yaml_parser_load(&parser, &extra)) {
		if (yaml_document_get_root_node(&extra) != NULL)
			why = xasprintf("%s:%zu:%zu: more than one document",
			    filename, extra.start_mark.line + 1,
			    extra.start_mark.column + 1);
		yaml_document_delete(&extra);
		if (why != NULL)
			goto out;
	}
	ytop(&y, t, yaml_document_get_root_node(&y.doc));
	if (y.nerrors == 0 && topo_finish(t, &why) != 0) {
		yerr(&y, NULL, "", "%s", why);
		free(why);
		why = NULL;
	}
	if (y.nerrors > 0)
		why = y.errors;
	else
		free(y.errors);
out:
	if (loaded)
		yaml_document_delete(&y.doc);
	yaml_parser_delete(&parser);
	yparse_free(&y);
	if (why != NULL) {
		if (cause != NULL)
			*cause = why;
		else
			free(why);
		topo_free(t);
		return NULL;
	}
	return t;
}

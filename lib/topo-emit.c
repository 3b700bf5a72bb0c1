/*
 * topo-emit: write a topo as a snapshot file (the format topo-yaml.c
 * reads): switches and runs of identical nodes as compressed hostlists,
 * every string double-quoted so that no name can break the YAML.
 * Implicit switches are left out; topo_finish() makes them again.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "topo.h"
#include "util.h"

static char *compress(char **, size_t);
static void quote(FILE *, const char *);
static int same_attrs(const struct topo_node *, const struct topo_node *);
static void emit_node(FILE *, const struct topo *, size_t, size_t);

/* Names as a hostlist: runs of one prefix and digit width in brackets. */
static char *
compress(char **names, size_t n)
{
	size_t i, j, plen, w, cap = 64, len = 0;
	char *out = xmalloc(cap), *piece, *sep;
	unsigned long lo, hi, v;
	int first;

	out[0] = '\0';
	for (i = 0; i < n; i = j) {
		plen = strlen(names[i]);
		while (plen > 0 && names[i][plen - 1] >= '0' &&
		    names[i][plen - 1] <= '9')
			plen--;
		w = strlen(names[i]) - plen;
		/* Names in this group: same prefix, same width, digits. */
		for (j = i + 1; j < n && w > 0 && w <= 9 &&
		     strncmp(names[j], names[i], plen) == 0 &&
		     strlen(names[j]) == plen + w &&
		     strspn(names[j] + plen, "0123456789") == w;
		     j++)
			;
		if (w == 0 || w > 9 || j == i + 1) {
			j = i + 1;
			piece = xstrdup(names[i]);
		} else {
			piece = xasprintf("%.*s[", (int)plen, names[i]);
			for (first = 1,
			    lo = hi = strtoul(names[i] + plen, NULL, 10),
			    v = i + 1;
			     v <= j; v++) {
				unsigned long x = v < j
				    ? strtoul(names[v] + plen, NULL, 10)
				    : 0;

				if (v < j && x == hi + 1) {
					hi = x;
					continue;
				}
				sep = piece;
				if (lo == hi)
					piece = xasprintf("%s%s%0*lu", sep,
					    first ? "" : ",", (int)w, lo);
				else
					piece = xasprintf("%s%s%0*lu-%0*lu",
					    sep, first ? "" : ",", (int)w, lo,
					    (int)w, hi);
				free(sep);
				first = 0;
				lo = hi = x;
			}
			sep = piece;
			piece = xasprintf("%s]", sep);
			free(sep);
		}
		while (len + strlen(piece) + 2 > cap)
			out = xreallocarray(out, cap *= 2, 1);
		len += (size_t)snprintf(
		    out + len, cap - len, "%s%s", len > 0 ? "," : "", piece);
		free(piece);
	}
	return out;
}

/* A double-quoted YAML scalar: always safe, whatever the name holds. */
static void
quote(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(f, "\\x%02x", (unsigned char)*s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

static int
same_attrs(const struct topo_node *a, const struct topo_node *b)
{
	return a->gpus == b->gpus && a->free_gpus == b->free_gpus &&
	    a->state == b->state && a->nvlink_domain == b->nvlink_domain &&
	    a->failures == b->failures &&
	    (a->gpu_type == NULL ? b->gpu_type == NULL
	                         : b->gpu_type != NULL &&
	                strcmp(a->gpu_type, b->gpu_type) == 0);
}

static void
emit_node(FILE *f, const struct topo *t, size_t from, size_t to)
{
	const struct topo_node *n = &t->nodes[from];
	char **names = xreallocarray(NULL, to - from, sizeof(*names)), *list;
	uint64_t all =
	    n->gpus == 64 ? ~(uint64_t)0 : ((uint64_t)1 << n->gpus) - 1;
	size_t i;
	int b, first = 1;

	for (i = from; i < to; i++)
		names[i - from] = t->nodes[i].name;
	list = compress(names, to - from);
	fputs("  - { names: ", f);
	quote(f, list);
	fprintf(f, ", gpus: %d, state: %s", n->gpus, topo_state_name(n->state));
	if (n->free_gpus != (n->state == TOPO_ALLOCATED ? 0 : all)) {
		fputs(", free: [", f);
		for (b = 0; b < n->gpus; b++)
			if (n->free_gpus & ((uint64_t)1 << b)) {
				fprintf(f, "%s%d", first ? "" : ", ", b);
				first = 0;
			}
		fputs("]", f);
	}
	if (n->gpu_type != NULL) {
		fputs(", gpu_type: ", f);
		quote(f, n->gpu_type);
	}
	if (n->nvlink_domain >= 0)
		fprintf(f, ", nvlink_domain: %d", n->nvlink_domain);
	if (n->failures > 0)
		fprintf(f, ", failures: %d", n->failures);
	fputs(" }\n", f);
	free(list);
	free(names);
}

char *
topo_to_yaml(const struct topo *t)
{
	const struct topo_switch *sw;
	char *buf = NULL, **names, *list;
	size_t len = 0, i, j, n;
	FILE *f;

	if ((f = open_memstream(&buf, &len)) == NULL)
		return NULL;
	fputs("version: 1\nswitches:\n", f);
	for (i = 0; i < t->nswitches; i++) {
		sw = &t->switches[i];
		if (sw->implicit)
			continue;
		n = sw->nchildren > 0 ? sw->nchildren : sw->nnodes;
		names = xreallocarray(NULL, n + 1, sizeof(*names));
		for (j = 0, n = 0; j < sw->nchildren; j++)
			if (!t->switches[sw->children[j]].implicit)
				names[n++] = t->switches[sw->children[j]].name;
		for (j = 0; j < sw->nnodes; j++)
			names[n++] = t->nodes[sw->nodes[j]].name;
		list = compress(names, n);
		fputs("  - { name: ", f);
		quote(f, sw->name);
		fputs(sw->nchildren > 0 ? ", switches: " : ", nodes: ", f);
		quote(f, list);
		fputs(" }\n", f);
		free(list);
		free(names);
	}
	fputs("nodes:\n", f);
	for (i = 0; i < t->nnodes; i = j) {
		for (j = i + 1;
		     j < t->nnodes && same_attrs(&t->nodes[i], &t->nodes[j]);
		     j++)
			;
		emit_node(f, t, i, j);
	}
	fclose(f);
	return buf;
}

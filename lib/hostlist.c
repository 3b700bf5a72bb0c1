/*
 * hostlist: expand Slurm host expressions. An expression is names separated
 * by commas or white space (runs of them count as one, as in Slurm); a name
 * is literal text and any number of bracket groups, "rack[1-2]-n[01,03]",
 * expanded in Slurm's order (hostlist_emit()). Each group is a comma list of
 * numbers and ranges, zero-padded to the width of the range's first number.
 * The unit test check_hostlist_slurm compares this with libslurm's
 * hostlist_create() on random expressions; docs/design.md lists where we are
 * stricter (name characters, "1-" ranges) or wider (text after the last ]).
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hostlist.h"
#include "util.h"

#define HOSTLIST_SEP ", \t\n"
#define HOSTLIST_DIGITS 9 /* a number in brackets fits 32 bits */

struct hl_range {
	unsigned long lo, hi;
	int width;
};

/* Literal text, then (unless it is the name's tail) one bracket group. */
struct hl_group {
	const char *lit;
	size_t litlen;
	struct hl_range *r;
	size_t nr;
};

struct hl_name {
	struct hl_group *g;
	size_t ng; /* groups with brackets; g[ng] is the tail */
	unsigned long count; /* names it expands to */
};

static int hostlist_add(struct hostlist *, const char *, char **);
static int hostlist_name(struct hostlist *, const char *, char **);

static int
valid_name_char(int c)
{
	return isalnum(c) || c == '-' || c == '_' || c == '.';
}

static int
hostlist_add(struct hostlist *hl, const char *name, char **cause)
{
	if (hl->n >= HOSTLIST_MAX)
		return set_cause(
		    cause, "more than %d host names", HOSTLIST_MAX);
	if ((hl->n & (hl->n - 1)) == 0)
		hl->names = xreallocarray(
		    hl->names, hl->n == 0 ? 1 : hl->n * 2, sizeof(*hl->names));
	hl->names[hl->n++] = xstrdup(name);
	return 0;
}

/* One "a-b" or "a" of a bracket group; s is NUL-terminated. */
static int
hostlist_range(struct hl_range *r, char *s, const char *item, char **cause)
{
	char *dash;
	size_t lo_len, hi_len;

	if ((dash = strchr(s, '-')) != NULL)
		*dash++ = '\0';
	lo_len = strspn(s, "0123456789");
	hi_len = dash != NULL ? strspn(dash, "0123456789") : 0;
	if (lo_len == 0 || s[lo_len] != '\0' ||
	    (dash != NULL && (hi_len == 0 || dash[hi_len] != '\0')))
		return set_cause(cause, "bad range in \"%s\"", item);
	if (lo_len > HOSTLIST_DIGITS || hi_len > HOSTLIST_DIGITS)
		return set_cause(cause,
		    "number longer than %d digits in \"%s\"", HOSTLIST_DIGITS,
		    item);
	r->width = (int)lo_len;
	r->lo = strtoul(s, NULL, 10);
	r->hi = dash != NULL ? strtoul(dash, NULL, 10) : r->lo;
	if (r->hi < r->lo)
		return set_cause(
		    cause, "range %lu-%lu goes backwards", r->lo, r->hi);
	return 0;
}

/* The inside of one bracket group, [open + 1, close). */
static int
hostlist_group(struct hl_group *g, const char *open, const char *close,
    const char *item, unsigned long *count, char **cause)
{
	char *inner, *part, *next;
	unsigned long n = 0;
	int rc = 0;

	if (close == open + 1)
		return set_cause(cause, "empty brackets in \"%s\"", item);
	inner = xstrndup(open + 1, close - open - 1);
	for (part = inner; part != NULL && rc == 0; part = next) {
		if ((next = strchr(part, ',')) != NULL)
			*next++ = '\0';
		g->r = xreallocarray(g->r, g->nr + 1, sizeof(*g->r));
		rc = hostlist_range(&g->r[g->nr], part, item, cause);
		if (rc == 0) {
			n += g->r[g->nr].hi - g->r[g->nr].lo + 1;
			g->nr++;
			if (n > HOSTLIST_MAX)
				rc = set_cause(cause, "more than %d host names",
				    HOSTLIST_MAX);
		}
	}
	free(inner);
	*count = n;
	return rc;
}

/* Split item into literals and bracket groups and check every piece. */
static int
hostlist_parse(struct hl_name *nm, const char *item, char **cause)
{
	const char *p = item, *open, *close;
	unsigned long n = 0;
	struct hl_group *g;

	nm->count = 1;
	for (;;) {
		nm->g = xreallocarray(nm->g, nm->ng + 1, sizeof(*nm->g));
		g = &nm->g[nm->ng];
		memset(g, 0, sizeof(*g));
		g->lit = p;
		while (valid_name_char((unsigned char)*p))
			p++;
		g->litlen = p - g->lit;
		if (*p == '\0')
			return 0;
		if (*p == ']')
			return set_cause(cause, "unbalanced ] in \"%s\"", item);
		if (*p != '[')
			return set_cause(
			    cause, "bad character in host name \"%s\"", item);
		open = p;
		close = open + 1 + strspn(open + 1, "0123456789-,");
		if (*close == '[')
			return set_cause(cause, "nested [ in \"%s\"", item);
		if (*close != ']')
			return set_cause(cause,
			    *close == '\0' ? "missing ] in \"%s\""
			                   : "bad range in \"%s\"",
			    item);
		if (hostlist_group(g, open, close, item, &n, cause) != 0)
			return -1;
		nm->count *= n;
		if (nm->count > HOSTLIST_MAX)
			return set_cause(
			    cause, "more than %d host names", HOSTLIST_MAX);
		nm->ng++;
		p = close + 1;
	}
}

/*
 * Every combination of the groups' numbers in Slurm's order: an odometer
 * (range index and value per group) whose fastest wheel is the last group,
 * then the first, the second, and so on. (Slurm expands the groups before
 * the last one from the right, each new prefix going round again; for two
 * groups this is simply the left one slowest.)
 */
static int
hostlist_emit(struct hostlist *hl, const struct hl_name *nm, char **cause)
{
	size_t *ri, i, j, g, len = 1;
	unsigned long *v, c;
	char *name, *q;
	int rc = 0;

	ri = xcalloc(nm->ng + 1, sizeof(*ri));
	v = xcalloc(nm->ng + 1, sizeof(*v));
	for (i = 0; i <= nm->ng; i++) {
		len += nm->g[i].litlen + HOSTLIST_DIGITS + 1;
		if (i < nm->ng)
			v[i] = nm->g[i].r[0].lo;
	}
	name = xmalloc(len);
	for (c = 0; c < nm->count && rc == 0; c++) {
		q = name;
		for (i = 0; i <= nm->ng; i++) {
			memcpy(q, nm->g[i].lit, nm->g[i].litlen);
			q += nm->g[i].litlen;
			if (i < nm->ng)
				q += sprintf(
				    q, "%0*lu", nm->g[i].r[ri[i]].width, v[i]);
		}
		*q = '\0';
		rc = hostlist_add(hl, name, cause);
		for (j = 0; j < nm->ng; j++) {
			g = j == 0 ? nm->ng - 1 : j - 1;
			if (v[g]++ < nm->g[g].r[ri[g]].hi)
				break;
			ri[g] = (ri[g] + 1) % nm->g[g].nr;
			v[g] = nm->g[g].r[ri[g]].lo;
			if (ri[g] != 0)
				break;
		}
	}
	free(name);
	free(ri);
	free(v);
	return rc;
}

static int
hostlist_name(struct hostlist *hl, const char *item, char **cause)
{
	struct hl_name nm = { 0 };
	size_t i;
	int rc;

	rc = hostlist_parse(&nm, item, cause);
	if (rc == 0 && nm.count > HOSTLIST_MAX - hl->n)
		rc = set_cause(cause, "more than %d host names", HOSTLIST_MAX);
	if (rc == 0)
		rc = hostlist_emit(hl, &nm, cause);
	for (i = 0; i <= nm.ng && nm.g != NULL; i++)
		free(nm.g[i].r);
	free(nm.g);
	return rc;
}

int
hostlist_expand(struct hostlist *hl, const char *expr, char **cause)
{
	const char *p = expr, *start;
	char *item;
	size_t before = hl->n;
	int depth, rc;

	for (;;) {
		p += strspn(p, HOSTLIST_SEP);
		if (*p == '\0')
			break;
		/* A comma inside brackets separates ranges, not names. */
		for (start = p, depth = 0; *p != '\0'; p++) {
			if (*p == '[')
				depth++;
			else if (*p == ']' && depth > 0)
				depth--;
			else if (depth == 0 && strchr(HOSTLIST_SEP, *p) != NULL)
				break;
		}
		item = xstrndup(start, p - start);
		rc = hostlist_name(hl, item, cause);
		free(item);
		if (rc != 0)
			return -1;
	}
	if (hl->n == before)
		return set_cause(cause, "empty host list");
	return 0;
}

char *
hostlist_join(const struct hostlist *hl)
{
	size_t len = 1, i;
	char *s, *p;

	for (i = 0; i < hl->n; i++)
		len += strlen(hl->names[i]) + 1;
	p = s = xmalloc(len);
	*p = '\0';
	for (i = 0; i < hl->n; i++) {
		if (i > 0)
			*p++ = ',';
		len = strlen(hl->names[i]);
		memcpy(p, hl->names[i], len + 1);
		p += len;
	}
	return s;
}

int
hostlist_contains(const struct hostlist *hl, const char *name)
{
	size_t i;

	for (i = 0; i < hl->n; i++)
		if (strcmp(hl->names[i], name) == 0)
			return 1;
	return 0;
}

void
hostlist_clear(struct hostlist *hl)
{
	size_t i;

	for (i = 0; i < hl->n; i++)
		free(hl->names[i]);
	free(hl->names);
	hl->names = NULL;
	hl->n = 0;
}

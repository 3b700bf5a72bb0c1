/* hostlist: expand Slurm host expressions with one bracket group per name. */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hostlist.h"
#include "util.h"

static int hostlist_add(struct hostlist *, const char *, char **);
static int hostlist_range(struct hostlist *, const char *, size_t,
    const char *, const char *, const char *, char **);

static int
valid_name_char(int c)
{
	return isalnum(c) || c == '-' || c == '_' || c == '.';
}

static int
hostlist_add(struct hostlist *hl, const char *name, char **cause)
{
	if (hl->n >= HOSTLIST_MAX)
		return set_cause(cause, "more than %d host names",
		    HOSTLIST_MAX);
	if ((hl->n & (hl->n - 1)) == 0)
		hl->names = xreallocarray(hl->names, hl->n == 0 ? 1 : hl->n * 2,
		    sizeof(*hl->names));
	hl->names[hl->n++] = xstrdup(name);
	return 0;
}

/* One "a-b" or "a" inside brackets, zero-padded to the width of a. */
static int
hostlist_range(struct hostlist *hl, const char *prefix, size_t plen,
    const char *lo, const char *hi, const char *suffix, char **cause)
{
	unsigned long a, b, i;
	char *end, *name;
	int width = (int)strspn(lo, "0123456789");

	if (width == 0 || width > 9)
		return set_cause(cause, "bad range \"%s\"", lo);
	a = strtoul(lo, &end, 10);
	b = a;
	if (hi != NULL) {
		if (strspn(hi, "0123456789") == 0 || strlen(hi) > 9)
			return set_cause(cause, "bad range end \"%s\"", hi);
		b = strtoul(hi, &end, 10);
	}
	if (b < a)
		return set_cause(cause, "range %lu-%lu goes backwards", a, b);
	if (b - a >= HOSTLIST_MAX)
		return set_cause(cause, "more than %d host names",
		    HOSTLIST_MAX);
	for (i = a; i <= b; i++) {
		name = xasprintf("%.*s%0*lu%s", (int)plen, prefix, width, i,
		    suffix);
		if (hostlist_add(hl, name, cause) != 0) {
			free(name);
			return -1;
		}
		free(name);
	}
	return 0;
}

static int
hostlist_one(struct hostlist *hl, const char *item, char **cause)
{
	const char *open, *close, *p;
	char *inner, *part, *save, *dash;
	size_t i;
	int rc = 0;

	if (*item == '\0')
		return set_cause(cause, "empty host name");
	open = strchr(item, '[');
	if (open == NULL) {
		for (i = 0; item[i] != '\0'; i++)
			if (!valid_name_char((unsigned char)item[i]))
				return set_cause(cause,
				    "bad character in host name \"%s\"", item);
		return hostlist_add(hl, item, cause);
	}
	close = strchr(open, ']');
	if (close == NULL)
		return set_cause(cause, "missing ] in \"%s\"", item);
	for (p = item; p < open; p++)
		if (!valid_name_char((unsigned char)*p))
			return set_cause(cause,
			    "bad character in host name \"%s\"", item);
	for (p = close + 1; *p != '\0'; p++)
		if (!valid_name_char((unsigned char)*p))
			return set_cause(cause,
			    "bad character after ] in \"%s\"", item);
	inner = xstrndup(open + 1, close - open - 1);
	for (part = strtok_r(inner, ",", &save); part != NULL && rc == 0;
	    part = strtok_r(NULL, ",", &save)) {
		if ((dash = strchr(part, '-')) != NULL)
			*dash++ = '\0';
		if (part[strspn(part, "0123456789")] != '\0' ||
		    (dash != NULL && dash[strspn(dash, "0123456789")] != '\0'))
			rc = set_cause(cause, "bad range in \"%s\"", item);
		else
			rc = hostlist_range(hl, item, open - item, part, dash,
			    close + 1, cause);
	}
	if (rc == 0 && close == open + 1)
		rc = set_cause(cause, "empty brackets in \"%s\"", item);
	free(inner);
	return rc;
}

int
hostlist_expand(struct hostlist *hl, const char *expr, char **cause)
{
	const char *p = expr, *start;
	char *item;
	int depth = 0, rc;

	for (;;) {
		start = p;
		while (*p != '\0' && (*p != ',' || depth > 0)) {
			if (*p == '[' && ++depth > 1)
				return set_cause(cause,
				    "nested [ in \"%s\"", expr);
			if (*p == ']' && --depth < 0)
				return set_cause(cause,
				    "unbalanced ] in \"%s\"", expr);
			p++;
		}
		if (depth != 0)
			return set_cause(cause, "missing ] in \"%s\"", expr);
		item = xstrndup(start, p - start);
		rc = hostlist_one(hl, item, cause);
		free(item);
		if (rc != 0)
			return -1;
		if (*p == '\0')
			return 0;
		p++;
	}
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

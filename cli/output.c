/*
 * output: tables, field formatting and JSON for llmctl.
 *
 * Widths count UTF-8 code points, not bytes (a reason may hold any text);
 * wide CJK glyphs may still overhang, which costs alignment, not
 * correctness. Cells too wide for their column end in "..."; the widest
 * columns give way first.
 */
#include "config.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "output.h"
#include "util.h"

#define TABLE_GAP 2 /* spaces between columns */
#define TABLE_MIN_COL 6 /* never shrink a column below this */

struct table {
	size_t ncols;
	char **headers;
	char **cells; /* row-major, nrows * ncols */
	size_t ncells;
	size_t cap;
	int noheader;
};

static char *sanitise(const char *);
static size_t text_width(const char *);
static void print_cell(FILE *, const char *, size_t, int);
static const json_t *field_number(const json_t *, const char *, int64_t *);
static const char *field_time(
    const json_t *, const char *, int, char *, size_t);

int
output_parse_format(const char *s, enum output_format *fmt)
{
	if (strcmp(s, "json") == 0)
		*fmt = OUTPUT_JSON;
	else if (strcmp(s, "yaml") == 0)
		*fmt = OUTPUT_YAML;
	else if (strcmp(s, "table") == 0)
		*fmt = OUTPUT_TABLE;
	else {
		fprintf(stderr,
		    "llmctl: unknown output format: %s "
		    "(use table, json or yaml)\n",
		    s);
		return -1;
	}
	return 0;
}

void
output_data(FILE *f, const json_t *j, enum output_format fmt)
{
	if (fmt == OUTPUT_YAML)
		output_yaml(f, j);
	else
		output_json(f, j);
}

void
output_json(FILE *f, const json_t *j)
{
	json_dumpf(j, f, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	fputc('\n', f);
}

/*
 * Copy s replacing C0 and C1 control characters: tabs and newlines become
 * spaces, the rest '?'. Input is UTF-8 as jansson guarantees.
 */
static char *
sanitise(const char *s)
{
	const unsigned char *in = (const unsigned char *)s;
	char *out, *p;

	p = out = xmalloc(strlen(s) + 1);
	for (; *in != '\0'; in++) {
		if (*in == '\t' || *in == '\n' || *in == '\r')
			*p++ = ' ';
		else if (*in < 0x20 || *in == 0x7f)
			*p++ = '?';
		else if (*in == 0xc2 && in[1] >= 0x80 && in[1] <= 0x9f) {
			*p++ = '?';
			in++;
		} else
			*p++ = (char)*in;
	}
	*p = '\0';
	return out;
}

static size_t
text_width(const char *s)
{
	size_t w = 0;

	for (; *s != '\0'; s++) {
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	}
	return w;
}

char *
output_sanitise(const char *s)
{
	return sanitise(s);
}

size_t
output_width(const char *s)
{
	return text_width(s);
}

const char *
output_bytes(int64_t n, char *buf, size_t len)
{
	static const char units[] = "KMGTPE";
	double v;
	size_t u;

	if (n < 0) {
		snprintf(buf, len, "-");
		return buf;
	}
	if (n < 1024) {
		snprintf(buf, len, "%" PRId64 "B", n);
		return buf;
	}
	v = (double)n / 1024;
	for (u = 0; v >= 1023.5 && u + 1 < sizeof units - 1; u++)
		v /= 1024;
	/* One decimal while it says something: 1.5K, but 34M. */
	if (v < 9.95)
		snprintf(buf, len, "%.1f%c", v, units[u]);
	else
		snprintf(buf, len, "%.0f%c", v, units[u]);
	return buf;
}

void
output_string(FILE *f, const char *s)
{
	char *clean;

	clean = sanitise(s);
	fputs(clean, f);
	free(clean);
}

struct table *
table_create(size_t ncols, const char *const *headers)
{
	struct table *t;
	size_t i;

	t = xcalloc(1, sizeof *t);
	t->ncols = ncols;
	t->headers = xreallocarray(NULL, ncols, sizeof *t->headers);
	for (i = 0; i < ncols; i++)
		t->headers[i] = xstrdup(headers[i]);
	return t;
}

void
table_free(struct table *t)
{
	size_t i;

	if (t == NULL)
		return;
	for (i = 0; i < t->ncols; i++)
		free(t->headers[i]);
	for (i = 0; i < t->ncells; i++)
		free(t->cells[i]);
	free(t->headers);
	free(t->cells);
	free(t);
}

void
table_add(struct table *t, const char *s)
{
	if (t->ncells == t->cap) {
		t->cap = t->cap == 0 ? 64 : t->cap * 2;
		t->cells = xreallocarray(t->cells, t->cap, sizeof *t->cells);
	}
	t->cells[t->ncells++] = sanitise(s == NULL || *s == '\0' ? "-" : s);
}

void
table_noheader(struct table *t)
{
	t->noheader = 1;
}

size_t
table_rows(const struct table *t)
{
	return t->ncells / t->ncols;
}

/* Print s in w columns: truncated with "..." or padded unless last. */
static void
print_cell(FILE *f, const char *s, size_t w, int last)
{
	size_t sw = text_width(s), n = 0, keep;
	const char *p;

	if (sw > w) {
		keep = w > 3 ? w - 3 : w;
		for (p = s; *p != '\0'; p++) {
			if (((unsigned char)*p & 0xc0) != 0x80 && n++ == keep)
				break;
		}
		fwrite(s, 1, p - s, f);
		if (w > 3)
			fputs("...", f);
		return;
	}
	fputs(s, f);
	if (!last)
		fprintf(f, "%*s", (int)(w - sw), "");
}

void
table_print(struct table *t, FILE *f, size_t width)
{
	size_t *w, total, i, j, nrows = table_rows(t), pick, floor;

	w = xcalloc(t->ncols, sizeof *w);
	for (i = 0; i < t->ncols; i++)
		w[i] = text_width(t->headers[i]);
	for (i = 0; i < nrows * t->ncols; i++) {
		j = i % t->ncols;
		if (text_width(t->cells[i]) > w[j])
			w[j] = text_width(t->cells[i]);
	}

	/*
	 * Too wide: narrow the widest column one step at a time, so long names
	 * and long reasons share what is left, but never below its header or
	 * TABLE_MIN_COL.
	 */
	total = (t->ncols - 1) * TABLE_GAP;
	for (i = 0; i < t->ncols; i++)
		total += w[i];
	while (total > width) {
		pick = t->ncols;
		for (j = 0; j < t->ncols; j++) {
			floor = text_width(t->headers[j]);
			if (floor < TABLE_MIN_COL)
				floor = TABLE_MIN_COL;
			if (w[j] > floor &&
			    (pick == t->ncols || w[j] >= w[pick]))
				pick = j;
		}
		if (pick == t->ncols)
			break; /* cannot fit: print as narrow as allowed */
		w[pick]--;
		total--;
	}

	for (i = 0; !t->noheader && i < t->ncols; i++) {
		print_cell(f, t->headers[i], w[i], i == t->ncols - 1);
		if (i != t->ncols - 1)
			fprintf(f, "%*s", TABLE_GAP, "");
		else
			fputc('\n', f);
	}
	for (i = 0; i < nrows * t->ncols; i++) {
		j = i % t->ncols;
		print_cell(f, t->cells[i], w[j], j == t->ncols - 1);
		if (j != t->ncols - 1)
			fprintf(f, "%*s", TABLE_GAP, "");
		else
			fputc('\n', f);
	}
	free(w);
}

const char *
output_field(const json_t *obj, const char *key, char *buf, size_t len)
{
	const json_t *v;

	v = json_is_object(obj) ? json_object_get(obj, key) : NULL;
	if (json_is_string(v) && json_string_length(v) > 0)
		snprintf(buf, len, "%s", json_string_value(v));
	else if (json_is_integer(v))
		snprintf(
		    buf, len, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	else if (json_is_real(v))
		snprintf(buf, len, "%g", json_real_value(v));
	else if (json_is_boolean(v))
		snprintf(buf, len, "%s", json_is_true(v) ? "true" : "false");
	else
		snprintf(buf, len, "-");
	return buf;
}

/* obj[key] as an integer number of seconds; NULL when not one. */
static const json_t *
field_number(const json_t *obj, const char *key, int64_t *n)
{
	const json_t *v;

	v = json_is_object(obj) ? json_object_get(obj, key) : NULL;
	if (json_is_integer(v))
		*n = json_integer_value(v);
	else if (json_is_real(v))
		*n = (int64_t)json_real_value(v);
	else
		return NULL;
	return v;
}

/*
 * Unix time obj[key] in local time, shorter for tables when brief, or "-".
 * The two formats stay literals so that -Wformat=2 can check them.
 */
static const char *
field_time(const json_t *obj, const char *key, int brief, char *buf, size_t len)
{
	struct tm tm;
	int64_t n;
	time_t t;

	if (field_number(obj, key, &n) == NULL || n <= 0) {
		snprintf(buf, len, "-");
		return buf;
	}
	t = (time_t)n;
	if (localtime_r(&t, &tm) == NULL ||
	    strftime(buf, len, brief ? "%m-%d %H:%M" : "%Y-%m-%d %H:%M:%S",
	        &tm) == 0)
		snprintf(buf, len, "%" PRId64, n);
	return buf;
}

const char *
output_time(const json_t *obj, const char *key, char *buf, size_t len)
{
	return field_time(obj, key, 0, buf, len);
}

const char *
output_time_short(const json_t *obj, const char *key, char *buf, size_t len)
{
	return field_time(obj, key, 1, buf, len);
}

const char *
output_age(
    const json_t *obj, const char *key, int64_t now, char *buf, size_t len)
{
	int64_t n, d;

	if (field_number(obj, key, &n) == NULL || n <= 0) {
		snprintf(buf, len, "-");
		return buf;
	}
	d = now - n;
	if (d < 0)
		d = 0;
	if (d < 60)
		snprintf(buf, len, "%" PRId64 "s", d);
	else if (d < 3600)
		snprintf(buf, len, "%" PRId64 "m", d / 60);
	else if (d < 86400)
		snprintf(buf, len, "%" PRId64 "h", d / 3600);
	else
		snprintf(buf, len, "%" PRId64 "d", d / 86400);
	return buf;
}

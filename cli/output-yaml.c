/*
 * output-yaml: any jansson value as a YAML document, for -o yaml on every
 * command that prints data.
 *
 * Block style, two spaces an indent. A string is written plain only when
 * no YAML 1.1 reader (PyYAML, Go's yaml.v2) could take it for anything but
 * that string: letters, digits and a few marks, never a word such as "no"
 * or "on"; text of several lines becomes a literal block; everything else
 * is double-quoted with every character a reader would refuse, or a
 * terminal would obey, escaped. So what a job name or a log holds reaches
 * the screen as text, as with the tables.
 */
#include "config.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "output.h"
#include "util.h"

#define YAML_INDENT 2

static int yaml_plain(const char *, size_t);
static int yaml_printable(uint32_t);
static size_t yaml_decode(const unsigned char *, size_t, uint32_t *);
static int yaml_literal_ok(const char *, size_t);
static void yaml_quoted(FILE *, const char *, size_t);
static void yaml_literal(FILE *, const char *, size_t, int);
static void yaml_scalar(FILE *, const json_t *, int);
static int yaml_is_block(const json_t *);
static void yaml_map(FILE *, const json_t *, int, int);
static void yaml_seq(FILE *, const json_t *, int, int);

/* Plain only when it can mean nothing but itself. */
static int
yaml_plain(const char *s, size_t len)
{
	static const char *const words[] = { "y", "n", "yes", "no", "true",
		"false", "on", "off", "null" };
	size_t i;

	if (len == 0 || len > 128 || s[len - 1] == ' ')
		return 0;
	if (strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_/",
	        s[0]) == NULL)
		return 0;
	for (i = 0; i < len; i++) {
		if (s[i] == '\0' ||
		    strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		           "abcdefghijklmnopqrstuvwxyz0123456789_./+@- ",
		        s[i]) == NULL)
			return 0;
		if (s[i] == ' ' && s[i + 1] == ' ')
			return 0;
	}
	for (i = 0; i < nitems(words); i++) {
		if (strlen(words[i]) == len &&
		    strncasecmp(s, words[i], len) == 0)
			return 0;
	}
	return 1;
}

/*
 * What YAML lets a stream hold as it is, less what a terminal would act
 * on or a reader might trip over (NEL, the line and paragraph separators,
 * a byte order mark).
 */
static int
yaml_printable(uint32_t c)
{
	if (c == '\t' || c == '\n')
		return 1;
	if (c < 0x20 || (c >= 0x7f && c <= 0x9f))
		return 0;
	if (c == 0x2028 || c == 0x2029 || c == 0xfeff || c == 0xfffe ||
	    c == 0xffff)
		return 0;
	return 1;
}

/* One code point of valid UTF-8 (jansson's strings are): its length. */
static size_t
yaml_decode(const unsigned char *p, size_t len, uint32_t *c)
{
	size_t n, i;

	if (p[0] < 0x80)
		n = 1, *c = p[0];
	else if ((p[0] & 0xe0) == 0xc0)
		n = 2, *c = p[0] & 0x1f;
	else if ((p[0] & 0xf0) == 0xe0)
		n = 3, *c = p[0] & 0x0f;
	else
		n = 4, *c = p[0] & 0x07;
	if (n > len)
		n = len; /* never, for valid UTF-8 */
	for (i = 1; i < n; i++)
		*c = (*c << 6) | (p[i] & 0x3f);
	return n;
}

/* Several lines, nothing to escape, no leading blank to misread. */
static int
yaml_literal_ok(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	uint32_t c;
	size_t i, n;

	if (len == 0 || memchr(s, '\n', len) == NULL || s[0] == ' ' ||
	    s[0] == '\t' || s[0] == '\n')
		return 0;
	for (i = 0; i < len; i += n) {
		n = yaml_decode(p + i, len - i, &c);
		if (!yaml_printable(c))
			return 0;
	}
	return 1;
}

static void
yaml_quoted(FILE *f, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	uint32_t c;
	size_t i, n;

	fputc('"', f);
	for (i = 0; i < len; i += n) {
		n = yaml_decode(p + i, len - i, &c);
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", (int)c);
		else if (c == '\n')
			fputs("\\n", f);
		else if (c == '\t')
			fputs("\\t", f);
		else if (c <= 0xff && !yaml_printable(c))
			fprintf(f, "\\x%02x", (unsigned)c);
		else if (!yaml_printable(c))
			fprintf(f, "\\u%04x", (unsigned)c);
		else
			fwrite(p + i, 1, n, f);
	}
	fputc('"', f);
}

/* " |-" and the lines at indent: chomping keeps the trailing newlines. */
static void
yaml_literal(FILE *f, const char *s, size_t len, int indent)
{
	size_t i, trail = 0, start;

	while (trail < len && s[len - 1 - trail] == '\n')
		trail++;
	fprintf(f, " |%s\n", trail == 0 ? "-" : trail == 1 ? "" : "+");
	for (start = i = 0; i < len; i++) {
		if (s[i] != '\n')
			continue;
		if (i > start)
			fprintf(f, "%*s", indent, "");
		fwrite(s + start, 1, i - start, f);
		fputc('\n', f);
		start = i + 1;
	}
	if (start < len) {
		fprintf(f, "%*s", indent, "");
		fwrite(s + start, 1, len - start, f);
		fputc('\n', f);
	}
}

/*
 * " value\n" for a scalar or an empty container; a literal block's lines
 * go at indent. A real always has a dot or an exponent with one, so YAML
 * 1.1 reads it back as a float, not a string.
 */
static void
yaml_scalar(FILE *f, const json_t *v, int indent)
{
	const char *s;
	char buf[64];
	size_t len;

	switch (json_typeof(v)) {
	case JSON_STRING:
		s = json_string_value(v);
		len = json_string_length(v);
		if (yaml_literal_ok(s, len)) {
			yaml_literal(f, s, len, indent);
			return;
		}
		fputc(' ', f);
		if (yaml_plain(s, len))
			fwrite(s, 1, len, f);
		else
			yaml_quoted(f, s, len);
		break;
	case JSON_INTEGER:
		fprintf(f, " %" JSON_INTEGER_FORMAT, json_integer_value(v));
		break;
	case JSON_REAL:
		snprintf(buf, sizeof buf, "%.17g", json_real_value(v));
		if (strchr(buf, '.') != NULL)
			fprintf(f, " %s", buf);
		else if ((s = strchr(buf, 'e')) != NULL)
			fprintf(f, " %.*s.0%s", (int)(s - buf), buf, s);
		else
			fprintf(f, " %s.0", buf);
		break;
	case JSON_TRUE:
		fputs(" true", f);
		break;
	case JSON_FALSE:
		fputs(" false", f);
		break;
	case JSON_OBJECT:
		fputs(" {}", f);
		break;
	case JSON_ARRAY:
		fputs(" []", f);
		break;
	default:
		fputs(" null", f);
		break;
	}
	fputc('\n', f);
}

static int
yaml_is_block(const json_t *v)
{
	return (json_is_object(v) && json_object_size(v) > 0) ||
	    (json_is_array(v) && json_array_size(v) > 0);
}

/* The members of obj at indent; the first on the current line if inline. */
static void
yaml_map(FILE *f, const json_t *obj, int indent, int inline_first)
{
	const char *key;
	json_t *v;
	void *iter;
	int first = 1;

	/* the daemon's order, as -o json keeps it */
	for (iter = json_object_iter((json_t *)obj); iter != NULL;
	     iter = json_object_iter_next((json_t *)obj, iter)) {
		key = json_object_iter_key(iter);
		v = json_object_iter_value(iter);
		if (!(first && inline_first))
			fprintf(f, "%*s", indent, "");
		first = 0;
		if (yaml_plain(key, strlen(key)))
			fputs(key, f);
		else
			yaml_quoted(f, key, strlen(key));
		fputc(':', f);
		if (json_is_object(v) && json_object_size(v) > 0) {
			fputc('\n', f);
			yaml_map(f, v, indent + YAML_INDENT, 0);
		} else if (json_is_array(v) && json_array_size(v) > 0) {
			fputc('\n', f);
			yaml_seq(f, v, indent + YAML_INDENT, 0);
		} else
			yaml_scalar(f, v, indent + YAML_INDENT);
	}
}

/* The items of arr at indent: "- " and the item, nested ones inline. */
static void
yaml_seq(FILE *f, const json_t *arr, int indent, int inline_first)
{
	const json_t *v;
	size_t i;

	json_array_foreach(arr, i, v)
	{
		if (!(i == 0 && inline_first))
			fprintf(f, "%*s", indent, "");
		fputc('-', f);
		if (json_is_object(v) && yaml_is_block(v)) {
			fputc(' ', f);
			yaml_map(f, v, indent + YAML_INDENT, 1);
		} else if (yaml_is_block(v)) {
			fputc(' ', f);
			yaml_seq(f, v, indent + YAML_INDENT, 1);
		} else
			yaml_scalar(f, v, indent + YAML_INDENT);
	}
}

void
output_yaml(FILE *f, const json_t *v)
{
	if (json_is_object(v) && yaml_is_block(v))
		yaml_map(f, v, 0, 0);
	else if (yaml_is_block(v))
		yaml_seq(f, v, 0, 0);
	else {
		/* a bare scalar: drop the space meant to follow a key */
		fputs("---", f);
		yaml_scalar(f, v, YAML_INDENT);
	}
}

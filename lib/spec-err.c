/*
 * spec-err: the job spec's error messages. Every error is one line,
 * "FILE:LINE:COL: field.path: message", and the values a message quotes are
 * escaped and shortened so that a hostile spec cannot forge lines or flood a
 * terminal. Also the did-you-mean used for unknown keys and values.
 */
#include "config.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec.h"
#include "spec-int.h"
#include "util.h"

#define SHOW_MAX 40 /* characters of a value quoted in a message */
#define SUGGEST_MAX 64 /* longer words get no suggestion */

static void errs_add(struct spec_errs *, uint32_t, uint32_t, const char *,
    const char *, va_list) __attribute__((format(printf, 5, 0)));
static size_t distance(const char *, const char *);

static void
errs_add(struct spec_errs *errs, uint32_t line, uint32_t col, const char *path,
    const char *fmt, va_list ap)
{
	char *msg, *where;

	if (errs->n >= SPEC_MAX_ERRORS)
		return;
	msg = xvasprintf(fmt, ap);
	if (errs->file != NULL && line != 0)
		where = xasprintf("%s:%u:%u: ", errs->file, line, col);
	else if (errs->file != NULL)
		where = xasprintf("%s: ", errs->file);
	else
		where = xstrdup("");
	errs->e[errs->n].line = line;
	errs->e[errs->n].col = col;
	if (path != NULL && *path != '\0')
		errs->e[errs->n].msg = xasprintf("%s%s: %s", where, path, msg);
	else
		errs->e[errs->n].msg = xasprintf("%s%s", where, msg);
	errs->n++;
	free(where);
	free(msg);
}

/* An error about node id of t (its position), under field path. */
void
spec_err(struct spec_errs *errs, const struct ytree *t, uint32_t id,
    const char *path, const char *fmt, ...)
{
	va_list ap;
	uint32_t line = 1, col = 1;

	if (t != NULL && id != YNONE) {
		line = t->v[id].line;
		col = t->v[id].col;
	} else if (errs->file == NULL)
		line = col = 0;
	va_start(ap, fmt);
	errs_add(errs, line, col, path, fmt, ap);
	va_end(ap);
}

void
spec_err_at(struct spec_errs *errs, uint32_t line, uint32_t col,
    const char *path, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	errs_add(errs, line, col, path, fmt, ap);
	va_end(ap);
}

/* All errors in file order, one a line; the list is emptied. */
char *
spec_errs_join(struct spec_errs *errs)
{
	struct spec_err tmp;
	size_t i, j, len = 1;
	char *s, *p;

	/* Insertion sort: stable, and there are at most 20. */
	for (i = 1; i < errs->n; i++) {
		tmp = errs->e[i];
		for (j = i; j > 0 &&
		     (errs->e[j - 1].line > tmp.line ||
		         (errs->e[j - 1].line == tmp.line &&
		             errs->e[j - 1].col > tmp.col));
		     j--)
			errs->e[j] = errs->e[j - 1];
		errs->e[j] = tmp;
	}
	for (i = 0; i < errs->n; i++)
		len += strlen(errs->e[i].msg) + 1;
	p = s = xmalloc(len);
	*p = '\0';
	for (i = 0; i < errs->n; i++) {
		if (i > 0)
			*p++ = '\n';
		len = strlen(errs->e[i].msg);
		memcpy(p, errs->e[i].msg, len + 1);
		p += len;
	}
	spec_errs_clear(errs);
	return s;
}

void
spec_errs_clear(struct spec_errs *errs)
{
	size_t i;

	for (i = 0; i < errs->n; i++)
		free(errs->e[i].msg);
	errs->n = 0;
}

/*
 * A value as a message quotes it: in double quotes, control characters and
 * quotes escaped, cut after SHOW_MAX characters (on a UTF-8 boundary) or
 * when the buffer is full, whichever comes first: bytes that are not valid
 * UTF-8 count as no character, so only the buffer bounds them.
 */
char *
spec_show(const char *s, size_t len)
{
	size_t i, o = 0, shown = 0, cap = SHOW_MAX * 4 + 16;
	unsigned char c;
	char *out;

	out = xmalloc(cap);
	out[o++] = '"';
	for (i = 0; i < len; i++) {
		c = (unsigned char)s[i];
		if (((c & 0xc0) != 0x80 && shown++ == SHOW_MAX) ||
		    o + 4 + 5 > cap) {
			memcpy(out + o, "...", 3);
			o += 3;
			break;
		}
		if (c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = c;
		} else if (c == '\n') {
			out[o++] = '\\';
			out[o++] = 'n';
		} else if (c < 0x20 || c == 0x7f)
			o += snprintf(out + o, 5, "\\x%02x", c);
		else
			out[o++] = c;
	}
	out[o++] = '"';
	out[o] = '\0';
	return out;
}

/* A word as it is when it is short and plain, else quoted and escaped. */
char *
spec_show_word(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > 64)
		return spec_show(s, len);
	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7f ||
		    s[i] == '"')
			return spec_show(s, len);
	return xstrndup(s, len);
}

/* prefix.key, for the field path of a message. */
char *
spec_path_join(const char *prefix, const char *key, size_t len)
{
	char *shown, *p;

	shown = spec_show_word(key, len);
	p = xasprintf("%s%s%s", prefix, *prefix == '\0' ? "" : ".", shown);
	free(shown);
	return p;
}

/* Optimal string alignment distance, case-insensitive. */
static size_t
distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j, cost, best;
	size_t d[SUGGEST_MAX + 1][SUGGEST_MAX + 1];

	for (i = 0; i <= la; i++)
		d[i][0] = i;
	for (j = 0; j <= lb; j++)
		d[0][j] = j;
	for (i = 1; i <= la; i++) {
		for (j = 1; j <= lb; j++) {
			cost = tolower((unsigned char)a[i - 1]) ==
			        tolower((unsigned char)b[j - 1])
			    ? 0
			    : 1;
			best = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < best)
				best = d[i][j - 1] + 1;
			if (d[i - 1][j - 1] + cost < best)
				best = d[i - 1][j - 1] + cost;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
			    a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < best)
				best = d[i - 2][j - 2] + 1;
			d[i][j] = best;
		}
	}
	return d[la][lb];
}

/*
 * The choice closest to word, or NULL when none is close: within 2 edits,
 * and within a third of the word's length for short words.
 */
const char *
spec_suggest(const char *word, const char *const *choices, size_t n)
{
	const char *best = NULL;
	size_t i, d, bestd = SIZE_MAX, limit, len = strlen(word);

	if (len == 0 || len > SUGGEST_MAX)
		return NULL;
	limit = len < 6 ? 1 : 2;
	for (i = 0; i < n; i++) {
		if (strlen(choices[i]) > SUGGEST_MAX)
			continue;
		d = distance(word, choices[i]);
		if (d <= limit && d < bestd) {
			best = choices[i];
			bestd = d;
		}
	}
	return best;
}

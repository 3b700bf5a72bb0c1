/*
 * spec-tree: read a job spec's YAML (or a json_t) into a struct ytree.
 *
 * This is where hostile input stops. Before libyaml sees a byte the file is
 * checked for size, NUL bytes, invalid UTF-8 and control characters; then
 * libyaml's event parser (never its loader, which would follow aliases)
 * drives a builder that refuses anchors, aliases, non-core tags, complex
 * keys, a second document, nesting deeper than SPEC_MAX_DEPTH, scalars over
 * SPEC_MAX_SCALAR and more than SPEC_MAX_NODES nodes. Memory is therefore
 * linear in the input and capped: nodes are 40 bytes in one array and all
 * scalar text shares one buffer. Any of these errors ends the read.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "spec.h"
#include "spec-int.h"
#include "util.h"

#define CORE_TAG "tag:yaml.org,2002:"

struct build {
	struct ytree *t;
	struct spec_errs *errs;
	uint32_t stack[SPEC_MAX_DEPTH];
	uint32_t key[SPEC_MAX_DEPTH]; /* last key of a map */
	uint32_t depth;
};

static int prescan(const char *, size_t, struct spec_errs *);
static char *build_path(const struct build *);
static int build_fail(struct build *, const yaml_mark_t *, const char *, ...)
    __attribute__((format(printf, 3, 4)));
static int build_tag(
    struct build *, const yaml_event_t *, const char *, int, uint8_t *);
static uint32_t tree_add(struct ytree *, uint32_t, uint8_t, uint32_t, uint32_t);
static void tree_text(struct ytree *, uint32_t, const char *, size_t);
static int build_event(struct build *, const yaml_event_t *);
static int json_node(struct ytree *, const json_t *, uint32_t, int,
    const char *, struct spec_errs *);

const char *
spec_tree_str(const struct ytree *t, uint32_t id)
{
	return t->text + t->v[id].off;
}

/* A plain scalar that YAML's core schema reads as null. */
int
spec_tree_null(const struct ytree *t, uint32_t id)
{
	const char *s = spec_tree_str(t, id);

	if (t->v[id].type != Y_SCALAR || !t->v[id].plain)
		return 0;
	return *s == '\0' || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 ||
	    strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0;
}

void
spec_tree_free(struct ytree *t)
{
	free(t->v);
	free(t->text);
	memset(t, 0, sizeof(*t));
	t->root = YNONE;
}

static uint32_t
tree_add(
    struct ytree *t, uint32_t parent, uint8_t type, uint32_t line, uint32_t col)
{
	struct ynode *y;
	uint32_t id;

	if (t->n == t->cap) {
		t->cap = t->cap == 0 ? 64 : t->cap * 2;
		t->v = xreallocarray(t->v, t->cap, sizeof(*t->v));
	}
	id = t->n++;
	y = &t->v[id];
	memset(y, 0, sizeof(*y));
	y->type = type;
	y->line = line;
	y->col = col;
	y->first = y->last = y->next = YNONE;
	if (parent == YNONE)
		t->root = id;
	else {
		if (t->v[parent].first == YNONE)
			t->v[parent].first = id;
		else
			t->v[t->v[parent].last].next = id;
		t->v[parent].last = id;
		t->v[parent].n++;
	}
	return id;
}

static void
tree_text(struct ytree *t, uint32_t id, const char *s, size_t len)
{
	while (t->tlen + len + 1 > t->tcap) {
		t->tcap = t->tcap == 0 ? 4096 : t->tcap * 2;
		t->text = xreallocarray(t->text, t->tcap, 1);
	}
	memcpy(t->text + t->tlen, s, len);
	t->text[t->tlen + len] = '\0';
	t->v[id].off = (uint32_t)t->tlen;
	t->v[id].len = (uint32_t)len;
	t->tlen += len + 1;
}

/*
 * Refuse what libyaml would misread or report without a position: NUL bytes,
 * malformed UTF-8 (overlong, surrogates, past U+10FFFF) and the control
 * characters YAML forbids. Columns count characters, as libyaml's do.
 */
static int
prescan(const char *buf, size_t len, struct spec_errs *errs)
{
	const unsigned char *p = (const unsigned char *)buf;
	uint32_t line = 1, col = 1, c, min;
	size_t i = 0, n, k;

	while (i < len) {
		c = p[i];
		if (c == 0) {
			spec_err_at(
			    errs, line, col, NULL, "NUL byte in the file");
			return -1;
		}
		if (c < 0x80)
			n = 1;
		else if ((c & 0xe0) == 0xc0) {
			n = 2;
			c &= 0x1f;
			min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			n = 3;
			c &= 0x0f;
			min = 0x800;
		} else if ((c & 0xf8) == 0xf0) {
			n = 4;
			c &= 0x07;
			min = 0x10000;
		} else
			goto bad;
		if (n > 1) {
			if (len - i < n)
				goto bad;
			for (k = 1; k < n; k++) {
				if ((p[i + k] & 0xc0) != 0x80)
					goto bad;
				c = (c << 6) | (p[i + k] & 0x3f);
			}
			if (c < min || c > 0x10ffff ||
			    (c >= 0xd800 && c <= 0xdfff))
				goto bad;
		}
		if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') ||
		    c == 0x7f || (c >= 0x80 && c <= 0x9f && c != 0x85) ||
		    c == 0xfffe || c == 0xffff) {
			spec_err_at(errs, line, col, NULL,
			    "control character U+%04X is not allowed", c);
			return -1;
		}
		if (c == '\n' ||
		    (c == '\r' && (i + 1 == len || p[i + 1] != '\n'))) {
			line++;
			col = 1;
		} else if (c != '\r')
			col++;
		i += n;
	}
	return 0;
bad:
	spec_err_at(errs, line, col, NULL, "invalid UTF-8 (byte 0x%02x)", p[i]);
	return -1;
}

/* The field path of the node being added, for messages. */
static char *
build_path(const struct build *b)
{
	const struct ynode *f;
	char *path = xstrdup(""), *next;
	uint32_t i;

	for (i = 0; i < b->depth; i++) {
		f = &b->t->v[b->stack[i]];
		if (f->type == Y_MAP && b->key[i] != YNONE &&
		    (f->n % 2 == 1 || i + 1 < b->depth))
			next =
			    spec_path_join(path, spec_tree_str(b->t, b->key[i]),
			        b->t->v[b->key[i]].len);
		else if (f->type == Y_SEQ)
			next = xasprintf(
			    "%s[%u]", path, i + 1 < b->depth ? f->n - 1 : f->n);
		else
			break;
		free(path);
		path = next;
	}
	return path;
}

static int
build_fail(struct build *b, const yaml_mark_t *m, const char *fmt, ...)
{
	va_list ap;
	char *msg, *path;

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	path = build_path(b);
	spec_err_at(b->errs, m->line + 1, m->column + 1, path, "%s", msg);
	free(path);
	free(msg);
	return -1;
}

/*
 * Only the core schema's tags, on the kind of node they name. "!!str" and
 * the non-specific "!" make a scalar a string even when it looks like a
 * number; "!!int" and friends make it plain.
 */
static int
build_tag(struct build *b, const yaml_event_t *ev, const char *tag, int type,
    uint8_t *plain)
{
	const char *name;
	char *shown;

	if (tag == NULL)
		return 0;
	if (strcmp(tag, "!") == 0 && type == Y_SCALAR) {
		*plain = 0;
		return 0;
	}
	if (strncmp(tag, CORE_TAG, strlen(CORE_TAG)) != 0) {
		shown = spec_show_word(tag, strlen(tag));
		build_fail(b, &ev->start_mark, "tag %s is not allowed", shown);
		free(shown);
		return -1;
	}
	name = tag + strlen(CORE_TAG);
	if (type == Y_MAP && strcmp(name, "map") == 0)
		return 0;
	if (type == Y_SEQ && strcmp(name, "seq") == 0)
		return 0;
	if (type == Y_SCALAR && strcmp(name, "str") == 0) {
		*plain = 0;
		return 0;
	}
	if (type == Y_SCALAR &&
	    (strcmp(name, "int") == 0 || strcmp(name, "float") == 0 ||
	        strcmp(name, "bool") == 0 || strcmp(name, "null") == 0)) {
		*plain = 1;
		return 0;
	}
	if (strcmp(name, "map") == 0 || strcmp(name, "seq") == 0 ||
	    strcmp(name, "str") == 0 || strcmp(name, "int") == 0 ||
	    strcmp(name, "float") == 0 || strcmp(name, "bool") == 0 ||
	    strcmp(name, "null") == 0)
		return build_fail(b, &ev->start_mark,
		    "tag !!%s does not fit this %s", name,
		    type == Y_MAP       ? "mapping"
		        : type == Y_SEQ ? "list"
		                        : "scalar");
	shown = spec_show_word(name, strlen(name));
	build_fail(b, &ev->start_mark, "tag !!%s is not allowed", shown);
	free(shown);
	return -1;
}

static int
build_event(struct build *b, const yaml_event_t *ev)
{
	const yaml_mark_t *m = &ev->start_mark;
	const char *anchor = NULL, *tag = NULL;
	uint32_t parent, id;
	uint8_t type, plain = 0;
	const struct ynode *p;

	switch (ev->type) {
	case YAML_ALIAS_EVENT:
		return build_fail(b, m, "aliases (*%.64s) are not allowed",
		    (const char *)ev->data.alias.anchor);
	case YAML_SCALAR_EVENT:
		type = Y_SCALAR;
		anchor = (const char *)ev->data.scalar.anchor;
		tag = (const char *)ev->data.scalar.tag;
		plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
		break;
	case YAML_MAPPING_START_EVENT:
		type = Y_MAP;
		anchor = (const char *)ev->data.mapping_start.anchor;
		tag = (const char *)ev->data.mapping_start.tag;
		break;
	case YAML_SEQUENCE_START_EVENT:
		type = Y_SEQ;
		anchor = (const char *)ev->data.sequence_start.anchor;
		tag = (const char *)ev->data.sequence_start.tag;
		break;
	case YAML_MAPPING_END_EVENT:
	case YAML_SEQUENCE_END_EVENT:
		b->depth--;
		return 0;
	default:
		return 0;
	}
	if (anchor != NULL)
		return build_fail(
		    b, m, "anchors (&%.64s) are not allowed", anchor);
	if (build_tag(b, ev, tag, type, &plain) != 0)
		return -1;
	parent = b->depth == 0 ? YNONE : b->stack[b->depth - 1];
	p = parent == YNONE ? NULL : &b->t->v[parent];
	if (p != NULL && p->type == Y_MAP && p->n % 2 == 0 && type != Y_SCALAR)
		return build_fail(b, m, "a key must be a scalar, not a %s",
		    type == Y_MAP ? "mapping" : "list");
	if (type == Y_SCALAR && ev->data.scalar.length > SPEC_MAX_SCALAR)
		return build_fail(
		    b, m, "scalar longer than %d bytes", SPEC_MAX_SCALAR);
	if (type == Y_SCALAR &&
	    memchr(ev->data.scalar.value, '\0', ev->data.scalar.length) != NULL)
		return build_fail(b, m, "NUL character in a string");
	if (type != Y_SCALAR && b->depth == SPEC_MAX_DEPTH)
		return build_fail(
		    b, m, "nested deeper than %d levels", SPEC_MAX_DEPTH);
	if (b->t->n >= SPEC_MAX_NODES)
		return build_fail(
		    b, m, "more than %d YAML nodes", SPEC_MAX_NODES);
	id = tree_add(b->t, parent, type, m->line + 1, m->column + 1);
	if (type == Y_SCALAR) {
		b->t->v[id].plain = plain;
		tree_text(b->t, id, (const char *)ev->data.scalar.value,
		    ev->data.scalar.length);
	} else
		tree_text(b->t, id, "", 0);
	p = parent == YNONE ? NULL : &b->t->v[parent]; /* may have moved */
	if (p != NULL && p->type == Y_MAP && p->n % 2 == 1)
		b->key[b->depth - 1] = id;
	if (type != Y_SCALAR) {
		b->key[b->depth] = YNONE;
		b->stack[b->depth++] = id;
	}
	return 0;
}

/* Build t from YAML; 0, or -1 with the one error in errs. */
int
spec_tree_yaml(
    struct ytree *t, const char *buf, size_t len, struct spec_errs *errs)
{
	struct build b = { .t = t, .errs = errs };
	yaml_parser_t parser;
	yaml_event_t ev;
	yaml_mark_t m;
	int docs = 0, rc = 0, done = 0;

	memset(t, 0, sizeof(*t));
	t->root = YNONE;
	if (len > SPEC_MAX_BYTES) {
		spec_err_at(errs, 1, 1, NULL,
		    "file is larger than %d bytes (%zu)", SPEC_MAX_BYTES, len);
		return -1;
	}
	if (prescan(buf, len, errs) != 0)
		return -1;
	if (!yaml_parser_initialize(&parser))
		abort();
	yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING);
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	while (!done && rc == 0) {
		if (!yaml_parser_parse(&parser, &ev)) {
			m = parser.problem_mark;
			if (parser.error == YAML_READER_ERROR)
				m.line = m.column = 0;
			if (parser.context != NULL)
				spec_err_at(errs, m.line + 1, m.column + 1,
				    NULL, "syntax error: %s (%s at %zu:%zu)",
				    parser.problem, parser.context,
				    parser.context_mark.line + 1,
				    parser.context_mark.column + 1);
			else
				spec_err_at(errs, m.line + 1, m.column + 1,
				    NULL, "syntax error: %s",
				    parser.problem != NULL ? parser.problem
				                           : "unreadable YAML");
			rc = -1;
			break;
		}
		if (ev.type == YAML_DOCUMENT_START_EVENT && ++docs > 1)
			rc = build_fail(
			    &b, &ev.start_mark, "more than one YAML document");
		else if (ev.type == YAML_STREAM_END_EVENT)
			done = 1;
		else
			rc = build_event(&b, &ev);
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&parser);
	if (rc != 0)
		spec_tree_free(t);
	return rc;
}

static int
json_node(struct ytree *t, const json_t *j, uint32_t parent, int depth,
    const char *path, struct spec_errs *errs)
{
	const char *key;
	json_t *val;
	char *sub, num[64];
	uint32_t id;
	size_t i;
	int rc = 0;

	if (depth > SPEC_MAX_DEPTH) {
		spec_err_at(errs, 0, 0, path, "nested deeper than %d levels",
		    SPEC_MAX_DEPTH);
		return -1;
	}
	if (t->n + 2 >= SPEC_MAX_NODES) {
		spec_err_at(
		    errs, 0, 0, path, "more than %d nodes", SPEC_MAX_NODES);
		return -1;
	}
	switch (json_typeof(j)) {
	case JSON_OBJECT:
		id = tree_add(t, parent, Y_MAP, 0, 0);
		tree_text(t, id, "", 0);
		json_object_foreach((json_t *)j, key, val)
		{
			tree_text(t, tree_add(t, id, Y_SCALAR, 0, 0), key,
			    strlen(key));
			sub = xasprintf("%s%s%s", path, *path ? "." : "", key);
			rc = json_node(t, val, id, depth + 1, sub, errs);
			free(sub);
			if (rc != 0)
				return -1;
		}
		return 0;
	case JSON_ARRAY:
		id = tree_add(t, parent, Y_SEQ, 0, 0);
		tree_text(t, id, "", 0);
		for (i = 0; i < json_array_size(j); i++) {
			sub = xasprintf("%s[%zu]", path, i);
			rc = json_node(
			    t, json_array_get(j, i), id, depth + 1, sub, errs);
			free(sub);
			if (rc != 0)
				return -1;
		}
		return 0;
	case JSON_STRING:
		if (json_string_length(j) > SPEC_MAX_SCALAR ||
		    memchr(json_string_value(j), '\0', json_string_length(j)) !=
		        NULL) {
			spec_err_at(errs, 0, 0, path,
			    "string with a NUL or longer than %d bytes",
			    SPEC_MAX_SCALAR);
			return -1;
		}
		id = tree_add(t, parent, Y_SCALAR, 0, 0);
		tree_text(t, id, json_string_value(j), json_string_length(j));
		return 0;
	case JSON_INTEGER:
		snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT,
		    json_integer_value(j));
		break;
	case JSON_REAL:
		snprintf(num, sizeof(num), "%.17g", json_real_value(j));
		break;
	case JSON_TRUE:
		snprintf(num, sizeof(num), "true");
		break;
	case JSON_FALSE:
		snprintf(num, sizeof(num), "false");
		break;
	default:
		snprintf(num, sizeof(num), "null");
		break;
	}
	id = tree_add(t, parent, Y_SCALAR, 0, 0);
	t->v[id].plain = 1;
	tree_text(t, id, num, strlen(num));
	return 0;
}

/* Build t from a JSON value: the same tree YAML would give, no positions. */
int
spec_tree_json(struct ytree *t, const json_t *j, struct spec_errs *errs)
{
	memset(t, 0, sizeof(*t));
	t->root = YNONE;
	if (j == NULL)
		return 0;
	if (json_node(t, j, YNONE, 1, "", errs) != 0) {
		spec_tree_free(t);
		return -1;
	}
	return 0;
}

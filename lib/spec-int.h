/*
 * spec-int: what the job spec's files share and nobody else sees.
 *
 * A spec is first read into a small document tree (struct ytree) that keeps
 * every node's line and column, from YAML (spec-tree.c, the only place that
 * sees libyaml) or from a json_t. spec_build() then walks that tree against
 * the table of fields in spec.c (values are converted in spec-value.c), so
 * that YAML from a user and JSON from the API go through exactly the same
 * checks. Errors are collected in a struct
 * spec_errs and joined into the caller's *cause at the end.
 */
#ifndef LLMCTL_SPEC_INT_H
#define LLMCTL_SPEC_INT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "hostlist.h"

#define YNONE UINT32_MAX
#define SPEC_MAX_NODES (1 << 17) /* YAML nodes in one file */

enum ytype {
	Y_SCALAR,
	Y_MAP, /* children alternate key, value */
	Y_SEQ,
};

/* Nodes live in one array and point at each other by index. */
struct ynode {
	uint32_t line; /* 1-based; 0 when built from JSON */
	uint32_t col;
	uint32_t off; /* scalar: text at ytree.text + off */
	uint32_t len;
	uint32_t first; /* collection: first child or YNONE */
	uint32_t last;
	uint32_t next; /* next sibling or YNONE */
	uint32_t n; /* collection: number of children */
	uint8_t type; /* enum ytype */
	uint8_t plain; /* scalar: unquoted, so may be a number */
};

struct ytree {
	struct ynode *v;
	uint32_t n;
	uint32_t cap;
	char *text; /* NUL-terminated scalars, back to back */
	size_t tlen;
	size_t tcap;
	uint32_t root; /* YNONE: empty document */
};

struct spec_err {
	uint32_t line;
	uint32_t col;
	char *msg;
};

struct spec_errs {
	const char *file; /* NULL: messages carry no position */
	size_t n;
	struct spec_err e[SPEC_MAX_ERRORS];
};

/* The spec's fields (spec.c declares them in tables). */
enum fid {
	F_VERSION,
	F_NAME,
	F_COMMAND,
	F_WORKDIR,
	F_ENV,
	F_RESOURCES,
	F_NODES,
	F_GPUS,
	F_TASKS,
	F_GPU_TYPE,
	F_CPUS_PER_GPU,
	F_MEM,
	F_PARTITION,
	F_ACCOUNT,
	F_QOS,
	F_TIME_LIMIT,
	F_SPARE_NODES,
	F_PARALLEL,
	F_TENSOR,
	F_PIPELINE,
	F_DATA,
	F_LAUNCHER,
	F_PLACEMENT,
	F_POLICY,
	F_MAX_LEAF,
	F_MAX_WAIT,
	F_EXCLUDE,
	F_CHECKPOINT,
	F_CKPT_DIR,
	F_PATTERN,
	F_KEEP,
	F_CKPT_FILE,
	F_SETTLE,
	F_RECOVERY,
	F_MAX_RESTARTS,
	F_MAX_INFRA,
	F_BACKOFF,
	F_NO_PROGRESS,
	F_HEALTH,
	F_HEARTBEAT,
	F_STARTUP,
	F_PREFLIGHT,
	F_WARNING,
	F_WARN_SIGNAL,
	F_WARN_BEFORE,
	F_FABRIC,
	F_FABRIC_TYPE,
	F_FABRIC_IF,
	F_FABRIC_HCA,
	F_NOTIFY,
	F_WEBHOOK,
	F_NOTIFY_ON,
	F_COUNT
};

enum fkind {
	K_SECTION,
	K_VERSION,
	K_INT,
	K_NAME,
	K_STRING,
	K_PATH,
	K_COMMAND,
	K_ENV,
	K_DURATION,
	K_MEMORY,
	K_LAUNCHER,
	K_POLICY,
	K_EXCLUDE,
	K_PATTERN,
	K_FABRIC,
	K_SIGNAL,
	K_NOTIFY_ON,
};

struct field {
	const char *name;
	enum fid id;
	enum fkind kind;
	size_t off; /* in struct spec */
	int64_t min; /* K_INT */
	int64_t max;
	int required;
	const struct field *sub; /* K_SECTION */
	size_t nsub;
};

struct walk {
	const struct ytree *t;
	struct spec_errs *errs;
	struct spec *sp;
	struct hostlist exclude;
	uint32_t key[F_COUNT]; /* key node, YNONE: absent */
	uint32_t at[F_COUNT]; /* value node, YNONE: default */
	uint8_t bad[F_COUNT]; /* invalid or missing */
};

/* Nothing more can be reported: stop walking, however big the input. */
#define FULL(w) ((w)->errs->n >= SPEC_MAX_ERRORS)

/* spec-tree.c */
int spec_tree_yaml(struct ytree *, const char *, size_t, struct spec_errs *);
int spec_tree_json(struct ytree *, const json_t *, struct spec_errs *);
void spec_tree_free(struct ytree *);
const char *spec_tree_str(const struct ytree *, uint32_t);
int spec_tree_null(const struct ytree *, uint32_t);

/* spec-err.c */
void spec_err(struct spec_errs *, const struct ytree *, uint32_t, const char *,
    const char *, ...) __attribute__((format(printf, 5, 6)));
void spec_err_at(struct spec_errs *, uint32_t, uint32_t, const char *,
    const char *, ...) __attribute__((format(printf, 5, 6)));
char *spec_errs_join(struct spec_errs *);
void spec_errs_clear(struct spec_errs *);
char *spec_show(const char *, size_t);
char *spec_show_word(const char *, size_t);
char *spec_path_join(const char *, const char *, size_t);
const char *spec_suggest(const char *, const char *const *, size_t);

/* spec.c */
struct spec *spec_build(const struct ytree *, const char *, struct spec_errs *);
void spec_walk_map(
    struct walk *, uint32_t, const struct field *, size_t, const char *);
void spec_mark_bad(struct walk *, const struct field *);

/* spec-value.c */
void spec_walk_value(
    struct walk *, const struct field *, uint32_t, const char *);
char *spec_got(const struct walk *, uint32_t);
int spec_valid_name(const char *);

#endif

/*
 * job: what the commands about jobs share: a job id, rank, step or count
 * from the command line, a reply fetched and shown as -o json or checked
 * and printed, the "[-o json] id" commands that show one list of a job
 * (checkpoints, events), and a spec file read and checked before it goes
 * to llmctld (submit, plan).
 *
 * Every function here prints its own error, "llmctl: " first, as the
 * commands did. Replies and bodies are jansson values owned by the caller.
 */
#ifndef LLMCTL_JOB_H
#define LLMCTL_JOB_H

#include <stddef.h>

#include <jansson.h>

#include "output.h"

struct args;
struct llmctl;
struct spec;

/* What a command shows of a reply, and what it needs to be there. */
struct job_view {
	const char *path; /* job_view_exec(): GET /v1/jobs/ID/path */
	const char *key; /* the member print needs; NULL: the reply itself */
	json_type type; /* ... and its type */
	const char *what; /* "llmctld sent no WHAT" when it is missing */
	void (*print)(const json_t *reply);
};

/*
 * The states llmctld reports (docs/design.md section 5), NULL last: for
 * checking status --state before asking, and for the completion.
 */
extern const char *const job_states[];

/* cmd_parse_id(), printing "invalid job id" for -1. */
long long job_parse_id(const char *);

/*
 * A non-negative decimal (an option value, a rank, a step) into *out; -1
 * after printing "invalid WHAT: S".
 */
int job_parse_number(const char *what, const char *s, long long *out);

/* GET path from llmctld; NULL after printing why not. */
json_t *job_get(struct llmctl *, const char *path);

/*
 * GET path and show the reply: as it is for -o json, else with
 * view->print once the member it needs is there. Returns the exit status.
 */
int job_view_show(struct llmctl *, const struct job_view *, const char *path,
    enum output_format);

/* -o: OUTPUT_TABLE when not given; -1 after printing a bad format. */
int job_output_format(const struct args *, enum output_format *);

/* Option ch as a number (job_parse_number); *out untouched if not given. */
int job_parse_option(
    const struct args *, int ch, const char *what, long long *out);

/* The whole of a "[-o json] id" command: -o, the id, job_view_show(). */
int job_view_exec(struct llmctl *, const struct job_view *, struct args *);

/*
 * Read file and parse it as llmctl validate does, with cwd for a missing
 * workdir. Returns the spec with its text in *buf (*len bytes), both the
 * caller's; NULL after printing why not, *buf then freed or NULL.
 */
struct spec *job_spec_read(
    const char *file, const char *cwd, char **buf, size_t *len);

/*
 * The body of POST /v1/jobs and /v1/plan for file, checked here first:
 * {"spec": its text, "file": file, "workdir": cwd}. With name not NULL,
 * *name gets a copy of the job's name, or "-", for the caller to free.
 * NULL after printing why not.
 */
json_t *job_body(const char *file, const char *cwd, char **name);

/*
 * The goodput object of a job in one line, "ETTR 81.2% (productive ...)",
 * for llmctl status (cli/cmd-goodput.c); the caller frees it.
 */
char *goodput_summary(const json_t *goodput);

#endif

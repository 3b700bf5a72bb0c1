/*
 * llmctl logs: the output of one rank of one attempt, printed as it is.
 *
 * The daemon sends a log in chunks, each with the byte offset after it, so
 * llmctl asks again from that offset until a reply comes back empty. With
 * -f it then keeps asking every half second, like tail -f, until the
 * daemon says the attempt has ended and nothing is left to read. The
 * attempt and rank of the first reply are kept for the later requests, so
 * a new attempt starting meanwhile does not switch files under the reader.
 *
 * -o json and -o yaml print the log as one document, {"job", "attempt",
 * "rank", "offset", "done", "data"}; with -f, one document per chunk as it
 * comes: a JSON object a line, or YAML documents each after "---".
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "job.h"
#include "llmctl.h"
#include "output.h"
#include "util.h"

#define LOGS_POLL_MS 500

/* -o json|yaml without -f: the whole log, gathered for one document. */
struct logs_doc {
	json_t *last; /* the latest reply with data */
	char *data;
	size_t len, cap;
};

static int cmd_logs_exec(struct llmctl *, struct args *);
static void logs_sleep(int);
static int logs_write(
    const json_t *, long long, enum output_format, int, struct logs_doc *);
static void logs_doc_print(
    struct logs_doc *, const json_t *, long long, enum output_format);

const struct cmd_entry cmd_logs_entry = {
	.name = "logs",
	.usage = "[-f] [-o json|yaml] [--rank rank] [--attempt attempt] "
	         "[--tail lines] id",
	.about = "Print the output of one rank of one attempt of a job.",
	.args = { .template = "fo:",
	    .lower = 1,
	    .upper = 1,
	    .operand = "id",
	    .longs =
	        (const struct args_long[]){
	            { .ch = 'f',
	                .name = "follow",
	                .help = "keep printing until the attempt ends" },
	            ARGS_OUTPUT,
	            { .ch = 'r',
	                .name = "rank",
	                .has_arg = 1,
	                .arg = "rank",
	                .help = "this rank's output (0)" },
	            { .ch = 'a',
	                .name = "attempt",
	                .has_arg = 1,
	                .arg = "attempt",
	                .help = "this attempt's (the latest)" },
	            { .ch = 't',
	                .name = "tail",
	                .has_arg = 1,
	                .arg = "lines",
	                .help = "start this many lines before the end" },
	            { 0 } } },
	.exec = cmd_logs_exec,
};

static void
logs_sleep(int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000,
		.tv_nsec = (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/*
 * One non-empty chunk: raw, like cat, for a table (the log is the
 * program's own output); a document of its own when following; else
 * added to doc, printed at the end. 0, or -1 when stdout fails.
 */
static int
logs_write(const json_t *reply, long long id, enum output_format fmt,
    int follow, struct logs_doc *doc)
{
	const json_t *data = json_object_get(reply, "data");
	size_t len = json_string_length(data);
	json_t *one;

	if (fmt == OUTPUT_TABLE) {
		if (fwrite(json_string_value(data), 1, len, stdout) != len)
			return -1;
	} else if (follow) {
		one = json_deep_copy(reply);
		json_object_set_new(one, "job", json_integer(id));
		if (fmt == OUTPUT_JSON) {
			json_dumpf(
			    one, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER);
			putchar('\n');
		} else {
			printf("---\n");
			output_yaml(stdout, one);
		}
		json_decref(one);
	} else {
		while (doc->len + len + 1 > doc->cap) {
			doc->cap = doc->cap == 0 ? 65536 : doc->cap * 2;
			doc->data = xreallocarray(doc->data, doc->cap, 1);
		}
		memcpy(doc->data + doc->len, json_string_value(data), len);
		doc->len += len;
		json_decref(doc->last);
		doc->last = json_deep_copy(reply);
	}
	return fflush(stdout) == EOF ? -1 : 0;
}

/* The gathered log as one document: the last reply, all of the data. */
static void
logs_doc_print(struct logs_doc *doc, const json_t *reply, long long id,
    enum output_format fmt)
{
	json_t *out;

	out = json_pack("{s:I}", "job", (json_int_t)id);
	json_object_update(
	    out, (json_t *)(doc->last != NULL ? doc->last : reply));
	json_object_set_new(out, "data",
	    json_stringn(doc->data != NULL ? doc->data : "", doc->len));
	json_object_set(out, "done", json_object_get(reply, "done"));
	output_data(stdout, out, fmt);
	json_decref(out);
}

static int
cmd_logs_exec(struct llmctl *ctx, struct args *args)
{
	long long id, rank = -1, attempt = -1, tail = -1;
	enum output_format fmt;
	json_int_t offset = 0;
	struct logs_doc doc = { 0 };
	json_t *reply = NULL, *data;
	char *path, *cause = NULL, q[128];
	int follow = args_has(args, 'f'), first = 1, done, rc = CMD_FAILED;

	if (job_output_format(args, &fmt) != 0 ||
	    job_parse_option(args, 'r', "rank", &rank) != 0 ||
	    job_parse_option(args, 'a', "attempt", &attempt) != 0 ||
	    job_parse_option(args, 't', "line count", &tail) != 0 ||
	    (id = job_parse_id(args->argv[0])) == -1)
		return CMD_USAGE;

	for (;;) {
		/* Only the parameters given: the daemon knows the defaults. */
		q[0] = '\0';
		if (rank >= 0)
			snprintf(q + strlen(q), sizeof q - strlen(q),
			    "&rank=%lld", rank);
		if (attempt >= 0)
			snprintf(q + strlen(q), sizeof q - strlen(q),
			    "&attempt=%lld", attempt);
		if (first && tail >= 0)
			snprintf(q + strlen(q), sizeof q - strlen(q),
			    "&tail=%lld", tail);
		if (!first)
			snprintf(q + strlen(q), sizeof q - strlen(q),
			    "&offset=%" JSON_INTEGER_FORMAT, offset);
		path = xasprintf("/v1/jobs/%lld/logs%s%s", id,
		    q[0] != '\0' ? "?" : "", q[0] != '\0' ? q + 1 : "");
		json_decref(reply);
		if (client_request(llmctl_client(ctx), "GET", path, NULL,
		        &reply, &cause) != CLIENT_OK) {
			fprintf(stderr, "llmctl: %s\n", cause);
			free(path);
			goto out;
		}
		free(path);
		data = json_object_get(reply, "data");
		if (!json_is_string(data) ||
		    !json_is_integer(json_object_get(reply, "offset"))) {
			fprintf(stderr, "llmctl: llmctld sent no log data\n");
			goto out;
		}
		first = 0;
		offset = json_integer_value(json_object_get(reply, "offset"));
		if (json_is_integer(json_object_get(reply, "attempt")))
			attempt = json_integer_value(
			    json_object_get(reply, "attempt"));
		if (json_is_integer(json_object_get(reply, "rank")))
			rank =
			    json_integer_value(json_object_get(reply, "rank"));
		done = json_is_true(json_object_get(reply, "done"));

		if (json_string_length(data) > 0) {
			if (logs_write(reply, id, fmt, follow, &doc) != 0) {
				perror("llmctl: stdout");
				goto out;
			}
			continue; /* there may be more at once */
		}
		if (!follow || done)
			break;
		logs_sleep(LOGS_POLL_MS);
	}
	/* An empty log is a document too, so a script always gets one. */
	if (fmt != OUTPUT_TABLE && !follow)
		logs_doc_print(&doc, reply, id, fmt);
	rc = CMD_OK;
out:
	json_decref(doc.last);
	free(doc.data);
	json_decref(reply);
	free(cause);
	return rc;
}

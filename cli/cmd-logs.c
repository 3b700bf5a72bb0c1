/*
 * llmctl logs: the output of one rank of one attempt, printed as it is.
 *
 * The daemon sends a log in chunks, each with the byte offset after it, so
 * llmctl asks again from that offset until a reply comes back empty. With
 * -f it then keeps asking every half second, like tail -f, until the
 * daemon says the attempt has ended and nothing is left to read. The
 * attempt and rank of the first reply are kept for the later requests, so
 * a new attempt starting meanwhile does not switch files under the reader.
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
#include "util.h"

#define LOGS_POLL_MS 500

static int cmd_logs_exec(struct llmctl *, struct args *);
static void logs_sleep(int);

const struct cmd_entry cmd_logs_entry = {
    .name = "logs",
    .usage = "[-f] [--rank rank] [--attempt attempt] [--tail lines] id",
    .args = {.template = "f",
        .lower = 1,
        .upper = 1,
        .longs = (const struct args_long[]){{'r', "rank", 1},
            {'a', "attempt", 1}, {'t', "tail", 1}, {0}}},
    .exec = cmd_logs_exec,
};

static void
logs_sleep(int ms)
{
	struct timespec ts = {
	    .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static int
cmd_logs_exec(struct llmctl *ctx, struct args *args)
{
	long long id, rank = -1, attempt = -1, tail = -1;
	json_int_t offset = 0;
	json_t *reply = NULL, *data;
	char *path, *cause = NULL, q[128];
	int follow = args_has(args, 'f'), first = 1, done, rc = 1;
	size_t len;

	if (job_parse_option(args, 'r', "rank", &rank) != 0 ||
	    job_parse_option(args, 'a', "attempt", &attempt) != 0 ||
	    job_parse_option(args, 't', "line count", &tail) != 0 ||
	    (id = job_parse_id(args->argv[0])) == -1)
		return 1;

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

		/* Raw, like cat: the log is the program's own output. */
		len = json_string_length(data);
		if (len > 0) {
			if (fwrite(json_string_value(data), 1, len, stdout) !=
			        len ||
			    fflush(stdout) == EOF) {
				perror("llmctl: stdout");
				goto out;
			}
			continue; /* there may be more at once */
		}
		if (!follow || done)
			break;
		logs_sleep(LOGS_POLL_MS);
	}
	rc = 0;
out:
	json_decref(reply);
	free(cause);
	return rc;
}

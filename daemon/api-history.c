/*
 * api-history: a job's events and its ranks' logs. Log files live in
 * directories the job's user owns, so they are opened without following
 * symlinks and must belong to that user: a job cannot make llmctld read
 * someone else's file for it.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api.h"
#include "checkpoint.h"
#include "conf.h"
#include "llmctld.h"
#include "store.h"
#include "util.h"

#define LOG_CHUNK (1024 * 1024)	/* most bytes one reply carries */

void
api_job_events(struct llmctld *d, const struct api_request *req,
    struct api_response *resp, int64_t id)
{
	struct event_row *ev;
	struct job *job;
	json_t *arr;
	size_t n, i;

	if ((job = api_job_for_caller(d, req, resp, id)) == NULL)
		return;
	ev = store_events_of(d->store, id, &n);
	arr = json_array();
	for (i = 0; i < n; i++)
		json_array_append_new(arr, json_pack("{s:I, s:I, s:s, s:s}",
		    "id", (json_int_t)ev[i].id, "at", (json_int_t)ev[i].at,
		    "kind", ev[i].kind, "message", ev[i].message));
	event_list_free(ev, n);
	job_free(job);
	resp->status = 200;
	resp->body = json_pack("{s:o}", "events", arr);
}

static int
query_int(const struct api_request *req, const char *key, long long dflt,
    long long *out, struct api_response *resp)
{
	const char *v = api_query(req, key);
	char *end;

	*out = dflt;
	if (v == NULL)
		return 0;
	errno = 0;
	*out = strtoll(v, &end, 10);
	if (errno != 0 || *end != '\0' || end == v || *out < 0) {
		api_error(resp, 400, "bad_request", "%s: expected a "
		    "non-negative integer", key);
		return -1;
	}
	return 0;
}

/* Offset where the last n lines of fd (size bytes) start. */
static off_t
tail_offset(int fd, off_t size, long long n)
{
	char buf[8192];
	off_t pos = size;
	ssize_t got, i;
	long long lines = 0;

	if (n == 0)
		return size;	/* the last 0 lines: nothing */
	while (pos > 0) {
		got = pos < (off_t)sizeof(buf) ? pos : (off_t)sizeof(buf);
		if (pread(fd, buf, got, pos - got) != got)
			return 0;
		for (i = got - 1; i >= 0; i--) {
			/* a final newline ends the last line, it starts none */
			if (buf[i] == '\n' && pos - got + i != size - 1 &&
			    ++lines == n)
				return pos - got + i + 1;
		}
		pos -= got;
	}
	return 0;
}

void
api_job_logs(struct llmctld *d, const struct api_request *req,
    struct api_response *resp, int64_t id)
{
	struct attempt **as;
	struct job *job;
	struct stat st;
	long long rank, attempt, offset, tail;
	char *path, *buf;
	size_t n, i;
	ssize_t got;
	int fd, done = 1;

	if ((job = api_job_for_caller(d, req, resp, id)) == NULL)
		return;
	as = store_attempts_of(d->store, id, &n);
	if (query_int(req, "rank", 0, &rank, resp) != 0 ||
	    query_int(req, "attempt", (long long)n, &attempt, resp) != 0 ||
	    query_int(req, "offset", -1, &offset, resp) != 0 ||
	    query_int(req, "tail", -1, &tail, resp) != 0)
		goto out;
	if (api_query(req, "offset") == NULL)
		offset = -1;
	if (api_query(req, "tail") == NULL)
		tail = -1;
	if (attempt < 1 || (size_t)attempt > n) {
		api_error(resp, 404, "not_found", "job %lld has no attempt %lld",
		    (long long)id, attempt);
		goto out;
	}
	if (rank >= job->world_size) {
		api_error(resp, 404, "not_found", "job %lld has no rank %lld "
		    "(world size %d)", (long long)id, rank, job->world_size);
		goto out;
	}
	for (i = 0; i < n; i++)
		if (as[i]->attempt == attempt)
			done = as[i]->ended_at != 0;
	path = xasprintf("%s/logs/%lld/%lld/rank-%lld.out",
	    d->conf->state_dir, (long long)id, attempt, rank);
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	free(path);
	if (fd == -1 || fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_uid != job->uid) {
		if (fd != -1)
			close(fd);
		/* not written yet: nothing to show, not an error */
		resp->status = 200;
		resp->body = json_pack("{s:I, s:I, s:I, s:s, s:b}", "attempt",
		    (json_int_t)attempt, "rank", (json_int_t)rank, "offset",
		    (json_int_t)(offset > 0 ? offset : 0), "data", "", "done",
		    done);
		goto out;
	}
	if (offset < 0)
		offset = tail >= 0 ? tail_offset(fd, st.st_size, tail) : 0;
	if (offset > st.st_size)
		offset = st.st_size;
	buf = xmalloc(LOG_CHUNK);
	got = pread(fd, buf, LOG_CHUNK, offset);
	close(fd);
	if (got < 0)
		got = 0;
	api_utf8_scrub((unsigned char *)buf, (size_t)got);
	resp->status = 200;
	resp->body = json_pack("{s:I, s:I, s:I, s:s%, s:b}", "attempt",
	    (json_int_t)attempt, "rank", (json_int_t)rank, "offset",
	    (json_int_t)(offset + got), "data", buf, (size_t)got, "done",
	    done && offset + got >= st.st_size);
	free(buf);
out:
	attempt_list_free(as, n);
	job_free(job);
}

/*
 * usable, incomplete (being written), unverified (too slow to hash within
 * scan_timeout) or corrupt: what a user acts on.
 */
static const char *
ckpt_state(const struct ckpt *c)
{
	if (c->problem == NULL)
		return c->complete ? "usable" : "incomplete";
	if (strncmp(c->problem, "no " CKPT_MARKER, strlen("no " CKPT_MARKER))
	    == 0)
		return "incomplete";
	if (strncmp(c->problem, CKPT_TIMEDOUT, strlen(CKPT_TIMEDOUT)) == 0)
		return "unverified";
	return "corrupt";
}

void
api_job_checkpoints(struct llmctld *d, const struct api_request *req,
    struct api_response *resp, int64_t id)
{
	const struct ckpt *newest;
	struct ckpt *ck;
	struct job *job;
	json_t *arr;
	size_t n, i;

	if ((job = api_job_for_caller(d, req, resp, id)) == NULL)
		return;
	ck = store_checkpoints_of(d->store, id, &n);
	newest = checkpoint_newest(ck, n);
	arr = json_array();
	for (i = 0; i < n; i++)
		json_array_append_new(arr, json_pack("{s:I, s:s, s:s, s:I, "
		    "s:b, s:b, s:o, s:I}", "step", (json_int_t)ck[i].step,
		    "state", ckpt_state(&ck[i]), "path",
		    ck[i].path, "bytes", (json_int_t)ck[i].bytes, "complete",
		    ck[i].complete, "verified", ck[i].verified, "problem",
		    ck[i].problem != NULL ? json_string(ck[i].problem) :
		    json_null(), "mtime", (json_int_t)ck[i].mtime));
	resp->status = 200;
	resp->body = json_pack("{s:o, s:o}", "checkpoints", arr, "newest",
	    newest != NULL ? json_integer(newest->step) : json_null());
	checkpoint_free(ck, n);
	job_free(job);
}

/*
 * api-history: a job's events and its ranks' logs. Log files live in
 * directories the job's user owns, so they are opened through logdir.h
 * (no symlink followed, the file must be the user's own): a job cannot
 * make llmctld read someone else's file for it. They are read on the fs
 * pool, at most a fixed window per request, so a huge or slow log holds
 * one pool thread for its owner, never the event loop.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api.h"
#include "checkpoint.h"
#include "conf.h"
#include "llmctld.h"
#include "logdir.h"
#include "pool.h"
#include "store.h"
#include "util.h"

#define LOG_CHUNK (1024 * 1024) /* most bytes one reply carries */
#define TAIL_WINDOW LOG_CHUNK /* how far back a tail looks for lines */
#define NUL_CHUNKS 8 /* chunks of NULs one reply may skip */

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
		json_array_append_new(arr,
		    json_pack("{s:I, s:I, s:s, s:s}", "id",
		        (json_int_t)ev[i].id, "at", (json_int_t)ev[i].at,
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
		api_error(resp, 400, "bad_request",
		    "%s: expected a "
		    "non-negative integer",
		    key);
		return -1;
	}
	return 0;
}

/* One log read, done on the fs pool: what the reply needs, copied. */
struct logs_read {
	struct api_later *later;
	char *state_dir;
	int64_t job_id;
	uid_t uid;
	long long attempt, rank, offset, tail;
	int ended; /* the attempt has ended */
	/* filled on the pool thread */
	off_t size;
	char *data;
	ssize_t got; /* bytes read from the file */
	size_t len; /* of data, once NULs are dropped */
};

/* pread count bytes, short only at the end of the file or on an error */
static ssize_t
pread_full(int fd, char *buf, size_t count, off_t at)
{
	size_t done = 0;
	ssize_t got;

	while (done < count) {
		got = pread(fd, buf + done, count - done, at + (off_t)done);
		if (got == -1 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		done += (size_t)got;
	}
	return (ssize_t)done;
}

/*
 * Offset where the last n lines of fd (size bytes) start, looking back at
 * most TAIL_WINDOW bytes: one read whatever the file's size (a sparse 20G
 * costs what a 1M one does), so a tail may start mid-file, never earlier.
 */
static off_t
tail_offset(int fd, off_t size, long long n)
{
	off_t from = size > TAIL_WINDOW ? size - TAIL_WINDOW : 0, end;
	ssize_t got, i;
	long long lines = 0;
	char *buf;

	if (n == 0)
		return size; /* the last 0 lines: nothing */
	buf = xmalloc((size_t)(size - from) + 1);
	got = pread_full(fd, buf, (size_t)(size - from), from);
	end = from + got;
	for (i = got - 1; i >= 0; i--) {
		/* a final newline ends the last line, it starts none */
		if (buf[i] == '\n' && from + i != end - 1 && ++lines == n) {
			free(buf);
			return from + i + 1;
		}
	}
	free(buf);
	return from;
}

/*
 * Drop NUL bytes (a sparse file's holes read as NULs), which no client's
 * JSON parser accepts; the reply's offset still counts them.
 */
static size_t
drop_nul(char *buf, size_t len)
{
	size_t i, n = 0;

	for (i = 0; i < len; i++)
		if (buf[i] != '\0')
			buf[n++] = buf[i];
	return n;
}

/* On a pool thread: the user's file, through fds checked at each level. */
static void
logs_read_run(void *arg)
{
	struct logs_read *lr = arg;
	struct stat st;
	char name[64];
	off_t hole;
	int dfd, fd = -1, i;

	dfd = logdir_open(lr->state_dir, lr->job_id, (int)lr->attempt, lr->uid);
	if (dfd != -1) {
		snprintf(name, sizeof(name), "rank-%lld.out", lr->rank);
		fd = logdir_open_file(dfd, name, lr->uid);
		close(dfd);
	}
	if (fd == -1 || fstat(fd, &st) == -1) {
		if (fd != -1)
			close(fd);
		lr->size = -1; /* not written yet */
		return;
	}
	lr->size = st.st_size;
	if (lr->offset < 0)
		lr->offset =
		    lr->tail >= 0 ? tail_offset(fd, st.st_size, lr->tail) : 0;
	if (lr->offset > st.st_size)
		lr->offset = st.st_size;
	/*
	 * Skip a hole: its NULs would be dropped, and a reply must not be
	 * empty while there is more to come (the client stops at one).
	 */
	if ((hole = lseek(fd, lr->offset, SEEK_DATA)) > lr->offset)
		lr->offset = hole;
	else if (hole == -1 && errno == ENXIO)
		lr->offset = st.st_size;
	lr->data = xmalloc(LOG_CHUNK);
	/* written NULs (not a hole) leave nothing: look a few chunks on */
	for (i = 0; i < NUL_CHUNKS; i++) {
		lr->got = pread_full(fd, lr->data, LOG_CHUNK, lr->offset);
		if ((lr->len = drop_nul(lr->data, (size_t)lr->got)) > 0 ||
		    lr->got < LOG_CHUNK || i == NUL_CHUNKS - 1)
			break;
		lr->offset += lr->got;
	}
	close(fd);
	api_utf8_scrub((unsigned char *)lr->data, lr->len);
}

/* The reply, in the format cli/cmd-logs.c reads. */
static void
logs_read_reply(struct logs_read *lr, struct api_response *resp)
{
	resp->status = 200;
	if (lr->size < 0) {
		/* not written yet: nothing to show, not an error */
		resp->body = json_pack("{s:I, s:I, s:I, s:s, s:b}", "attempt",
		    (json_int_t)lr->attempt, "rank", (json_int_t)lr->rank,
		    "offset", (json_int_t)(lr->offset > 0 ? lr->offset : 0),
		    "data", "", "done", lr->ended);
		return;
	}
	resp->body = json_pack("{s:I, s:I, s:I, s:s%, s:b}", "attempt",
	    (json_int_t)lr->attempt, "rank", (json_int_t)lr->rank, "offset",
	    (json_int_t)(lr->offset + lr->got), "data", lr->data, lr->len,
	    "done", lr->ended && lr->offset + lr->got >= lr->size);
}

static void
logs_read_free(struct logs_read *lr)
{
	free(lr->state_dir);
	free(lr->data);
	free(lr);
}

/* Back on the loop: answer the deferred request. */
static void
logs_read_done(void *arg, int cancelled)
{
	struct logs_read *lr = arg;
	struct api_response resp = { 0 };

	if (cancelled)
		api_error(&resp, 503, "unavailable", "llmctld is stopping");
	else
		logs_read_reply(lr, &resp);
	api_answer(lr->later, &resp);
	logs_read_free(lr);
}

void
api_job_logs(struct llmctld *d, const struct api_request *req,
    struct api_response *resp, int64_t id)
{
	struct attempt **as;
	struct logs_read *lr;
	struct job *job;
	long long rank, attempt, offset, tail;
	size_t n, i;
	int ended = 1;

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
		api_error(resp, 404, "not_found",
		    "job %lld has no attempt %lld", (long long)id, attempt);
		goto out;
	}
	if (rank >= job->world_size) {
		api_error(resp, 404, "not_found",
		    "job %lld has no rank %lld "
		    "(world size %d)",
		    (long long)id, rank, job->world_size);
		goto out;
	}
	for (i = 0; i < n; i++)
		if (as[i]->attempt == attempt)
			ended = as[i]->ended_at != 0;
	lr = xcalloc(1, sizeof(*lr));
	lr->state_dir = xstrdup(d->conf->state_dir);
	lr->job_id = id;
	lr->uid = job->uid;
	lr->attempt = attempt;
	lr->rank = rank;
	lr->offset = offset;
	lr->tail = tail;
	lr->ended = ended;
	/* the user's file is read off the loop, the user's turn in the pool */
	if (d->fspool != NULL && (lr->later = api_defer(req, resp)) != NULL) {
		pool_push(
		    d->fspool, job->uid, logs_read_run, logs_read_done, lr);
		goto out;
	}
	logs_read_run(lr); /* no server behind this request (tests) */
	logs_read_reply(lr, resp);
	logs_read_free(lr);
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
	if (checkpoint_in_progress(c->problem))
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
	const char *pattern = NULL, *file = NULL;
	struct ckpt *ck;
	struct job *job;
	json_t *arr, *js, *o;
	size_t n, i;

	if ((job = api_job_for_caller(d, req, resp, id)) == NULL)
		return;
	/* the job's own pattern and file name the layouts */
	js = job->spec != NULL ? json_loads(job->spec, 0, NULL) : NULL;
	o = json_object_get(js, "checkpoint");
	pattern = json_string_value(json_object_get(o, "pattern"));
	file = json_string_value(json_object_get(o, "file"));
	ck = store_checkpoints_of(d->store, id, &n);
	newest = checkpoint_newest(ck, n);
	arr = json_array();
	for (i = 0; i < n; i++) {
		o = json_pack("{s:I, s:s, s:s, s:I, s:b, s:b, s:o, s:I}",
		    "step", (json_int_t)ck[i].step, "state", ckpt_state(&ck[i]),
		    "path", ck[i].path, "bytes", (json_int_t)ck[i].bytes,
		    "complete", ck[i].complete, "verified", ck[i].verified,
		    "problem",
		    ck[i].problem != NULL ? json_string(ck[i].problem)
		                          : json_null(),
		    "mtime", (json_int_t)ck[i].mtime);
		json_object_set_new(o, "layout",
		    json_string(checkpoint_layout(ck[i].path,
		        pattern != NULL ? pattern : "step_{step}", file)));
		json_array_append_new(arr, o);
	}
	json_decref(js);
	resp->status = 200;
	/* several entries may share the newest step (Lightning's last.ckpt) */
	resp->body = json_pack("{s:o, s:o, s:o}", "checkpoints", arr, "newest",
	    newest != NULL ? json_integer(newest->step) : json_null(),
	    "resume_from",
	    newest != NULL ? json_string(newest->path) : json_null());
	checkpoint_free(ck, n);
	job_free(job);
}

/*
 * fuzz_api: libFuzzer target for the HTTP request path, api_dispatch()
 * (build and run with tests/fuzz/run-fuzz-api.sh, or `make fuzz-api
 * FUZZ_TIME=seconds`). The event loop never runs: handlers only touch the
 * store, the health table and monitor_kick(), which schedules a timer.
 *
 * One input is one request, turned into struct api_request the way
 * server.c does it on the socket (path %-decoded by evhttp, query parsed
 * by evhttp) and server-tcp.c on TCP (http-parse.c decodes the same way;
 * its parser has its own tests, tests/unit/check_http_parse.c):
 *
 *   byte 0   bits 0-1 method (GET, POST, other, GET), bit 2 TCP, bit 3
 *            admin, bits 4-5 caller (owner of job 1, owner of job 2, a
 *            third user, nobody), bit 6 cluster loaded, bit 7 send the
 *            Authorization field
 *   then     path NUL query NUL authorization NUL body (the rest, NULs and
 *            all, like an HTTP body)
 *
 * Every input starts from the same seeded state: three jobs (1 owned by
 * the caller "owner", 2 by "other", 3 cancelled), an attempt of job 1 with
 * rank logs, checkpoints and a heartbeat token. A request that may have
 * written (a 2xx POST) puts the seed back, so a crash reproduces from its
 * input alone.
 *
 * Besides "no crash, no leak, no UB" it checks what a client relies on:
 * a status in 100-599 and never 500 (nothing here is the daemon's fault);
 * exactly one of a JSON body (that serializes) and text; errors are
 * {"error","code"}; TCP serves only heartbeat, metrics and health; a
 * non-admin never gets another user's job back; a heartbeat is accepted
 * only for a rank of the world; a list honours limit, logs honour tail.
 *
 * tests/fuzz/api-corpus/ holds one seed per route and per edge found so
 * far, written by tests/fuzz/api-corpus.py. Replay them, replies printed:
 *   FUZZ_API_VERBOSE=1 TMPDIR=/tmp _build-fuzz/fuzz_api -runs=0 \
 *       tests/fuzz/api-corpus
 */
#include "config.h"

#include <sys/queue.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/thread.h>

#include "api.h"
#include "backend.h"
#include "checkpoint.h"
#include "conf.h"
#include "health.h"
#include "llmctld.h"
#include "log.h"
#include "monitor.h"
#include "store.h"
#include "users.h"
#include "util.h"
#include "worker.h"

#define FUZZ_MAX_QUERY 64 /* more parameters: not a request we model */
#define FUZZ_TOKEN "0123456789abcdef0123456789abcdef"
#define FUZZ_OTHER_UID ((uid_t)4242)
#define FUZZ_THIRD_UID ((uid_t)4343)

int LLVMFuzzerInitialize(int *, char ***);
int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void fuzz_cleanup(void);
static int rm_cb(const char *, const struct stat *, int, struct FTW *);
static void seed_open(void);
static void seed_close(void);
static int64_t seed_submit(const char *, uid_t, int);
static void seed_write(const char *, const char *, size_t);
static void check_owner(const struct api_request *, const json_t *);
static long long query_number(
    const struct api_request *, const char *, long long);
static void check_query_kept(const struct api_request *, const json_t *);
static void check_response(
    const struct api_request *, const struct api_response *);

/* conf/examples/hello.yaml, the smallest valid job */
static const char hello_yaml[] =
    "version: 1\n"
    "name: hello\n"
    "command: echo \"hello from $(hostname), rank $RANK of $WORLD_SIZE\"\n"
    "resources:\n"
    "  nodes: 2\n"
    "  gpus_per_node: 0\n"
    "  time_limit: 5m\n"
    "health:\n"
    "  heartbeat_timeout: 0\n"
    "  startup_timeout: 5m\n"
    "recovery:\n"
    "  max_restarts: 0\n";

static struct llmctld d;
static struct bcluster *cluster;
static char *tmpdir;
static uid_t uids[4];
static int verbose; /* $FUZZ_API_VERBOSE: print replies */

static int
rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	if (flag == FTW_DP)
		return rmdir(path);
	return unlink(path);
}

/* Leave nothing in $TMPDIR (the script also removes its TMPDIR on a crash). */
static void
fuzz_cleanup(void)
{
	seed_close();
	monitor_free(d.monitor);
	worker_free(d.worker);
	users_free(d.users);
	bcluster_free(cluster);
	if (d.base != NULL)
		event_base_free(d.base);
	conf_free(d.conf);
	if (tmpdir != NULL)
		nftw(tmpdir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	free(tmpdir);
	tmpdir = NULL;
}

static int64_t
seed_submit(const char *name, uid_t uid, int cancel)
{
	struct api_request req = { .method = API_POST, .path = "/v1/jobs" };
	struct api_response resp;
	json_t *body, *jid;
	char *text, *yaml, *path;
	int64_t id;

	yaml = xasprintf("%.*sname: %s\n%s", 11, hello_yaml, name,
	    strstr(hello_yaml, "command:"));
	body = json_pack("{s:s, s:s, s:s}", "spec", yaml, "file", "hello.yaml",
	    "workdir", "/tmp");
	text = json_dumps(body, JSON_COMPACT);
	req.body = text;
	req.body_len = strlen(text);
	req.uid = uid;
	req.gid = uid;
	api_dispatch(&d, &req, &resp);
	if (resp.status != 201 ||
	    (jid = json_object_get(resp.body, "id")) == NULL) {
		fprintf(stderr, "fuzz_api: seeding a job failed: %d\n",
		    resp.status);
		abort();
	}
	id = json_integer_value(jid);
	json_decref(resp.body);
	if (cancel) {
		path = xasprintf("/v1/jobs/%lld/cancel", (long long)id);
		req.path = path;
		req.body = "";
		req.body_len = 0;
		api_dispatch(&d, &req, &resp);
		if (resp.status != 200)
			abort();
		json_decref(resp.body);
		free(path);
	}
	json_decref(body);
	free(text);
	free(yaml);
	return id;
}

static void
seed_write(const char *name, const char *data, size_t len)
{
	char *path;
	int fd;

	path = xasprintf("%s/logs/1/1/%s", tmpdir, name);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1 ||
	    write(fd, data, len) != (ssize_t)len)
		abort();
	close(fd);
	free(path);
}

/* The state every input starts from. */
static void
seed_open(void)
{
	/* bytes a rank may print that JSON cannot carry as they are */
	static const char bad_utf8[] =
	    "step 1\nstep 2 \xff\xfe\xc0\x80 "
	    "\xe2\x82\nstep 3 \xf0\x9f\x98\x80 surrogate \xed\xa0\x80 "
	    "overlong \xe0\x80\xaf \xf0\x80\x80\xaf big \xf4\x90\x80\x80\n\n";
	struct attempt a = { 0 };
	struct ckpt ck[2] = {
		{ .step = 100,
		    .path = (char *)"/ckpt/step_100",
		    .bytes = 10,
		    .complete = 1,
		    .verified = 1,
		    .mtime = 1 },
		{ .step = 200,
		    .path = (char *)"/ckpt/step_200",
		    .bytes = 10,
		    .problem = (char *)"no COMPLETE marker",
		    .mtime = 2 },
	};
	char *cause = NULL, *path, *big;
	size_t i;

	if ((d.store = store_open(d.conf->database, &cause)) == NULL) {
		fprintf(stderr, "fuzz_api: %s\n", cause);
		abort();
	}
	d.health = health_create();
	d.cluster = NULL;
	if (seed_submit("mine", uids[0], 0) != 1 ||
	    seed_submit("theirs", uids[1], 0) != 2 ||
	    seed_submit("done", uids[0], 1) != 3)
		abort();
	a.job_id = 1;
	a.attempt = 1;
	a.tag = (char *)"fuzztag1";
	a.state = ATTEMPT_RUNNING;
	a.slurm_job_id = 1001;
	a.nodes = (char *)"node[1-2]";
	a.master_port = 29501;
	a.submitted_at = 1;
	a.started_at = 2;
	a.plan = (char *)"{\"ranks\": [{\"rank\": 0, \"node\": \"node1\"}]}";
	a.token_hash =
	    health_token_hash(FUZZ_TOKEN); /* as the store keeps it */
	a.last_step = -1;
	a.blamed = (char *)"node1,node[1-3],bad[";
	a.ckpt_start = a.ckpt_end = -1;
	/* the submit made attempt 1: it runs now */
	if (store_attempt_update(d.store, &a) != 0 ||
	    store_checkpoints_replace(d.store, 1, ck, nitems(ck)) != 0)
		abort();
	health_register(d.health, a.token_hash, 1, 1, 2);
	free(a.token_hash);

	path = xasprintf("%s/logs/1/1", tmpdir);
	for (i = strlen(tmpdir) + 1; path[i] != '\0'; i++) {
		if (path[i] != '/')
			continue;
		path[i] = '\0';
		if (mkdir(path, 0700) == -1 && errno != EEXIST)
			abort();
		path[i] = '/';
	}
	if (mkdir(path, 0700) == -1 && errno != EEXIST)
		abort();
	free(path);
	seed_write("rank-0.out", bad_utf8, sizeof(bad_utf8) - 1);
	/* more than one read buffer of tail_offset() */
	big = xmalloc(20000);
	for (i = 0; i < 20000; i++)
		big[i] = i % 37 == 36 ? '\n' : 'a' + i % 26;
	seed_write("rank-1.out", big, 20000);
	free(big);
}

static void
seed_close(void)
{
	char *p;

	if (d.store == NULL)
		return;
	store_close(d.store);
	d.store = NULL;
	health_free(d.health);
	d.health = NULL;
	p = xasprintf("%s/logs", tmpdir);
	nftw(p, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	free(p);
	unlink(d.conf->database);
	p = xasprintf("%s-wal", d.conf->database);
	unlink(p);
	free(p);
	p = xasprintf("%s-shm", d.conf->database);
	unlink(p);
	free(p);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *t = getenv("TMPDIR");
	char *cause = NULL;
	int64_t stamp = 0;

	(void)argc;
	(void)argv;
	verbose = getenv("FUZZ_API_VERBOSE") != NULL;
	log_init(1, verbose ? LOG_LEVEL_DEBUG : LOG_LEVEL_ERROR);
	tmpdir = xasprintf(
	    "%s/llmctl-fuzz-api.XXXXXX", t != NULL && *t != '\0' ? t : "/tmp");
	if (mkdtemp(tmpdir) == NULL) {
		perror(tmpdir);
		abort();
	}
	atexit(fuzz_cleanup);
	if ((d.conf = conf_load(NULL, &cause)) == NULL) {
		fprintf(stderr, "fuzz_api: %s\n", cause);
		abort();
	}
	free(d.conf->state_dir);
	d.conf->state_dir = xstrdup(tmpdir);
	free(d.conf->database);
	d.conf->database = xasprintf("%s/llmctld.db", tmpdir);
	d.backend = &backend_fake;
	if (evthread_use_pthreads() != 0 || (d.base = event_base_new()) == NULL)
		abort();
	d.worker = worker_create(d.base, d.backend);
	d.users = users_create();
	d.monitor = monitor_create(&d);
	if (backend_fake.cluster(&stamp, NULL, 0, &cluster, &cause) != 0)
		abort();
	uids[0] = getuid();
	uids[1] = uids[0] == FUZZ_OTHER_UID ? FUZZ_THIRD_UID : FUZZ_OTHER_UID;
	uids[2] = uids[0] == FUZZ_THIRD_UID ? FUZZ_OTHER_UID : FUZZ_THIRD_UID;
	uids[3] = 65534;
	seed_open();
	return 0;
}

/* A job object in a reply must be the caller's unless they are admin. */
static void
check_owner(const struct api_request *req, const json_t *job)
{
	json_t *uid = json_object_get(job, "uid");

	if (req->admin || uid == NULL)
		return;
	if (!json_is_integer(uid) ||
	    (uid_t)json_integer_value(uid) != req->uid) {
		fprintf(stderr, "fuzz_api: uid %lu got a job of uid %lld\n",
		    (unsigned long)req->uid,
		    (long long)json_integer_value(uid));
		abort();
	}
}

/* A query value that is a whole decimal number, else -1 (or dflt if absent). */
static long long
query_number(const struct api_request *req, const char *key, long long dflt)
{
	const char *v = api_query(req, key);
	char *end;
	long long n;

	if (v == NULL)
		return dflt;
	errno = 0;
	n = strtoll(v, &end, 10);
	return errno != 0 || end == v || *end != '\0' ? -1 : n;
}

/* What a 200 promises about the query that asked for it. */
static void
check_query_kept(const struct api_request *req, const json_t *body)
{
	const char *data;
	long long n, lines = 0;
	size_t len, i;

	if (strcmp(req->path, "/v1/jobs") == 0 && req->method == API_GET &&
	    (n = query_number(req, "limit", 100)) != 100 &&
	    (n < 1 || n > 10000 ||
	        (long long)json_array_size(json_object_get(body, "jobs")) >
	            n)) {
		fprintf(stderr, "fuzz_api: limit=%s answered\n",
		    api_query(req, "limit"));
		abort();
	}
	if (strstr(req->path, "/logs") == NULL ||
	    api_query(req, "offset") != NULL ||
	    (n = query_number(req, "tail", -1)) < 0 ||
	    (data = json_string_value(json_object_get(body, "data"))) == NULL)
		return;
	/* the last n lines: n - 1 newlines before the end at most */
	len = json_string_length(json_object_get(body, "data"));
	for (i = 0; i + 1 < len; i++)
		lines += data[i] == '\n';
	if ((n == 0 && len != 0) || (n > 0 && lines > n - 1)) {
		fprintf(stderr, "fuzz_api: tail=%lld gave %lld lines\n", n,
		    lines + (len > 0));
		abort();
	}
}

static void
check_response(const struct api_request *req, const struct api_response *resp)
{
	json_t *jobs, *v = NULL;
	char *text;
	size_t i;

	if (resp->status < 100 || resp->status > 599 || resp->status == 500) {
		fprintf(stderr, "fuzz_api: status %d\n", resp->status);
		abort();
	}
	if ((resp->body == NULL) == (resp->text == NULL))
		abort();
	if (resp->text != NULL) {
		/* only the metrics are text, /v1/metrics on the socket */
		if (strcmp(req->path, req->tcp ? "/metrics" : "/v1/metrics") !=
		    0)
			abort();
		return;
	}
	if ((text = json_dumps(
	         resp->body, JSON_INDENT(2) | JSON_PRESERVE_ORDER)) == NULL)
		abort();
	free(text);
	if (resp->status >= 400 &&
	    (!json_is_string(json_object_get(resp->body, "error")) ||
	        !json_is_string(json_object_get(resp->body, "code")))) {
		fprintf(stderr, "fuzz_api: error %d without error/code\n",
		    resp->status);
		abort();
	}
	if (req->tcp && resp->status != 404 &&
	    strcmp(req->path, "/v1/heartbeat") != 0 &&
	    strcmp(req->path, "/metrics") != 0 &&
	    strcmp(req->path, "/v1/health") != 0) {
		fprintf(stderr, "fuzz_api: %s served over TCP\n", req->path);
		abort();
	}
	if (resp->status / 100 != 2)
		return;
	/* the seeded token is for a world of 2 */
	if (strcmp(req->path, "/v1/heartbeat") == 0 &&
	    ((v = json_loadb(req->body, req->body_len, 0, NULL)) == NULL ||
	        json_integer_value(json_object_get(v, "rank")) < 0 ||
	        json_integer_value(json_object_get(v, "rank")) > 1)) {
		fprintf(stderr,
		    "fuzz_api: heartbeat of a rank out of range "
		    "accepted\n");
		abort();
	}
	json_decref(v);
	v = NULL;
	check_query_kept(req, resp->body);
	check_owner(req, resp->body);
	if ((jobs = json_object_get(resp->body, "jobs")) != NULL)
		json_array_foreach(jobs, i, v) check_owner(req, v);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum api_method methods[] = { API_GET, API_POST, API_OTHER,
		API_GET };
	struct api_request req = { 0 };
	struct api_response resp;
	struct evkeyvalq params;
	struct evkeyval *kv;
	const char *field[3] = { "", "", "" };
	char *copy, *p, *end, *decoded = NULL, *body, *dump;
	size_t i, nf, dlen;
	uint8_t flags;

	if (size < 1)
		return 0;
	flags = data[0];
	/* path, query, authorization: NUL-terminated; body: the rest */
	copy = xmalloc(size);
	memcpy(copy, data + 1, size - 1);
	copy[size - 1] = '\0';
	p = copy;
	end = copy + size - 1;
	for (nf = 0; nf < nitems(field) && p < end; nf++) {
		field[nf] = p;
		p += strlen(p) + 1;
	}
	if (p > end)
		p = end;
	body = xmalloc((size_t)(end - p) + 1);
	memcpy(body, data + 1 + (p - copy), (size_t)(end - p));
	body[end - p] = '\0';

	TAILQ_INIT(&params);
	/* as server.c: a %00 in the path or a bad query is a 400 there */
	if ((decoded = evhttp_uridecode(field[0], 0, &dlen)) == NULL ||
	    strlen(decoded) != dlen ||
	    (field[1][0] != '\0' &&
	        evhttp_parse_query_str(field[1], &params) != 0))
		goto out;
	TAILQ_FOREACH(kv, &params, next)
	req.nquery++;
	if (req.nquery > FUZZ_MAX_QUERY)
		goto out;
	req.query = xcalloc(req.nquery, sizeof(*req.query));
	i = 0;
	TAILQ_FOREACH(kv, &params, next)
	{
		req.query[i].key = kv->key;
		req.query[i++].value = kv->value;
	}
	req.method = methods[flags & 3];
	req.tcp = (flags & 4) != 0;
	req.admin = !req.tcp && (flags & 8) != 0;
	if (!req.tcp) {
		req.uid = uids[(flags >> 4) & 3];
		req.gid = req.uid;
	}
	d.cluster = (flags & 0x40) ? cluster : NULL;
	req.authorization = (flags & 0x80) ? field[2] : NULL;
	req.path = decoded;
	req.body = body;
	req.body_len = (size_t)(end - p);

	api_dispatch(&d, &req, &resp);
	if (verbose) {
		dump = resp.body != NULL ? json_dumps(resp.body, JSON_COMPACT)
		                         : NULL;
		fprintf(stderr, "%s %s -> %d %.300s\n",
		    req.method == API_GET        ? "GET"
		        : req.method == API_POST ? "POST"
		                                 : "OTHER",
		    req.path, resp.status, dump != NULL ? dump : resp.text);
		free(dump);
	}
	check_response(&req, &resp);
	json_decref(resp.body);
	free(resp.text);

	/* it may have written: back to the seed for the next input */
	if (req.method == API_POST && resp.status / 100 == 2) {
		seed_close();
		seed_open();
	}
out:
	d.cluster = NULL;
	free(req.query);
	evhttp_clear_headers(&params);
	free(decoded);
	free(body);
	free(copy);
	return 0;
}

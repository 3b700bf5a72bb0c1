/*
 * api: the HTTP API's handlers as plain functions of a request, so they
 * know nothing of libevent (server.c turns HTTP into struct api_request).
 * Handlers fill a status and a JSON body; errors are {"error","code"}.
 */
#ifndef LLMCTLD_API_H
#define LLMCTLD_API_H

#include <stddef.h>
#include <sys/types.h>

#include <jansson.h>

struct llmctld;

enum api_method {
	API_GET,
	API_POST,
	API_OTHER,
};

struct api_kv {
	char *key;
	char *value;
};

struct api_request {
	enum api_method method;
	const char *path; /* without the query */
	struct api_kv *query;
	size_t nquery;
	const char *body; /* NUL-terminated */
	size_t body_len;
	uid_t uid; /* from SO_PEERCRED */
	gid_t gid;
	int admin; /* root or the admin group */
	int tcp; /* came over TCP: no identity */
	const char *authorization; /* the header, or NULL */
	const char *idempotency_key; /* the header, or NULL */
	void *later; /* the server's, for api_defer(); NULL over TCP */
};

struct api_response {
	int status;
	json_t *body;
	char *text; /* plain text instead of body (metrics) */
	int deferred; /* api_defer(): api_answer() replies */
	int counted_later; /* the handler counts its answer (metrics_api) */
};

/*
 * A handler whose answer comes from a pool thread calls api_defer(), leaves
 * resp empty and later, on the loop's thread, calls api_answer() exactly
 * once. NULL when nothing can wait for it (no server: tests, fuzzers;
 * the TCP listener, whose routes all answer at once):
 * then it must answer in resp now.
 */
struct api_later;
struct api_later *api_defer(const struct api_request *, struct api_response *);
void api_answer(struct api_later *, struct api_response *);

/*
 * A reply that goes on: 200 and lines of JSON as api_stream_send() adds
 * them, until api_stream_end(), which frees the stream (server-stream.c).
 * NULL when no server is behind the request. api_stream_send() returns -1
 * when the reader has gone or is too slow (the connection was closed):
 * the caller then ends the stream.
 */
struct api_stream;
struct api_stream *api_stream_start(
    const struct api_request *, struct api_response *);
int api_stream_alive(const struct api_stream *);
/* Bytes queued for the reader and not yet taken by it. */
size_t api_stream_unsent(const struct api_stream *);
/* Close the connection now, logging why; api_stream_end() still frees. */
void api_stream_close(struct api_stream *, const char *why);
int api_stream_send(struct api_stream *, const char *, size_t);
void api_stream_end(struct api_stream *);

/* Route one request; always fills resp. */
void api_dispatch(
    struct llmctld *, const struct api_request *, struct api_response *);

const char *api_query(const struct api_request *, const char *key);
void api_error(struct api_response *, int status, const char *code,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Replace what is not UTF-8 (as jansson sees it) with '?', in place. */
void api_utf8_scrub(unsigned char *, size_t);

/* api-submit.c: POST /v1/jobs; api_jobs_flush() answers the submits
 * still queued for their commit (at shutdown). */
void api_jobs_submit(
    struct llmctld *, const struct api_request *, struct api_response *);
void api_jobs_flush(struct llmctld *);

/* api-jobs.c */
void api_jobs_list(
    struct llmctld *, const struct api_request *, struct api_response *);
void api_jobs_get(struct llmctld *, const struct api_request *,
    struct api_response *, int64_t id);
void api_jobs_cancel(struct llmctld *, const struct api_request *,
    struct api_response *, int64_t id);

/* api-jobs.c: the caller's job, or NULL with resp filled (404/403). */
struct job;
struct attempt;
/* A job's object; with_detail adds attempts, spec, health and goodput. */
json_t *api_job_json(struct llmctld *, const struct job *, int with_detail);
char *api_user_name(struct llmctld *, uid_t);
/* Its summary, last its newest attempt or NULL. */
json_t *api_job_summary_json(const struct job *, const struct attempt *last);
struct job *api_job_for_caller(struct llmctld *, const struct api_request *,
    struct api_response *, int64_t id);
/* Parse the submit body and spec; NULL with resp filled on any error. */
struct spec;
struct spec *api_parse_spec_body(
    const struct api_request *, struct api_response *);

/* api-cluster.c */
void api_plan(
    struct llmctld *, const struct api_request *, struct api_response *);
void api_nodes(
    struct llmctld *, const struct api_request *, struct api_response *);
/* api-nodes.c: node health records, and an admin's clear */
json_t *api_node_health_json(struct llmctld *, const struct api_request *);
int api_node_path(const char *path, const char **name, size_t *len);
void api_node_clear(
    struct llmctld *, const struct api_request *, struct api_response *);
/* The spec cannot be placed even on an idle cluster: fills resp. */
int api_check_placeable(
    struct llmctld *, const struct spec *, struct api_response *);

/* api-health.c: the TCP side */
void api_heartbeat(
    struct llmctld *, const struct api_request *, struct api_response *);
/* api-metrics.c: /metrics over TCP, /v1/metrics (with identity) */
void api_metrics(
    struct llmctld *, const struct api_request *, struct api_response *);

/* api-feed.c: GET /v1/events, GET /v1/jobs/{id}/events?follow=1 */
void api_events(struct llmctld *, const struct api_request *,
    struct api_response *, int64_t job_id);
/* End every stream (llmctld stopping), before the feed and servers go. */
void api_events_close_all(void);

/* api-goodput.c: a job's "goodput" object; GET /v1/goodput, the totals */
json_t *api_goodput_json(struct llmctld *, const struct job *);
void api_goodput(
    struct llmctld *, const struct api_request *, struct api_response *);

/* api-history.c */
void api_job_events(struct llmctld *, const struct api_request *,
    struct api_response *, int64_t id);
void api_job_checkpoints(struct llmctld *, const struct api_request *,
    struct api_response *, int64_t id);
void api_job_logs(struct llmctld *, const struct api_request *,
    struct api_response *, int64_t id);

#endif

/*
 * check_http_parse: the TCP listener's request heads and targets
 * (daemon/http-parse.c): what is taken, what is refused with which status,
 * where a head ends however it arrives, and targets decoded as evhttp
 * decodes them on the socket.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "http-parse.h"
#include "unit.h"
#include "util.h"

static const struct {
	const char *head;
	int status; /* 0: parsed; else the refusal's */
	enum api_method method;
	const char *target;
	const char *auth;
	size_t body_len;
	int http10;
	int keep_alive;
	int expect;
} heads[] = {
	{ .head = "POST /v1/heartbeat HTTP/1.1\r\nHost: x\r\n"
	          "authorization: Bearer tok \r\nContent-Length: 21\r\n\r\n",
	    .method = API_POST,
	    .target = "/v1/heartbeat",
	    .auth = "Bearer tok",
	    .body_len = 21,
	    .keep_alive = 1 },
	{ .head = "GET /metrics HTTP/1.1\n\n", /* LF alone, as evhttp */
	    .method = API_GET,
	    .target = "/metrics",
	    .keep_alive = 1 },
	{ .head = "GET / HTTP/1.0\r\n\r\n",
	    .method = API_GET,
	    .target = "/",
	    .http10 = 1 },
	{ .head = "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
	    .method = API_GET,
	    .target = "/",
	    .http10 = 1,
	    .keep_alive = 1 },
	{ .head = "GET / HTTP/1.1\r\nconnection: te, CLOSE\r\n\r\n",
	    .method = API_GET,
	    .target = "/" },
	{ .head = "GET / HTTP/1.1\r\nConnection: close\r\n"
	          "Connection: keep-alive\r\n\r\n",
	    .method = API_GET,
	    .target = "/" },
	{ .head = "GET / HTTP/1.2\r\n\r\n", /* a later 1.x reads as 1.1 */
	    .method = API_GET,
	    .target = "/",
	    .keep_alive = 1 },
	{ .head = "PUT /v1/health HTTP/1.1\r\nContent-Length: 2\r\n\r\n",
	    .method = API_OTHER,
	    .target = "/v1/health",
	    .body_len = 2,
	    .keep_alive = 1 },
	{ .head = "get / HTTP/1.1\r\n\r\n", /* methods are case-sensitive */
	    .method = API_OTHER,
	    .target = "/",
	    .keep_alive = 1 },
	{ .head = "POST / HTTP/1.1\r\nExpect: 100-Continue\r\n"
	          "Content-Length: 5\r\n\r\n",
	    .method = API_POST,
	    .target = "/",
	    .body_len = 5,
	    .keep_alive = 1,
	    .expect = 1 },
	{ .head = "POST / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n",
	    .method = API_POST,
	    .target = "/",
	    .http10 = 1 },
	{ .head = "POST / HTTP/1.1\r\nContent-Length: 65536\r\n\r\n",
	    .method = API_POST,
	    .target = "/",
	    .body_len = 65536,
	    .keep_alive = 1 },
	{ .head = "POST / HTTP/1.1\r\nContent-Length: 5\r\n"
	          "Content-Length: 5\r\n\r\n",
	    .method = API_POST,
	    .target = "/",
	    .body_len = 5,
	    .keep_alive = 1 },
	{ .head = "GET / HTTP/1.1\r\nAuthorization:Bearer\ta\t\r\n"
	          "Authorization: Bearer b\r\n\r\n", /* the first */
	    .method = API_GET,
	    .target = "/",
	    .auth = "Bearer\ta",
	    .keep_alive = 1 },
	{ .head = "GET / HTTP/1.1\r\nAuthorization:\r\n\r\n",
	    .method = API_GET,
	    .target = "/",
	    .auth = "",
	    .keep_alive = 1 },

	{ .head = "POST / HTTP/1.1\r\nContent-Length: 65537\r\n\r\n",
	    .status = 413 },
	{ .head = "POST / HTTP/1.1\r\n"
	          "Content-Length: 99999999999999999999999999\r\n\r\n",
	    .status = 413 },
	{ .head = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
	    .status = 411 },
	{ .head = "POST / HTTP/1.1\r\nTransfer-Encoding: identity\r\n"
	          "Content-Length: 3\r\n\r\n",
	    .status = 411 },
	{ .head = "POST / HTTP/1.1\r\nExpect: 200-ok\r\n\r\n", .status = 417 },
	{ .head = "GET / HTTP/2.0\r\n\r\n", .status = 505 },
	{ .head = "GET / HTTP/1.10\r\n\r\n", .status = 505 },
	{ .head = "POST / HTTP/1.1\r\nContent-Length: 5\r\n"
	          "Content-Length: 6\r\n\r\n",
	    .status = 400 },
	{ .head = "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
	    .status = 400 },
	{ .head = "POST / HTTP/1.1\r\nContent-Length: 1 2\r\n\r\n",
	    .status = 400 },
	{ .head = "POST / HTTP/1.1\r\nContent-Length:\r\n\r\n", .status = 400 },
	{ .head = "GET / FTP/1.1\r\n\r\n", .status = 400 },
	{ .head = "GET /\r\n\r\n", .status = 400 },
	{ .head = "GET\r\n\r\n", .status = 400 },
	{ .head = "GET  / HTTP/1.1\r\n\r\n", .status = 400 },
	{ .head = "GET / HTTP/1.1 \r\n\r\n", .status = 400 },
	{ .head = " GET / HTTP/1.1\r\n\r\n", .status = 400 },
	{ .head = "G(T / HTTP/1.1\r\n\r\n", .status = 400 },
	{ .head = "GET / HTTP/1.1\r\nNo colon\r\n\r\n", .status = 400 },
	{ .head = "GET / HTTP/1.1\r\nName : value\r\n\r\n", .status = 400 },
	{ .head = "GET / HTTP/1.1\r\n: value\r\n\r\n", .status = 400 },
	{ .head = "GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n", .status = 400 },
	{ .head = "GET / HTTP/1.1\r\nA: b\rc\r\n\r\n", .status = 400 },
	{ .head = "GET / HTTP/1.1\r\r\n\r\n", .status = 400 },
};

START_TEST(test_head)
{
	struct http_head h = { 0 };
	struct api_response resp = { 0 };
	size_t len = strlen(heads[_i].head);
	char *buf = xstrdup(heads[_i].head);
	int rc;

	ck_assert_uint_eq(http_head_end(buf, len, 0), len);
	rc = http_parse_head(buf, len, &h, &resp);
	if (heads[_i].status != 0) {
		ck_assert_int_eq(rc, -1);
		ck_assert_int_eq(resp.status, heads[_i].status);
		ck_assert_str_eq(
		    json_string_value(json_object_get(resp.body, "code")),
		    "bad_request");
		json_decref(resp.body);
		free(buf);
		return;
	}
	ck_assert_int_eq(rc, 0);
	ck_assert_ptr_null(resp.body);
	ck_assert_uint_eq(h.len, len);
	ck_assert_int_eq(h.method, heads[_i].method);
	ck_assert_str_eq(buf + h.target, heads[_i].target);
	if (heads[_i].auth == NULL)
		ck_assert_uint_eq(h.auth, 0);
	else
		ck_assert_str_eq(buf + h.auth, heads[_i].auth);
	ck_assert_uint_eq(h.body_len, heads[_i].body_len);
	ck_assert_int_eq(h.http10, heads[_i].http10);
	ck_assert_int_eq(h.keep_alive, heads[_i].keep_alive);
	ck_assert_int_eq(h.expect, heads[_i].expect);
	free(buf);
}
END_TEST

/* A NUL anywhere in the head is refused: it would cut a header short. */
START_TEST(test_head_nul)
{
	char buf[] = "GET / HTTP/1.1\r\nA: b\0c\r\n\r\n";
	struct http_head h = { 0 };
	struct api_response resp = { 0 };

	ck_assert_int_eq(http_parse_head(buf, sizeof(buf) - 1, &h, &resp), -1);
	ck_assert_int_eq(resp.status, 400);
	json_decref(resp.body);
}
END_TEST

/*
 * The head's end is found whatever the pieces it comes in, searching on
 * from two bytes before the last search's end (as server-tcp.c does);
 * what follows it (a body, the next request) is not part of it.
 */
START_TEST(test_head_end)
{
	static const char *const reqs[] = {
		"POST /v1/heartbeat HTTP/1.1\r\nA: b\r\n\r\n{}",
		"GET / HTTP/1.1\nA: b\n\nGET / HTTP/1.1\n\n",
		"GET / HTTP/1.1\r\nA: b\n\r\nx",
		"GET / HTTP/1.1\r\n\r\n\r\n\r\n",
	};
	static const size_t ends[] = { 37, 21, 23, 18 };
	size_t i, k, scan, got;

	for (i = 0; i < nitems(reqs); i++) {
		for (k = 0, scan = 0; k <= strlen(reqs[i]); k++) {
			got = http_head_end(reqs[i], k, scan);
			ck_assert_msg(got == (k < ends[i] ? 0 : ends[i]),
			    "request %zu, %zu bytes: %zu", i, k, got);
			if (got == 0)
				scan = k < 2 ? 0 : k - 2;
		}
	}
	ck_assert_uint_eq(http_head_end("GET / HTTP/1.1\r\n", 16, 0), 0);
}
END_TEST

static const struct {
	const char *target;
	int rc;
	const char *path;
	const char *query; /* key=value;... as decoded */
} targets[] = {
	{ .target = "/v1/health", .path = "/v1/health", .query = "" },
	{ .target = "/v1/%68ealth", .path = "/v1/health", .query = "" },
	{ .target = "/a%2", .path = "/a%2", .query = "" },
	{ .target = "/a%zz%", .path = "/a%zz%", .query = "" },
	{ .target = "/a+b", .path = "/a+b", .query = "" }, /* '+' in a path */
	{ .target = "/x?", .path = "/x", .query = "" },
	{ .target = "/x?a=1&b=%41+c&c=",
	    .path = "/x",
	    .query = "a=1;b=A c;c=;" },
	{ .target = "/x?a=1&", .path = "/x", .query = "a=1;" },
	{ .target = "/x?a=%00b", .path = "/x", .query = "a=;" },
	{ .target = "/x#frag?a=1", .path = "/x", .query = "" },
	{ .target = "/x?a=1#frag", .path = "/x", .query = "a=1;" },
	{ .target = "http://head:6826/v1/health?a=b",
	    .path = "/v1/health",
	    .query = "a=b;" },
	{ .target = "/a%00b", .rc = -1 },
	{ .target = "/x?&a=1", .rc = -1 },
	{ .target = "/x?a", .rc = -1 },
	{ .target = "/x?=1", .rc = -1 },
	{ .target = "/x?a=1&&b=2", .rc = -1 },
	{ .target = "HTTP://head", .rc = -1 },
	{ .target = "v1/health", .rc = -1 },
	{ .target = "*", .rc = -1 },
};

START_TEST(test_target)
{
	struct api_request areq = { 0 };
	char *t = xstrdup(targets[_i].target), q[256] = "";
	size_t i;
	int rc;

	rc = http_parse_target(t, &areq);
	ck_assert_int_eq(rc, targets[_i].rc);
	if (rc == 0) {
		ck_assert_str_eq(areq.path, targets[_i].path);
		for (i = 0; i < areq.nquery; i++)
			snprintf(q + strlen(q), sizeof(q) - strlen(q), "%s=%s;",
			    areq.query[i].key, areq.query[i].value);
		ck_assert_str_eq(q, targets[_i].query);
	}
	free(areq.query);
	free(t);
}
END_TEST

START_TEST(test_reason)
{
	ck_assert_str_eq(http_reason(200), "OK");
	ck_assert_str_eq(http_reason(431), "Request Header Fields Too Large");
	ck_assert_str_eq(http_reason(299), "Unknown");
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("http_parse");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, test_head, 0, nitems(heads));
	tcase_add_test(tc, test_head_nul);
	tcase_add_test(tc, test_head_end);
	tcase_add_loop_test(tc, test_target, 0, nitems(targets));
	tcase_add_test(tc, test_reason);
	suite_add_tcase(s, tc);
	return unit_run(s);
}

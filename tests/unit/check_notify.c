/*
 * check_notify: a job's webhook may only go where webhook_allow says (same
 * scheme, host and port, under the path prefix at a segment boundary, no
 * user info, dot segments or encoded slashes to slip past it); events map
 * to the notifications users ask for; the payload is Slack-compatible
 * JSON; the queue keeps at most webhook_queue deliveries, dropping the
 * oldest and counting them; the spec's notify section parses and
 * round-trips.
 */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "llmctld.h"
#include "notify.h"
#include "spec.h"
#include "store.h"
#include "util.h"
#include "unit.h"

#define ALLOW \
	"https://hooks.slack.com/services/ http://127.0.0.1:9000/, " \
	"http://[::1]:8080/hook"

static const struct {
	const char *url;
	int allowed;
} allow_cases[] = {
	{ "https://hooks.slack.com/services/T0/B0/xyz", 1 },
	{ "HTTPS://Hooks.Slack.com/services/T0", 1 },
	{ "https://hooks.slack.com:443/services/T0", 1 },
	{ "http://hooks.slack.com/services/T0", 0 }, /* scheme */
	{ "https://hooks.slack.com/other", 0 }, /* path */
	{ "https://hooks.slack.com/services", 0 }, /* above the prefix */
	{ "https://hooks.slack.com.evil.net/services/x", 0 },
	{ "https://hooks.slack.com@evil.net/services/x", 0 },
	{ "https://evil.net/?https://hooks.slack.com/services/", 0 },
	{ "https://hooks.slack.com/services/../admin", 0 },
	{ "https://hooks.slack.com/services/%2e%2e/admin", 0 },
	{ "https://hooks.slack.com/services/a%2Fb", 0 },
	{ "https://hooks.slack.com:444/services/T0", 0 },
	{ "http://127.0.0.1:9000/", 1 },
	{ "http://127.0.0.1:9000/any/path?x=1", 1 },
	{ "http://127.0.0.1:9000", 0 }, /* no path: not under "/" */
	{ "http://127.0.0.1:90000/", 0 },
	{ "http://127.0.0.1:900/", 0 },
	{ "http://127.0.0.1/", 0 },
	{ "http://127.0.0.2:9000/", 0 },
	{ "http://[::1]:8080/hook", 1 },
	{ "http://[::1]:8080/hook/x", 1 },
	{ "http://[::1]:8080/hookx", 0 },
	{ "file:///etc/shadow", 0 },
	{ "gopher://127.0.0.1:9000/", 0 },
	{ "http://127.0.0.1:9000/a b", 0 },
	{ "http://127.0.0.1:9000/a\\b", 0 },
	{ "http://127.0.0.1:9000/\r\nHost: x", 0 },
	{ "", 0 },
};

START_TEST(test_allow)
{
	char *why = NULL;
	int rc;

	rc = notify_url_allowed(ALLOW, allow_cases[_i].url, &why);
	ck_assert_msg((rc == 0) == allow_cases[_i].allowed, "%s: %s",
	    allow_cases[_i].url, why != NULL ? why : "allowed");
	if (rc != 0)
		ck_assert_ptr_nonnull(why);
	free(why);
}
END_TEST

START_TEST(test_allow_errors)
{
	char *why = NULL;

	/* nothing allowed: the message names the setting */
	ck_assert_int_eq(
	    notify_url_allowed(NULL, "http://127.0.0.1:9000/", &why), -1);
	ck_assert_ptr_nonnull(strstr(why, "webhook_allow"));
	free(why);
	why = NULL;
	ck_assert_int_eq(
	    notify_url_allowed(ALLOW, "http://10.0.0.1/", &why), -1);
	ck_assert_ptr_nonnull(strstr(why, "webhook_allow"));
	free(why);
	why = NULL;
	ck_assert_int_eq(notify_allow_check(ALLOW, &why), 0);
	ck_assert_int_eq(notify_allow_check("http://ok/ ftp://no/", &why), -1);
	ck_assert_ptr_nonnull(strstr(why, "ftp://no/"));
	free(why);
}
END_TEST

static const struct {
	const char *kind;
	const char *message;
	int type;
} type_cases[] = {
	{ "state", "job COMPLETED", NOTIFY_COMPLETED },
	{ "state", "job FAILED: exit code 1, restarts 3/3 used",
	    NOTIFY_FAILED },
	{ "restart", "node_failure: gpu001 in 30s", NOTIFY_RESTARTED },
	{ "hang", "attempt 1: no heartbeat for 600s; ending it", NOTIFY_HANG },
	{ "goodput", "ETTR 41.0% is below goodput_alert 80%", NOTIFY_GOODPUT },
	{ "state", "attempt 1 running on gpu[001-002]", -1 },
	{ "submitted", "submitted by alice", -1 },
	{ "attempt_ended", "attempt 1 ended FAILED (user_error)", -1 },
};

START_TEST(test_type)
{
	ck_assert_int_eq(
	    notify_type(type_cases[_i].kind, type_cases[_i].message),
	    type_cases[_i].type);
}
END_TEST

START_TEST(test_payload)
{
	struct job job = { .id = 12,
		.name = (char *)"llama",
		.user = (char *)"alice",
		.state = JOB_FAILED };
	struct event_row ev = { .id = 99,
		.at = 1700000000,
		.kind = (char *)"state",
		.message = (char *)"job FAILED: bad \xff byte",
		.job_id = 12 };
	json_t *o;
	const char *text;

	o = notify_payload(NOTIFY_FAILED, &ev, &job);
	ck_assert_ptr_nonnull(o);
	text = json_string_value(json_object_get(o, "text"));
	ck_assert_ptr_nonnull(text);
	ck_assert_str_eq(text,
	    "llmctl: job 12 \"llama\" of alice failed: "
	    "job FAILED: bad ? byte");
	ck_assert_str_eq(
	    json_string_value(json_object_get(o, "event")), "failed");
	ck_assert_int_eq(json_integer_value(json_object_get(o, "job_id")), 12);
	ck_assert_int_eq(
	    json_integer_value(json_object_get(o, "event_id")), 99);
	ck_assert_str_eq(
	    json_string_value(json_object_get(o, "state")), "FAILED");
	ck_assert_str_eq(
	    json_string_value(json_object_get(o, "user")), "alice");
	json_decref(o);
}
END_TEST

/* No loop, no store: deliveries only queue, so the bound can be seen. */
START_TEST(test_queue_bound)
{
	struct conf *conf = conf_load(NULL, NULL);
	struct llmctld d = { .conf = conf };
	struct notify_stats st;
	struct notify *n;
	int i;

	conf->webhook_queue = 5;
	n = notify_create(&d);
	for (i = 1; i <= 12; i++)
		notify_enqueue(
		    n, "http://127.0.0.1:9000/", json_pack("{s:i}", "i", i), i);
	/* a URL llmctld would never send to is not queued at all */
	notify_enqueue(n, "file:///etc/passwd", json_object(), 13);
	notify_get_stats(n, &st);
	ck_assert_uint_eq(st.queued, 5);
	ck_assert_uint_eq(st.dropped, 7);
	ck_assert_uint_eq(st.delivered, 0);
	/* the oldest went: the saved place is before the oldest kept */
	notify_free(n);
	conf_free(conf);
}
END_TEST

static const char *const notify_specs[] = {
	"notify:\n  webhook: http://127.0.0.1:9000/x\n",
	"notify:\n  webhook: http://127.0.0.1:9000/x\n  on: [failed, hang]\n",
	"notify:\n  webhook: http://127.0.0.1:9000/x\n  on: completed\n",
	"notify:\n  webhook: http://127.0.0.1:9000/x\n  on: [failed, oops]\n",
	"notify:\n  webhook: http://127.0.0.1:9000/x\n  on: {a: 1}\n",
};
static const unsigned notify_on[] = {
	SPEC_NOTIFY_ALL, 1u << NOTIFY_FAILED | 1u << NOTIFY_HANG,
	1u << NOTIFY_COMPLETED, 0, 0, /* errors */
};

START_TEST(test_spec)
{
	char *text, *cause = NULL, *yaml;
	struct spec *sp, *back;
	json_t *j;

	text = xasprintf("version: 1\nname: t\ncommand: [true]\n"
	                 "resources: {nodes: 1, gpus_per_node: 0}\n%s",
	    notify_specs[_i]);
	sp = spec_parse(text, strlen(text), "t.yaml", "/tmp", &cause);
	if (notify_on[_i] == 0) {
		ck_assert_ptr_null(sp);
		ck_assert_ptr_nonnull(strstr(cause, "notify.on"));
		free(cause);
		free(text);
		return;
	}
	ck_assert_msg(sp != NULL, "%s", cause);
	ck_assert_str_eq(sp->notify.webhook, "http://127.0.0.1:9000/x");
	ck_assert_uint_eq(sp->notify.on, notify_on[_i]);
	/* JSON and YAML both give it back */
	j = spec_to_json(sp);
	back = spec_from_json(j, &cause);
	ck_assert_msg(back != NULL, "%s", cause);
	ck_assert_uint_eq(back->notify.on, notify_on[_i]);
	spec_free(back);
	json_decref(j);
	yaml = spec_to_yaml(sp);
	back = spec_parse(yaml, strlen(yaml), "c.yaml", NULL, &cause);
	ck_assert_msg(back != NULL, "%s\n%s", cause, yaml);
	ck_assert_uint_eq(back->notify.on, notify_on[_i]);
	spec_free(back);
	free(yaml);
	spec_free(sp);
	free(text);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("notify");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, test_allow, 0, nitems(allow_cases));
	tcase_add_test(tc, test_allow_errors);
	tcase_add_loop_test(tc, test_type, 0, nitems(type_cases));
	tcase_add_test(tc, test_payload);
	tcase_add_loop_test(tc, test_spec, 0, nitems(notify_specs));
	suite_add_tcase(s, tc);
	tc = tcase_create("limits");
	tcase_add_test(tc, test_queue_bound);
	suite_add_tcase(s, tc);
	return unit_run(s);
}

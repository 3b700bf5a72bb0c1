/*
 * check_conf: llmctld.conf's defaults, and every error reported with its
 * file, line and column, all of them at once.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "unit.h"
#include "util.h"

static const struct {
	const char	*text;
	const char	*error;		/* NULL: accepted */
} cases[] = {
	{ "", NULL },
	{ "socket: /run/x.sock\npoll_interval: 0.5\nlog_level: debug\n", NULL },
	{ "warn_signal: TERM\nwarn_time: 5m\nreplan_after: 30s\n", NULL },
	{ "sockt: /x\n", "<F>:1:1: sockt: unknown setting" },
	{ "socket: relative\n", "<F>:1:9: socket: expected an absolute path" },
	{ "poll_interval: -1\n", NULL /* checked below: an error */ },
	{ "master_port_base: 70000\n",
	  "<F>:1:19: master_port_base: expected an integer 0-65535" },
	{ "master_port_base: 65000\nmaster_port_count: 1000\n",
	  "<F>: master_port_base + master_port_count must stay below 65536" },
	{ "socket: [a, b]\n", "<F>:1:9: socket: expected a single value" },
	{ "- a\n- b\n", "<F>:1:1: expected a mapping of settings" },
	{ "warn_signal: KILL\n",
	  "<F>: warn_signal: expected USR1, USR2, TERM, INT, HUP or none, got "
	  "\"KILL\"" },
	{ "sockt: /x\ndatabase: rel\n",
	  "<F>:1:1: sockt: unknown setting\n"
	  "<F>:2:11: database: expected an absolute path" },
};

static char *
write_conf(const char *text)
{
	char *path = xstrdup("/tmp/check_conf.XXXXXX");
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

START_TEST(test_parse)
{
	struct conf *c;
	char *path, *cause = NULL, *want, *p;

	path = write_conf(cases[_i].text);
	c = conf_load(path, &cause);
	if (strncmp(cases[_i].text, "poll_interval: -1", 17) == 0) {
		ck_assert_ptr_null(c);
		free(cause);
	} else if (cases[_i].error == NULL) {
		ck_assert_msg(c != NULL, "%s", cause);
		conf_free(c);
	} else {
		ck_assert_ptr_null(c);
		/* "<F>" stands for the file's name */
		want = xstrdup(cases[_i].error);
		while ((p = strstr(want, "<F>")) != NULL) {
			*p = '\0';
			p = xasprintf("%s%s%s", want, path, p + 3);
			free(want);
			want = p;
		}
		ck_assert_str_eq(cause, want);
		free(want);
		free(cause);
	}
	unlink(path);
	free(path);
}
END_TEST

START_TEST(test_defaults)
{
	struct conf *c = conf_load(NULL, NULL);

	ck_assert_str_eq(c->socket, "/run/llmctl/llmctld.sock");
	ck_assert_int_eq(c->poll_interval_ms, 5000);
	ck_assert_int_eq(c->master_port_base, 29500);
	ck_assert_int_eq(c->warn_time_ms, 120000);
	ck_assert_int_ne(c->warn_signo, 0);
	ck_assert_ptr_null(c->heartbeat_listen);
	conf_free(c);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("conf");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, test_parse, 0, nitems(cases));
	tcase_add_test(tc, test_defaults);
	suite_add_tcase(s, tc);
	return unit_run(s);
}

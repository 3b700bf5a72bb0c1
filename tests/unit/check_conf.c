/*
 * check_conf: llmctld.conf's defaults, and every error reported with its
 * file, line and column, all of them at once.
 */
#include "config.h"

#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend.h"
#include "conf.h"
#include "unit.h"
#include "util.h"

static const struct {
	const char *text;
	const char *error; /* NULL: accepted */
} cases[] = {
	{ "", NULL },
	{ "socket: /run/x.sock\npoll_interval: 0.5\nlog_level: debug\n", NULL },
	{ "warn_signal: TERM\nwarn_time: 5m\nreplan_after: 30s\n", NULL },
	{ "sockt: /x\n", "<F>:1:1: sockt: unknown setting" },
	{ "socket: relative\n", "<F>:1:9: socket: expected an absolute path" },
	{ "poll_interval: -1\n", NULL /* checked below: an error */ },
	{ "master_port_base: 70000\n",
	    "<F>:1:19: master_port_base: expected an integer 1-65535" },
	{ "master_port_base: 65000\nmaster_port_count: 1000\n",
	    "<F>:2:20: master_port_count: master_port_base + master_port_count "
	    "must stay below 65536" },
	{ "master_port_base: 65000\n",
	    "<F>:1:19: master_port_base: master_port_base + master_port_count "
	    "must stay below 65536" },
	{ "socket: [a, b]\n", "<F>:1:9: socket: expected a single value" },
	{ "- a\n- b\n", "<F>:1:1: expected a mapping of settings" },
	{ "warn_signal: KILL\n",
	    "<F>:1:14: warn_signal: expected USR1, USR2, TERM, INT, HUP or none, "
	    "got \"KILL\"" },
	{ "warn_signal: none\nadmin_group: root\nbackend: fake\n"
	  "heartbeat_listen: 0.0.0.0:6826\n",
	    NULL },
	{ "log_level: loud\n",
	    "<F>:1:12: log_level: expected error, warn, info or debug, got "
	    "\"loud\"" },
	{ "admin_group: no-such-group-llmctl\n",
	    "<F>:1:14: admin_group: no such group \"no-such-group-llmctl\"" },
	{ "backend: pbs\n",
	    "<F>:1:10: backend: unknown backend \"pbs\" (slurm or fake)" },
	{ "heartbeat_listen: 6826\n",
	    "<F>:1:19: heartbeat_listen: expected ADDRESS:PORT, got \"6826\"" },
	{ "heartbeat_listen: \"[::1]:99999\"\n",
	    "<F>:1:19: heartbeat_listen: expected a port 1-65535 after the "
	    "colon, got \"[::1]:99999\"" },
	/* every bad value at once, each with its place */
	{ "log_level: loud\nbackend: pbs\nwarn_signal: KILL\n",
	    "<F>:1:12: log_level: expected error, warn, info or debug, got "
	    "\"loud\"\n"
	    "<F>:2:10: backend: unknown backend \"pbs\" (slurm or fake)\n"
	    "<F>:3:14: warn_signal: expected USR1, USR2, TERM, INT, HUP or none, "
	    "got \"KILL\"" },
	{ "max_connections: 64\nmax_connections_per_user: 8\n"
	  "request_timeout: 2.5\n",
	    NULL },
	{ "max_connections_per_user: 0\n",
	    "<F>:1:27: max_connections_per_user: expected an integer 1-65535" },
	{ "straggler_factor: 2.5\nstraggler_window: 30s\nnode_half_life: 6h\n"
	  "node_quarantine_score: off\nnode_drain_score: 3\n",
	    NULL },
	{ "straggler_factor: 1\n",
	    "<F>:1:19: straggler_factor: expected a number above 1 or off, "
	    "got \"1\"" },
	{ "node_drain_score: lots\n",
	    "<F>:1:19: node_drain_score: expected a number above 0 or off, "
	    "got \"lots\"" },
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
	ck_assert_int_eq(c->warn_signo, 0); /* opt-in: none unless set */
	ck_assert_ptr_null(c->heartbeat_listen);
	ck_assert_int_eq(c->level, LOG_LEVEL_INFO);
	ck_assert_int_eq((int)c->admin_gid, -1);
	ck_assert_ptr_nonnull(c->backend_ops);
	ck_assert_int_eq(c->max_connections, 1024);
	ck_assert_int_eq(c->heartbeat_max_connections, 16384);
	ck_assert_int_eq(c->max_connections_per_user, 32);
	ck_assert_int_eq(c->request_timeout_ms, 5000);
	ck_assert_double_eq(c->straggler_factor, 1.5);
	ck_assert_int_eq(c->straggler_window_ms, 120000);
	ck_assert_int_eq(c->node_half_life_ms, 24 * 3600 * 1000);
	ck_assert_double_eq(c->node_quarantine_score, 1.5);
	ck_assert_int_eq(c->node_quarantine_ms, 3600 * 1000);
	ck_assert_int_eq(c->node_quarantine_max_ms, 7LL * 86400 * 1000);
	ck_assert_int_eq(c->node_probation_ms, 24 * 3600 * 1000);
	ck_assert_double_eq(c->node_drain_score, 0); /* opt-in */
	conf_free(c);
}
END_TEST

/* What a value names is kept resolved; nothing parses it again. */
START_TEST(test_resolved)
{
	struct conf *c;
	char *p, *cause = NULL;

	p = write_conf("heartbeat_listen: 10.1.2.3:7000\nwarn_signal: SIGUSR2\n"
	               "log_level: warn\nbackend: fake\n");
	c = conf_load(p, &cause);
	ck_assert_ptr_nonnull(c);
	ck_assert_str_eq(c->heartbeat_host, "10.1.2.3");
	ck_assert_int_eq(c->heartbeat_port, 7000);
	ck_assert_int_eq(c->warn_signo, SIGUSR2);
	ck_assert_int_eq(c->level, LOG_LEVEL_WARN);
	ck_assert_str_eq(c->backend_ops->name, "fake");
	conf_free(c);
	unlink(p);
	free(p);
}
END_TEST

static void
report(const char *key, int applied, void *arg)
{
	char *log = arg;

	snprintf(log + strlen(log), 256 - strlen(log), "%s%s ", key,
	    applied ? "" : "(restart)");
}

/* SIGHUP: reloadable keys move into the running conf, the rest stay. */
START_TEST(test_reload)
{
	struct conf *cur, *new;
	char *p1, *p2, *cause = NULL, log[256] = "";

	p1 = write_conf("socket: /a.sock\nlog_level: info\n"
	                "warn_signal: USR1\n");
	p2 = write_conf("socket: /b.sock\nlog_level: debug\nwarn_signal: TERM\n"
	                "max_connections_per_user: 4\nadmin_group: root\n");
	cur = conf_load(p1, &cause);
	new = conf_load(p2, &cause);
	ck_assert_ptr_nonnull(cur);
	ck_assert_ptr_nonnull(new);
	conf_reload(cur, new, report, log);
	ck_assert_str_eq(log,
	    "socket(restart) log_level admin_group "
	    "warn_signal max_connections_per_user ");
	ck_assert_str_eq(cur->socket, "/a.sock");
	ck_assert_str_eq(cur->log_level, "debug");
	ck_assert_str_eq(cur->admin_group, "root");
	ck_assert_int_eq(cur->warn_signo, SIGTERM);
	ck_assert_int_eq(cur->level, LOG_LEVEL_DEBUG);
	ck_assert_int_eq((int)cur->admin_gid, 0);
	ck_assert_int_eq(cur->max_connections_per_user, 4);
	conf_free(new);
	log[0] = '\0';
	new = conf_load(p1, &cause);
	conf_reload(cur, new, report, log);
	ck_assert_str_eq(log,
	    "log_level admin_group "
	    "warn_signal max_connections_per_user ");
	ck_assert_ptr_null(cur->admin_group);
	ck_assert_int_eq((int)cur->admin_gid, -1);
	ck_assert_int_eq(cur->warn_signo, SIGUSR1);
	conf_free(new);
	conf_free(cur);
	unlink(p1);
	unlink(p2);
	free(p1);
	free(p2);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("conf");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, test_parse, 0, nitems(cases));
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_resolved);
	tcase_add_test(tc, test_reload);
	suite_add_tcase(s, tc);
	return unit_run(s);
}

/*
 * check_launch: the generated batch script runs each rank with the right
 * coordinates and runs the user's words exactly as written. A stand-in
 * srun (which drops its options and runs the rest) executes the real
 * script under /bin/sh.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "launch.h"
#include "spec.h"
#include "util.h"
#include "unit.h"

static char dir[64];

static void
setup(void)
{
	FILE *f;
	char *p;

	strcpy(dir, "/tmp/check_launch.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	p = xasprintf("%s/srun", dir);
	f = fopen(p, "w");
	fputs("#!/bin/sh\nwhile [ $# -gt 0 ]; do case $1 in --*) shift ;; "
	    "*) break ;; esac; done\nexec \"$@\"\n", f);
	fclose(f);
	chmod(p, 0755);
	free(p);
}

static void
teardown(void)
{
	char *cmd = xasprintf("rm -rf %s", dir);

	(void)!system(cmd);
	free(cmd);
}

static struct spec *
make_spec(const char *command, char **argv, size_t argc)
{
	struct spec *s = xcalloc(1, sizeof(*s));

	s->version = 1;
	s->name = xstrdup("t");
	s->command = command != NULL ? xstrdup(command) : NULL;
	s->argv = argv;
	s->argc = argc;
	s->workdir = xstrdup("/tmp");
	s->resources.nodes = 2;
	s->resources.gpus_per_node = 4;
	s->resources.tasks_per_node = 4;
	s->parallel.tensor = 2;
	s->parallel.pipeline = 2;
	s->parallel.data = 2;
	s->env = xcalloc(1, sizeof(*s->env));
	s->env[0].key = xstrdup("ODD");
	s->env[0].value = xstrdup("a'b\"c $(x) `y`\nz");
	s->nenv = 1;
	return s;
}

/*
 * Run the script as Slurm task procid on node nodeid (named nodename);
 * return what the rank wrote to its log, rank-<rank>.out.
 */
static char *
run_rank(const struct launch *l, int procid, int nodeid, int localid,
    const char *nodename, int rank)
{
	char *script, *cmd, *out = NULL, *outpath;
	size_t len, i;
	FILE *f;

	script = xasprintf("%s/batch.sh", dir);
	outpath = xasprintf("%s/out", dir);
	/* the job's environment as Slurm would give it, then the script */
	f = fopen(script, "w");
	fputs("#!/bin/sh\n", f);
	for (i = 0; i < l->nenv; i++) {
		char *eq = strchr(l->env[i], '='), *key, *q;

		key = xstrndup(l->env[i], eq - l->env[i]);
		if (strcmp(key, "PATH") != 0) {
			q = sh_quote(eq + 1);
			fprintf(f, "export %s=%s\n", key, q);
			free(q);
		}
		free(key);
	}
	fputs(strchr(l->script, '\n') + 1, f);
	fclose(f);
	cmd = xasprintf("mkdir -p %s && env -i PATH=%s:/usr/bin:/bin "
	    "SLURM_PROCID=%d SLURM_NODEID=%d SLURM_LOCALID=%d "
	    "SLURMD_NODENAME=%s SLURM_LAUNCH_NODE_IPADDR=10.0.0.1 /bin/sh %s",
	    l->log_dir, dir, procid, nodeid, localid, nodename, script);
	ck_assert_int_eq(system(cmd), 0);
	free(outpath);
	outpath = xasprintf("%s/rank-%d.out", l->log_dir, rank);
	ck_assert_int_eq(read_file(outpath, 65536, &out, &len, NULL), 0);
	unlink(outpath);
	free(cmd);
	free(script);
	free(outpath);
	return out;
}

static struct launch_ctx ctx = {
	.job_id = 42, .attempt = 3, .master_port = 29777, .uid = 0, .gid = 0,
	.user = "alice", .home = "/home/alice", .state_dir = dir,
};

START_TEST(test_rank_coordinates)
{
	static const struct {
		int procid, nodeid, localid;
		const char *want;
	} cases[] = {
		{ 0, 0, 0, "0 0 0 0 0 0 8 4 10.0.0.1 29777 42 3" },
		{ 1, 0, 1, "1 0 1 1 0 0 8 4 10.0.0.1 29777 42 3" },
		{ 2, 0, 2, "2 0 2 0 1 0 8 4 10.0.0.1 29777 42 3" },
		{ 5, 1, 1, "5 1 1 1 0 1 8 4 10.0.0.1 29777 42 3" },
		{ 7, 1, 3, "7 1 3 1 1 1 8 4 10.0.0.1 29777 42 3" },
	};
	struct spec *s;
	struct launch *l;
	char *out, *want;
	size_t i;

	s = make_spec("echo $RANK $NODE_RANK $LOCAL_RANK $LLMCTL_TP_RANK "
	    "$LLMCTL_PP_RANK $LLMCTL_DP_RANK $WORLD_SIZE $LOCAL_WORLD_SIZE "
	    "$MASTER_ADDR $MASTER_PORT $LLMCTL_JOB_ID $LLMCTL_ATTEMPT", NULL, 0);
	l = launch_build(s, &ctx, NULL);
	ck_assert_ptr_nonnull(l);
	ck_assert_ptr_nonnull(strstr(l->log_dir, "/logs/42/3"));
	ck_assert_ptr_nonnull(strstr(l->script, "--nodes=2 --ntasks=8 "
	    "--ntasks-per-node=4"));
	for (i = 0; i < nitems(cases); i++) {
		out = run_rank(l, cases[i].procid, cases[i].nodeid,
		    cases[i].localid, "n1", cases[i].procid);
		want = xasprintf("%s\n", cases[i].want);
		ck_assert_str_eq(out, want);
		free(want);
		free(out);
	}
	launch_free(l);
	spec_free(s);
}
END_TEST

START_TEST(test_hostile_words_run_as_written)
{
	static const char *const words[] = {
		"printf", "%s|%s|%s\\n", "it's \"quoted\"", "$(touch /tmp/x)",
		"`id`\nnext line",
	};
	char **argv = xcalloc(nitems(words) + 1, sizeof(*argv));
	struct spec *s;
	struct launch *l;
	char *out;
	size_t i;

	for (i = 0; i < nitems(words); i++)
		argv[i] = xstrdup(words[i]);
	s = make_spec(NULL, argv, nitems(words));
	l = launch_build(s, &ctx, NULL);
	out = run_rank(l, 0, 0, 0, "n1", 0);
	ck_assert_str_eq(out,
	    "it's \"quoted\"|$(touch /tmp/x)|`id`\nnext line\n");
	free(out);
	launch_free(l);
	spec_free(s);

	/* a string command goes to sh -c; env values arrive verbatim */
	s = make_spec("printf '%s\\n' \"$ODD\"", NULL, 0);
	l = launch_build(s, &ctx, NULL);
	out = run_rank(l, 0, 0, 0, "n1", 0);
	ck_assert_str_eq(out, "a'b\"c $(x) `y`\nz\n");
	free(out);
	launch_free(l);
	spec_free(s);
}
END_TEST

/* The plan's node order decides the ranks, not Slurm's task ids. */
START_TEST(test_plan_node_order)
{
	static const struct {
		int procid, nodeid, localid;
		const char *node;
		int rank;
		const char *want;
	} cases[] = {
		/* Slurm's node 0 is n1, but the plan put n1 second */
		{ 0, 0, 0, "n1", 4, "4 1 0 gpu7" },
		{ 3, 0, 3, "n1", 7, "7 1 3 gpu7" },
		{ 4, 1, 0, "n2", 0, "0 0 0 gpu7" },
	};
	struct launch_ctx c = ctx;
	struct spec *s;
	struct launch *l;
	char *out, *want;
	size_t i;

	c.node_order = "n2,n1";
	c.master_addr = "gpu7";
	s = make_spec("echo $RANK $NODE_RANK $LOCAL_RANK $MASTER_ADDR", NULL,
	    0);
	l = launch_build(s, &c, NULL);
	for (i = 0; i < nitems(cases); i++) {
		out = run_rank(l, cases[i].procid, cases[i].nodeid,
		    cases[i].localid, cases[i].node, cases[i].rank);
		want = xasprintf("%s\n", cases[i].want);
		ck_assert_str_eq(out, want);
		free(want);
		free(out);
	}
	launch_free(l);
	spec_free(s);
}
END_TEST

/*
 * GLOO_SOCKET_IFNAME / NCCL_SOCKET_IFNAME: the interface that holds
 * MASTER_ADDR on the master node, the route's on the others, nothing for
 * loopback, and what the spec set wins. A stand-in ip answers.
 */
START_TEST(test_socket_ifname)
{
	static const struct {
		const char *master, *spec_gloo, *want;
	} cases[] = {
		{ "10.0.0.7", NULL, "ib0 ib0" },	/* the master node */
		{ "10.9.9.9", NULL, "bond0 bond0" },	/* routed */
		{ "127.0.0.1", NULL, "- -" },		/* one host */
		{ "10.9.9.9", "eth5", "eth5 bond0" },	/* the spec's wins */
	};
	struct launch_ctx c = ctx;
	struct spec *s;
	struct launch *l;
	char *out, *want, *p;
	size_t i;
	FILE *f;

	p = xasprintf("%s/ip", dir);
	f = fopen(p, "w");
	fputs("#!/bin/sh\ncase \"$*\" in\n"
	    "'-o addr show to 10.0.0.7') echo '2: ib0    inet 10.0.0.7/24 "
	    "scope global ib0' ;;\n"
	    "'-o addr show to 127.0.0.1') echo '1: lo    inet 127.0.0.1/8 "
	    "scope host lo' ;;\n"
	    "'route get '*) echo \"$3 via 10.0.0.254 dev bond0 src 10.0.0.9\"; "
	    "echo '    cache' ;;\nesac\n", f);
	fclose(f);
	chmod(p, 0755);
	free(p);
	for (i = 0; i < nitems(cases); i++) {
		c.master_addr = cases[i].master;
		s = make_spec("echo ${GLOO_SOCKET_IFNAME:--} "
		    "${NCCL_SOCKET_IFNAME:--}", NULL, 0);
		if (cases[i].spec_gloo != NULL) {
			free(s->env[0].key);
			free(s->env[0].value);
			s->env[0].key = xstrdup("GLOO_SOCKET_IFNAME");
			s->env[0].value = xstrdup(cases[i].spec_gloo);
		}
		l = launch_build(s, &c, NULL);
		out = run_rank(l, 0, 0, 0, "n1", 0);
		want = xasprintf("%s\n", cases[i].want);
		ck_assert_str_eq(out, want);
		free(want);
		free(out);
		launch_free(l);
		spec_free(s);
	}
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("launch");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_rank_coordinates);
	tcase_add_test(tc, test_hostile_words_run_as_written);
	tcase_add_test(tc, test_plan_node_order);
	tcase_add_test(tc, test_socket_ifname);
	suite_add_tcase(s, tc);
	return unit_run(s);
}

/*
 * check_launch: the generated batch script runs each rank with the right
 * coordinates and runs the user's words exactly as written. A stand-in
 * srun (which drops its options and runs the rest) executes the real
 * script under /bin/sh.
 */
#include "config.h"

#include <check.h>
#include <signal.h>
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
static const char *fake_srun = "msrun"; /* run_batch()'s srun */

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
	      "*) break ;; esac; done\nexec \"$@\"\n",
	    f);
	fclose(f);
	chmod(p, 0755);
	free(p);
	/*
	 * srun with --kill-on-bad-exit as Slurm does it: FAKE_NTASKS tasks,
	 * FAKE_TPN a node, each in its own process group; when one fails,
	 * SIGTERM to every process of the others. FAKE_WARN: send that
	 * signal to every process after 0.3 s.
	 */
	p = xasprintf("%s/msrun", dir);
	f = fopen(p, "w");
	fputs(
	    "#!/bin/bash\nwhile [ $# -gt 0 ]; do case $1 in --*) shift ;; "
	    "*) break ;; esac; done\npids=()\n"
	    "for ((i = 0; i < FAKE_NTASKS; i++)); do\n"
	    "SLURM_PROCID=$i SLURM_NODEID=$((i / FAKE_TPN)) "
	    "SLURM_LOCALID=$((i % FAKE_TPN)) "
	    "SLURMD_NODENAME=n$((i / FAKE_TPN + 1)) setsid \"$@\" &\n"
	    "pids+=($!); done\n"
	    "if [ -n \"$FAKE_WARN\" ]; then sleep 0.3; "
	    "for p in \"${pids[@]}\"; do kill -s $FAKE_WARN -- -$p; done; fi\n"
	    "rc=0; for ((n = 0; n < FAKE_NTASKS; n++)); do wait -n; r=$?\n"
	    "if [ $r != 0 ] && [ $rc = 0 ]; then rc=$r\n"
	    "for p in \"${pids[@]}\"; do kill -TERM -- -$p 2>/dev/null; done; "
	    "fi; done\nexit $rc\n",
	    f);
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

/* A stand-in srun that prints FAKE_LINES (one per line) and fails. */
static void
write_csrun(void)
{
	char *p = xasprintf("%s/csrun", dir);
	FILE *f = fopen(p, "w");

	fputs("#!/bin/sh\nprintf '%s\\n' \"$FAKE_L1\" \"$FAKE_L2\" "
	      "\"$FAKE_L3\"\nexit 1\n",
	    f);
	fclose(f);
	chmod(p, 0755);
	free(p);
}

/* The job's environment as Slurm would give it, as export lines. */
static void
write_env(FILE *f, const struct launch *l)
{
	size_t i;

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
	size_t len;
	FILE *f;

	script = xasprintf("%s/batch.sh", dir);
	outpath = xasprintf("%s/out", dir);
	/* the job's environment as Slurm would give it, then the script */
	f = fopen(script, "w");
	fputs("#!/bin/sh\n", f);
	write_env(f, l);
	fputs(strchr(l->script, '\n') + 1, f);
	fclose(f);
	cmd = xasprintf("mkdir -p %s && env -i PATH=%s:/usr/bin:/bin "
	                "SLURM_PROCID=%d SLURM_NODEID=%d SLURM_LOCALID=%d "
	                "SLURMD_NODENAME=%s SLURM_LAUNCH_NODE_IPADDR=10.0.0.1 "
	                "SLURM_CPUS_ON_NODE=4 /bin/sh %s",
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
	.job_id = 42,
	.attempt = 3,
	.master_port = 29777,
	.uid = 0,
	.gid = 0,
	.user = "alice",
	.home = "/home/alice",
	.state_dir = dir,
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

	s = make_spec(
	    "echo $RANK $NODE_RANK $LOCAL_RANK $LLMCTL_TP_RANK "
	    "$LLMCTL_PP_RANK $LLMCTL_DP_RANK $WORLD_SIZE $LOCAL_WORLD_SIZE "
	    "$MASTER_ADDR $MASTER_PORT $LLMCTL_JOB_ID $LLMCTL_ATTEMPT",
	    NULL, 0);
	l = launch_build(s, &ctx, NULL);
	ck_assert_ptr_nonnull(l);
	ck_assert_ptr_nonnull(strstr(l->log_dir, "/logs/42/3"));
	ck_assert_ptr_nonnull(strstr(l->script,
	    "--nodes=2 --ntasks=8 "
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
		"printf",
		"%s|%s|%s\\n",
		"it's \"quoted\"",
		"$(touch /tmp/x)",
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
	ck_assert_str_eq(
	    out, "it's \"quoted\"|$(touch /tmp/x)|`id`\nnext line\n");
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
	s = make_spec(
	    "echo $RANK $NODE_RANK $LOCAL_RANK $MASTER_ADDR", NULL, 0);
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

/* The batch script, run whole with msrun as srun; its exit status. */
static int
run_batch(const struct launch *l, int ntasks, int tpn, const char *warn)
{
	char *script, *cmd, *bin, *key, *q;
	size_t i;
	int rc;
	FILE *f;

	script = xasprintf("%s/batch.sh", dir);
	bin = xasprintf("%s/bin", dir);
	cmd = xasprintf("mkdir -p %s %s && ln -sf %s/%s %s/srun", l->log_dir,
	    bin, dir, fake_srun, bin);
	ck_assert_int_eq(system(cmd), 0);
	free(cmd);
	f = fopen(script, "w");
	write_env(f, l);
	for (i = 1; i <= 3; i++) { /* csrun's lines */
		key = xasprintf("FAKE_L%zu", i);
		q = sh_quote(getenv(key) != NULL ? getenv(key) : "");
		fprintf(f, "export %s=%s\n", key, q);
		free(key);
		free(q);
	}
	fputs(strchr(l->script, '\n') + 1, f);
	fclose(f);
	cmd = xasprintf("env -i PATH=%s:/usr/bin:/bin FAKE_NTASKS=%d "
	                "FAKE_TPN=%d FAKE_WARN=%s SLURMD_NODENAME=n1 "
	                "SLURM_JOB_ID=77 /bin/sh %s",
	    bin, ntasks, tpn, warn != NULL ? warn : "", script);
	rc = system(cmd);
	free(cmd);
	free(script);
	free(bin);
	return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static char *
log_file(const struct launch *l, const char *name)
{
	char *p = xasprintf("%s/%s", l->log_dir, name), *out = NULL;
	size_t len;

	if (read_file(p, 65536, &out, &len, NULL) != 0)
		out = NULL;
	free(p);
	return out;
}

/*
 * With spares the script supervises the step: a failed step leaves its
 * status in step.end and the script waits for llmctld's decision file;
 * a next attempt there runs as a new step with the file's variables, and
 * "stop" ends the batch with the failed step's status.
 */
static void
decide_later(const char *text)
{
	char *q = sh_quote(text), *cmd;

	cmd = xasprintf("(d=%s/logs/42; for i in $(seq 100); do "
	                "[ -e $d/3/step.end ] && break; sleep 0.1; done; "
	                "mkdir -p $d/4; printf %%s %s > $d/77.next) &",
	    dir, q);
	ck_assert_int_eq(system(cmd), 0);
	free(cmd);
	free(q);
}

START_TEST(test_spares_supervise)
{
	struct spec *s;
	struct launch *l;
	char *out, *p, *end;
	size_t len;

	s = make_spec("if [ $LLMCTL_ATTEMPT = 3 ]; then exit 5; fi; "
	              "echo \"attempt $LLMCTL_ATTEMPT port $MASTER_PORT "
	              "resume ${LLMCTL_RESUME_FROM:-none} on "
	              "$LLMCTL_NODE_ORDER spares [$LLMCTL_SPARE_NODES]\"",
	    NULL, 0);
	s->resources.gpus_per_node = s->resources.tasks_per_node = 1;
	s->parallel.tensor = s->parallel.pipeline = 1;
	s->resources.spare_nodes = 1;
	l = launch_build(s, &ctx, NULL);
	ck_assert_ptr_nonnull(
	    strstr(l->script, "--nodelist=\"$LLMCTL_NODE_ORDER\""));
	ck_assert_ptr_nonnull(
	    strstr(l->script, "--error=\"$LLMCTL_LOG_DIR/launch.out\""));
	p = xasprintf(
	    "LLMCTL_LOG_DIR='%s/logs/42/4'\nLLMCTL_NODE_ORDER='n1,n2'\n"
	    "LLMCTL_SPARE_NODES=''\nMASTER_ADDR=''\nMASTER_PORT=29999\n"
	    "LLMCTL_HEARTBEAT_TOKEN=''\nLLMCTL_RESUME_FROM='/ck/step 9'\n"
	    "LLMCTL_RESUME_STEP=9\nLLMCTL_ATTEMPT=4\n",
	    dir);
	decide_later(p);
	free(p);
	ck_assert_int_eq(run_batch(l, 2, 1, NULL), 0);
	end = log_file(l, "step.end");
	ck_assert_ptr_nonnull(end);
	ck_assert_str_eq(end, "5\n");
	free(end);
	p = xasprintf("%s/logs/42/4/rank-1.out", dir);
	ck_assert_int_eq(read_file(p, 65536, &out, &len, NULL), 0);
	ck_assert_str_eq(out,
	    "attempt 4 port 29999 resume /ck/step 9 on n1,n2 "
	    "spares []\n");
	free(out);
	free(p);
	/* no further step: the batch ends as the step did */
	p = xasprintf("rm -rf %s/logs", dir);
	(void)!system(p);
	free(p);
	decide_later("LLMCTL_ATTEMPT=stop\n");
	ck_assert_int_eq(run_batch(l, 2, 1, NULL), 5);
	launch_free(l);
	spec_free(s);
}
END_TEST

/*
 * Slurm picked the nodes (n1, n2, n3; the batch on n1): the batch script
 * orders them by the candidates' leaves, "n1 | n3,n9 | n2", so n3 is node
 * rank 1 (ranks 4-7) and n2 node rank 2, not Slurm's n2 = node 1.
 */
START_TEST(test_slurm_node_order)
{
	struct launch_ctx c = ctx;
	struct spec *s;
	struct launch *l;
	char *p, *out;
	FILE *f;

	c.topo_order = "n1 n3,n9 n2";
	s = make_spec(
	    "echo $SLURMD_NODENAME $NODE_RANK $LLMCTL_NODE_ORDER", NULL, 0);
	s->resources.nodes = 3;
	s->parallel.data = 3;
	l = launch_build(s, &c, NULL);
	ck_assert_ptr_nonnull(l);
	ck_assert_ptr_nonnull(strstr(l->script, "scontrol show hostnames"));
	p = xasprintf("%s/bin", dir);
	ck_assert_int_eq(mkdir(p, 0755), 0);
	free(p);
	p = xasprintf("%s/bin/scontrol", dir);
	f = fopen(p, "w");
	fputs("#!/bin/sh\nprintf '%s\\n' n1 n2 n3\n", f);
	fclose(f);
	chmod(p, 0755);
	free(p);
	ck_assert_int_eq(run_batch(l, 12, 4, NULL), 0);
	out = log_file(l, "rank-0.out");
	ck_assert_str_eq(out, "n1 0 n1,n3,n2\n");
	free(out);
	out = log_file(l, "rank-5.out");
	ck_assert_str_eq(out, "n3 1 n1,n3,n2\n");
	free(out);
	out = log_file(l, "rank-8.out");
	ck_assert_str_eq(out, "n2 2 n1,n3,n2\n");
	free(out);
	launch_free(l);
	spec_free(s);
	/* a plan's order stands: no reordering in the script */
	c.topo_order = NULL;
	c.node_order = "n1,n2,n3";
	s = make_spec("true", NULL, 0);
	l = launch_build(s, &c, NULL);
	ck_assert_ptr_null(strstr(l->script, "scontrol"));
	launch_free(l);
	spec_free(s);
}
END_TEST

/*
 * The batch node's leaf in the middle of the tree order: leaves n2 | n1 |
 * n3 | n4 under spines (n2) (n1 n3) (n4), the batch on n1. The ranks go
 * round the tree order from n1: n1,n3,n4,n2, a ring that crosses spines 3
 * times; n1 first and then the rest in tree order (n1,n2,n3,n4) would
 * cross them 4 times, leaving and re-entering n1's spine.
 */
START_TEST(test_slurm_node_order_rotated)
{
	struct launch_ctx c = ctx;
	struct spec *s;
	struct launch *l;
	char *p, *out;
	FILE *f;

	c.topo_order = "n2 n1 n3 n4";
	s = make_spec("echo $NODE_RANK $LLMCTL_NODE_ORDER", NULL, 0);
	s->resources.nodes = 4;
	s->parallel.data = 4;
	l = launch_build(s, &c, NULL);
	ck_assert_ptr_nonnull(l);
	p = xasprintf("%s/bin", dir);
	ck_assert_int_eq(mkdir(p, 0755), 0);
	free(p);
	p = xasprintf("%s/bin/scontrol", dir);
	f = fopen(p, "w");
	fputs("#!/bin/sh\nprintf '%s\\n' n1 n2 n3 n4\n", f);
	fclose(f);
	chmod(p, 0755);
	free(p);
	ck_assert_int_eq(run_batch(l, 16, 4, NULL), 0);
	out = log_file(l, "rank-0.out");
	ck_assert_str_eq(out, "0 n1,n3,n4,n2\n");
	free(out);
	launch_free(l);
	spec_free(s);
}
END_TEST

/*
 * Rank 1 of a 2x2 job exits 7; srun then kills the others with SIGTERM
 * (exit 143). The first to fail on its own is the cause: the batch exits
 * 7 and names rank 1 on n1; the killed ranks are not blamed.
 */
START_TEST(test_first_failure)
{
	struct spec *s;
	struct launch *l;
	char *ff, *exits;

	s = make_spec("if [ $RANK = 1 ]; then sleep 0.5; exit 7; fi; "
	              "exec sleep 20",
	    NULL, 0);
	s->resources.gpus_per_node = s->resources.tasks_per_node = 2;
	s->parallel.tensor = s->parallel.pipeline = 1;
	l = launch_build(s, &ctx, NULL);
	ck_assert_int_eq(run_batch(l, 4, 2, NULL), 7);
	ff = log_file(l, "first-failure");
	ck_assert_ptr_nonnull(ff);
	ck_assert_str_eq(ff, "1 n1 7 0\n");
	exits = log_file(l, "ranks.exit");
	/* the three others were killed: status 143, killed 1 */
	ck_assert_ptr_nonnull(strstr(exits, " 0 n1 143 1 0\n"));
	ck_assert_ptr_nonnull(strstr(exits, " 3 n2 143 1 0\n"));
	free(ff);
	free(exits);
	launch_free(l);
	spec_free(s);
}
END_TEST

/*
 * A step that succeeds costs no more processes than it must: no date at a
 * rank's end (its time is read only for a failure) and no scan of the
 * exits after srun; stand-ins for date, cat and grep note any call.
 */
START_TEST(test_success_forks_nothing)
{
	static const char *const tools[] = { "date", "cat", "grep" };
	struct spec *s;
	struct launch *l;
	char *p, *exits;
	size_t i;
	FILE *f;

	p = xasprintf("%s/bin", dir);
	ck_assert_int_eq(mkdir(p, 0755), 0);
	free(p);
	for (i = 0; i < nitems(tools); i++) {
		p = xasprintf("%s/bin/%s", dir, tools[i]);
		f = fopen(p, "w");
		fprintf(f, "#!/bin/sh\n: > %s/ran-%s\nexec /bin/%s \"$@\"\n",
		    dir, tools[i], tools[i]);
		fclose(f);
		chmod(p, 0755);
		free(p);
	}
	s = make_spec("true", NULL, 0);
	s->resources.gpus_per_node = s->resources.tasks_per_node = 2;
	s->parallel.tensor = s->parallel.pipeline = 1;
	l = launch_build(s, &ctx, NULL);
	ck_assert_int_eq(run_batch(l, 4, 2, NULL), 0);
	exits = log_file(l, "ranks.exit");
	ck_assert_ptr_nonnull(exits);
	ck_assert_ptr_nonnull(strstr(exits, "llmctl-exit 0 0 n1 0 0 0\n"));
	ck_assert_ptr_nonnull(strstr(exits, "llmctl-exit 0 3 n2 0 0 0\n"));
	free(exits);
	ck_assert_ptr_null(log_file(l, "first-failure"));
	for (i = 0; i < nitems(tools); i++) {
		p = xasprintf("%s/ran-%s", dir, tools[i]);
		ck_assert_msg(access(p, F_OK) != 0, "%s ran", tools[i]);
		free(p);
	}
	launch_free(l);
	spec_free(s);
}
END_TEST

/*
 * A rank that died of SIGTERM may have been the step's kill landing after
 * its command ended (killed 0): it is the cause only if no rank failed
 * otherwise, whatever the times.
 */
START_TEST(test_first_failure_term_last)
{
	static const struct {
		const char *l1, *l2, *l3, *want;
		int rc;
	} cases[] = {
		{ "llmctl-exit 100 3 n2 143 0 0", "llmctl-exit 200 1 n1 7 0 0",
		    "llmctl-exit 300 0 n1 143 1 0", "1 n1 7 0\n", 7 },
		{ "llmctl-exit 300 3 n2 143 0 0",
		    "llmctl-exit 100 2 n2 143 0 0",
		    "llmctl-exit 50 0 n1 143 1 0", "2 n2 143 0\n", 143 },
		{ "llmctl-exit 300 3 n2 9 0 1", "llmctl-exit 100 2 n2 137 0 0",
		    "junk", "2 n2 137 0\n", 137 },
	};
	struct spec *s;
	struct launch *l;
	char *ff, *p;
	size_t i;

	write_csrun();
	fake_srun = "csrun";
	s = make_spec("true", NULL, 0);
	l = launch_build(s, &ctx, NULL);
	for (i = 0; i < nitems(cases); i++) {
		setenv("FAKE_L1", cases[i].l1, 1);
		setenv("FAKE_L2", cases[i].l2, 1);
		setenv("FAKE_L3", cases[i].l3, 1);
		ck_assert_int_eq(run_batch(l, 1, 1, NULL), cases[i].rc);
		ff = log_file(l, "first-failure");
		ck_assert_ptr_nonnull(ff);
		ck_assert_str_eq(ff, cases[i].want);
		free(ff);
		p = xasprintf("%s/first-failure", l->log_dir);
		unlink(p);
		free(p);
	}
	fake_srun = "msrun";
	launch_free(l);
	spec_free(s);
}
END_TEST

/*
 * A job that asked for the warning: the rank's shell outlives it, the
 * command handles it, and the record says it was warned.
 */
START_TEST(test_warning_recorded)
{
	struct spec *s;
	struct launch *l;
	char *ff, *env;
	size_t i;
	int found = 0;

	s = make_spec("trap 'exit 3' USR1; sleep 20 & wait", NULL, 0);
	s->resources.nodes = 1;
	s->resources.gpus_per_node = s->resources.tasks_per_node = 1;
	s->parallel.tensor = s->parallel.pipeline = s->parallel.data = 1;
	s->resources.time_limit_s = 600;
	s->warning.signal = SPEC_SIG_USR1;
	s->warning.before_s = 120;
	l = launch_build(s, &ctx, NULL);
	ck_assert_int_eq(l->warn_signal, SIGUSR1);
	ck_assert_int_eq(l->warn_time_s, 120);
	for (i = 0; i < l->nenv; i++)
		found |= strcmp(l->env[i], "LLMCTL_WARN_SIGNAL=USR1") == 0;
	ck_assert(found);
	ck_assert_int_eq(run_batch(l, 1, 1, "USR1"), 3);
	ff = log_file(l, "first-failure");
	ck_assert_ptr_nonnull(ff);
	ck_assert_str_eq(ff, "0 n1 3 1\n");
	free(ff);
	launch_free(l);

	/* not asked for: no warning, whatever the time limit */
	s->warning.signal = SPEC_SIG_NONE;
	l = launch_build(s, &ctx, NULL);
	ck_assert_int_eq(l->warn_signal, 0);
	for (i = 0; i < l->nenv; i++) {
		env = l->env[i];
		ck_assert(strncmp(env, "LLMCTL_WARN_", 12) != 0);
	}
	launch_free(l);
	spec_free(s);
}
END_TEST

static const char *
env_of(const struct launch *l, const char *key)
{
	size_t i, n = strlen(key);

	for (i = 0; i < l->nenv; i++)
		if (strncmp(l->env[i], key, n) == 0 && l->env[i][n] == '=')
			return l->env[i] + n + 1;
	return NULL;
}

/* Fabric and OpenMP variables, each yielding to the user's env. */
START_TEST(test_fabric_and_omp_env)
{
	struct spec *s;
	struct launch *l;
	char *out;

	s = make_spec("echo $OMP_NUM_THREADS $NCCL_SOCKET_IFNAME", NULL, 0);
	s->fabric.type = FABRIC_ETHERNET;
	s->fabric.interface = xstrdup("eth9");
	s->env = xreallocarray(s->env, 2, sizeof(*s->env));
	s->env[1].key = xstrdup("NCCL_SOCKET_IFNAME");
	s->env[1].value = xstrdup("=ens1");
	s->nenv = 2;
	s->resources.cpus_per_gpu = 3;
	l = launch_build(s, &ctx, NULL);
	ck_assert_str_eq(env_of(l, "NCCL_IB_DISABLE"), "1");
	ck_assert_str_eq(env_of(l, "GLOO_SOCKET_IFNAME"), "eth9");
	ck_assert_str_eq(env_of(l, "NCCL_SOCKET_IFNAME"), "=ens1");
	ck_assert_ptr_null(env_of(l, "NCCL_IB_HCA"));
	ck_assert_str_eq(env_of(l, "OMP_NUM_THREADS"), "3");
	out = run_rank(l, 0, 0, 0, "n1", 0);
	ck_assert_str_eq(out, "3 =ens1\n");
	free(out);
	launch_free(l);

	/* no cpus_per_gpu: the node's 4 CPUs over its 4 ranks, at run time */
	s->resources.cpus_per_gpu = 0;
	s->fabric.type = FABRIC_INFINIBAND;
	s->fabric.hca = xstrdup("mlx5_0:1");
	l = launch_build(s, &ctx, NULL);
	ck_assert_ptr_null(env_of(l, "OMP_NUM_THREADS"));
	ck_assert_str_eq(env_of(l, "NCCL_IB_DISABLE"), "0");
	ck_assert_str_eq(env_of(l, "NCCL_IB_HCA"), "mlx5_0:1");
	out = run_rank(l, 0, 0, 0, "n1", 0);
	ck_assert_str_eq(out, "1 =ens1\n");
	free(out);
	launch_free(l);
	spec_free(s);
}
END_TEST

/*
 * launcher script: the command runs once, as the batch script, with the
 * llmctl variables; its own srun lines are steps; its failure is named.
 */
START_TEST(test_script_launcher)
{
	struct spec *s;
	struct launch *l;
	char *out, *ff;

	s = make_spec("echo $WORLD_SIZE $NODE_RANK $MASTER_PORT $LLMCTL_JOB_ID;"
	              " srun sh -c 'echo step $SLURM_PROCID'; exit 5",
	    NULL, 0);
	s->parallel.launcher = LAUNCHER_SCRIPT;
	l = launch_build(s, &ctx, NULL);
	ck_assert_ptr_null(strstr(l->script, "llmctl-rank"));
	ck_assert_int_eq(run_batch(l, 1, 1, NULL), 5);
	out = log_file(l, "rank-0.out");
	ck_assert_ptr_nonnull(out);
	ck_assert_str_eq(out, "8 0 29777 42\nstep 0\n");
	ff = log_file(l, "first-failure");
	ck_assert_ptr_nonnull(ff);
	ck_assert_str_eq(ff, "-1 n1 5 0\n");
	free(out);
	free(ff);
	launch_free(l);
	spec_free(s);
}
END_TEST

/*
 * Under torchrun the rank's shell is torchrun's worker, and torchrun's
 * SIGTERM reaches only it: the shell passes it on to the command, and the
 * record says the rank was killed.
 */
START_TEST(test_torchrun_term_passed_on)
{
	struct spec *s;
	struct launch *l;
	char *script, *cmd, *exits, *p;
	size_t len;
	FILE *f;

	s = make_spec("exec sleep 30", NULL, 0);
	s->parallel.launcher = LAUNCHER_TORCHRUN;
	l = launch_build(s, &ctx, NULL);
	script = xasprintf("%s/worker.sh", dir);
	f = fopen(script, "w");
	write_env(f, l);
	fprintf(f,
	    "export RANK=2 LOCAL_RANK=2 SLURMD_NODENAME=n1 "
	    "LLMCTL_EXIT_FILE=%s/exits\n"
	    "/bin/sh -c \"$LLMCTL_RANK_SH\" llmctl-rank & p=$!\n"
	    "sleep 0.5; kill -TERM $p; wait $p; exit $?\n",
	    dir);
	fclose(f);
	cmd = xasprintf("mkdir -p %s && env -i PATH=/usr/bin:/bin "
	                "timeout 10 /bin/sh %s",
	    l->log_dir, script);
	ck_assert_int_eq(WEXITSTATUS(system(cmd)), 143);
	p = xasprintf("%s/exits", dir);
	ck_assert_int_eq(read_file(p, 4096, &exits, &len, NULL), 0);
	ck_assert_ptr_nonnull(strstr(exits, " 2 n1 143 1 0\n"));
	free(exits);
	free(p);
	free(cmd);
	free(script);
	launch_free(l);
	spec_free(s);
}
END_TEST

/*
 * GLOO_SOCKET_IFNAME / NCCL_SOCKET_IFNAME: the interface that holds
 * MASTER_ADDR on the master node, the route's on the others, nothing for
 * loopback (where ip is not run at all), and what the spec set wins. A
 * stand-in ip answers, and notes that it ran.
 */
START_TEST(test_socket_ifname)
{
	static const struct {
		const char *master, *spec_gloo, *want;
		int ip;
	} cases[] = {
		{ "10.0.0.7", NULL, "ib0 ib0", 1 }, /* the master node */
		{ "10.9.9.9", NULL, "bond0 bond0", 1 }, /* routed */
		{ "127.0.0.1", NULL, "- -", 0 }, /* one host */
		{ "localhost", NULL, "- -", 0 }, /* a name: resolved first */
		{ "10.9.9.9", "eth5", "eth5 bond0", 1 }, /* the spec's wins */
	};
	struct launch_ctx c = ctx;
	struct spec *s;
	struct launch *l;
	char *out, *want, *p, *ran = xasprintf("%s/ran-ip", dir);
	size_t i;
	FILE *f;

	p = xasprintf("%s/ip", dir);
	f = fopen(p, "w");
	fprintf(f, "#!/bin/sh\n: > %s\n", ran);
	fputs(
	    "case \"$*\" in\n"
	    "'-o addr show to 10.0.0.7') echo '2: ib0    inet 10.0.0.7/24 "
	    "scope global ib0' ;;\n"
	    "'route get '*) echo \"$3 via 10.0.0.254 dev bond0 src 10.0.0.9\"; "
	    "echo '    cache' ;;\nesac\n",
	    f);
	fclose(f);
	chmod(p, 0755);
	free(p);
	for (i = 0; i < nitems(cases); i++) {
		c.master_addr = cases[i].master;
		s = make_spec("echo ${GLOO_SOCKET_IFNAME:--} "
		              "${NCCL_SOCKET_IFNAME:--}",
		    NULL, 0);
		if (cases[i].spec_gloo != NULL) {
			free(s->env[0].key);
			free(s->env[0].value);
			s->env[0].key = xstrdup("GLOO_SOCKET_IFNAME");
			s->env[0].value = xstrdup(cases[i].spec_gloo);
		}
		l = launch_build(s, &c, NULL);
		unlink(ran);
		out = run_rank(l, 0, 0, 0, "n1", 0);
		want = xasprintf("%s\n", cases[i].want);
		ck_assert_str_eq(out, want);
		ck_assert_int_eq(access(ran, F_OK) == 0, cases[i].ip);
		free(want);
		free(out);
		launch_free(l);
		spec_free(s);
	}
	free(ran);
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
	tcase_add_test(tc, test_slurm_node_order);
	tcase_add_test(tc, test_slurm_node_order_rotated);
	tcase_add_test(tc, test_first_failure);
	tcase_add_test(tc, test_spares_supervise);
	tcase_add_test(tc, test_first_failure_term_last);
	tcase_add_test(tc, test_success_forks_nothing);
	tcase_add_test(tc, test_warning_recorded);
	tcase_add_test(tc, test_fabric_and_omp_env);
	tcase_add_test(tc, test_script_launcher);
	tcase_add_test(tc, test_torchrun_term_passed_on);
	tcase_add_test(tc, test_socket_ifname);
	suite_add_tcase(s, tc);
	return unit_run(s);
}

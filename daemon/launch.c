/*
 * launch: generate the batch script. The script only runs srun; every rank
 * goes through a fixed wrapper (RANK_WRAPPER) that derives its coordinates
 * from Slurm's task ids and execs the user's command, so the user's words
 * never pass through a shell they did not ask for.
 */
#include "config.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "launch.h"
#include "logdir.h"
#include "spec.h"
#include "util.h"

/*
 * gloo and NCCL take their own address from the hostname, which on a real
 * cluster may resolve to loopback or to a network the other nodes cannot
 * reach (a 2-node DDP job then hangs). Unless the spec (or a fabric
 * profile) names an interface, use the one this node reaches MASTER_ADDR
 * through; on the master node that route is local, so the interface that
 * holds the address. Loopback (every rank on one host) is left alone, and
 * for 127.0.0.0/8 ip is not even asked: it is a process per rank (about
 * 3 ms of CPU each), the wrapper's dearest part.
 */
#define IFNAME_PART \
	"if [ -z \"${GLOO_SOCKET_IFNAME:-}\" ] || " \
	"[ -z \"${NCCL_SOCKET_IFNAME:-}\" ]; then llmctl_a=$MASTER_ADDR; " \
	"case $llmctl_a in *[!0-9.]*) " \
	"llmctl_a=$(getent ahostsv4 \"$MASTER_ADDR\" 2>/dev/null | " \
	"awk 'NR == 1 { print $1 }'); " \
	"llmctl_a=${llmctl_a:-$MASTER_ADDR};; esac; " \
	"case $llmctl_a in 127.*) llmctl_if=lo;; *) " \
	"llmctl_if=$(ip -o addr show to \"$llmctl_a\" 2>/dev/null); " \
	"case $llmctl_if in *': '*) llmctl_if=${llmctl_if#*: }; " \
	"llmctl_if=${llmctl_if%%[ \t]*};; *) llmctl_if=;; esac; " \
	"if [ -z \"$llmctl_if\" ]; then " \
	"llmctl_if=$(ip route get \"$llmctl_a\" 2>/dev/null); " \
	"case $llmctl_if in *' dev '*) llmctl_if=${llmctl_if#* dev }; " \
	"llmctl_if=${llmctl_if%% *};; *) llmctl_if=;; esac; fi;; esac; " \
	"if [ -n \"$llmctl_if\" ] && [ \"$llmctl_if\" != lo ]; then " \
	"GLOO_SOCKET_IFNAME=${GLOO_SOCKET_IFNAME:-$llmctl_if}; " \
	"NCCL_SOCKET_IFNAME=${NCCL_SOCKET_IFNAME:-$llmctl_if}; " \
	"export GLOO_SOCKET_IFNAME NCCL_SOCKET_IFNAME; fi; " \
	"unset llmctl_a llmctl_if; fi; "

/*
 * A task that stops before its rank's wrapper runs says why and records
 * its end as the wrapper would, with Slurm's task id as the rank, so the
 * batch script still names it as the first failure; on stderr
 * (launch.out), where a task's stdout (ranks.exit) was seen lost when srun
 * kills the step at once. srun reports a task's exit as soon as it comes
 * and then kills the step without waiting for output still on its way:
 * both lines went missing from a task that had exited 96. So they go in
 * one write, and the task waits a second before it exits.
 */
#define EARLY_EXIT(rc, msg) \
	"printf '%s\\nllmctl-exit %s %s %s " rc " 0 0\\n' \"" msg "\" " \
	"\"$(date +%s%N)\" \"${SLURM_PROCID:-0}\" " \
	"\"${SLURMD_NODENAME:-?}\" >&2; sleep 1; exit " rc "; "

#define NOT_ON_NODE \
	EARLY_EXIT("96", \
	    "llmctl: workdir $LLMCTL_WORKDIR is not on node " \
	    "$SLURMD_NODENAME (not on a shared file system?)")
#define NOT_IN_PLAN \
	EARLY_EXIT("97", "llmctl: node $SLURMD_NODENAME is not in the plan")

/*
 * Slurm starts a step in /tmp when the workdir is missing on a node (not on
 * a file system the node shares): the job would run, and write, elsewhere.
 */
#define WORKDIR_PART \
	"if [ -n \"${LLMCTL_WORKDIR:-}\" ] && " \
	"! cd -- \"$LLMCTL_WORKDIR\" 2>/dev/null; then " NOT_ON_NODE "fi; "

/*
 * Where this node stands in the plan: NODE_RANK from the node's position
 * in LLMCTL_NODE_ORDER, not from Slurm's (alphabetical) node ids.
 */
#define NODE_PART \
	"NODE_RANK=$SLURM_NODEID; " \
	"if [ -n \"${LLMCTL_NODE_ORDER:-}\" ]; then " \
	"NODE_RANK=; i=0; ifs=$IFS; IFS=,; " \
	"for n in $LLMCTL_NODE_ORDER; do " \
	"[ \"$n\" = \"$SLURMD_NODENAME\" ] && NODE_RANK=$i; " \
	"i=$((i + 1)); done; IFS=$ifs; " \
	"if [ -z \"$NODE_RANK\" ]; then " NOT_IN_PLAN "fi; fi; " \
	"MASTER_ADDR=${MASTER_ADDR:-$SLURM_LAUNCH_NODE_IPADDR}; " \
	"export NODE_RANK MASTER_ADDR; " IFNAME_PART WORKDIR_PART

/*
 * Runs as each rank, once RANK and LOCAL_RANK are known: the TP/PP/DP
 * coordinates (rank = (dp * PP + pp) * TP + tp, docs/design.md 3), one GPU
 * per rank under srun, OpenMP threads from the CPUs the rank was given,
 * the rank's log, then the user's command as a child, so that its end is
 * recorded: one "llmctl-exit" line (time in ns, rank, node, status,
 * killed, warned) on fd 3, which reaches srun in the batch script on the
 * first node (or, under torchrun, a node-local file the node task
 * forwards). A rank whose shell got SIGTERM before its command ended was
 * killed by the step, and is not the cause.
 */
static const char RANK_PART[] =
    "tp=$LLMCTL_TP_SIZE; pp=$LLMCTL_PP_SIZE; "
    "LLMCTL_TP_RANK=$((RANK % tp)); "
    "LLMCTL_PP_RANK=$((RANK / tp % pp)); "
    "LLMCTL_DP_RANK=$((RANK / (tp * pp))); "
    "export LLMCTL_TP_RANK LLMCTL_PP_RANK LLMCTL_DP_RANK; "
    "if [ -n \"${LLMCTL_GPU_PER_RANK:-}\" ]; then "
    "g=$LOCAL_RANK; i=0; ifs=$IFS; IFS=,; "
    "for d in ${CUDA_VISIBLE_DEVICES:-}; do "
    "[ $i = \"$LOCAL_RANK\" ] && g=$d; i=$((i + 1)); done; IFS=$ifs; "
    "CUDA_VISIBLE_DEVICES=$g; export CUDA_VISIBLE_DEVICES; fi; "
    "if [ -z \"${OMP_NUM_THREADS:-}\" ]; then "
    "OMP_NUM_THREADS=$((${SLURM_CPUS_ON_NODE:-1} / LOCAL_WORLD_SIZE)); "
    "[ \"$OMP_NUM_THREADS\" -ge 1 ] || OMP_NUM_THREADS=1; "
    "export OMP_NUM_THREADS; fi; "
    "if [ -n \"${LLMCTL_EXIT_FILE:-}\" ]; then exec 3>>\"$LLMCTL_EXIT_FILE\"; "
    "else exec 3>&1; fi; "
    "umask 077; exec >>\"$LLMCTL_LOG_DIR/rank-$RANK.out\" 2>&1; umask 022; "
    /*
     * The fence (logdir.h): once llmctld has ended this attempt, whatever
     * of it still runs on this node stops, even where Slurm lost track of
     * it (a node cut off from slurmctld). All the step's tasks on a node
     * share a process group; the watcher outlives the TERM to send KILL.
     */
    "p=$$; f=\"$LLMCTL_LOG_DIR.ended\"; "
    "{ trap '' TERM; while kill -0 $p 2>/dev/null; do "
    "if [ -e \"$f\" ]; then echo \"llmctl: attempt $LLMCTL_ATTEMPT has "
    "ended in llmctld: stopping rank $RANK on ${SLURMD_NODENAME:-?}\"; "
    "kill -TERM 0; sleep 10; kill -KILL 0; fi; sleep 2; done; "
    "} 3>&- </dev/null & "
    "killed=0; warned=0; child=; "
    "if [ $# -eq 0 ]; then set -- /bin/sh -c \"$LLMCTL_COMMAND\"; fi; "
    /*
     * Slurm signals every process of the step, so under srun the command
     * runs in the foreground (stdin and SIGINT as usual). torchrun signals
     * only its workers, this shell: there the command runs in the
     * background and gets the SIGTERM passed on.
     */
    "if [ -z \"${LLMCTL_EXIT_FILE:-}\" ]; then trap 'killed=1' TERM; "
    "else trap 'killed=1; kill -TERM $child 2>/dev/null' TERM; fi; "
    /*
     * The time-limit warning goes to every process of the step: this
     * shell must outlive it (a trap, unlike an ignore, is reset in the
     * command, which handles it as it likes).
     */
    "if [ -n \"${LLMCTL_WARN_SIGNAL:-}\" ]; then "
    "trap 'warned=1' \"$LLMCTL_WARN_SIGNAL\"; fi; "
    "if [ -z \"${LLMCTL_EXIT_FILE:-}\" ]; then \"$@\" 3>&-; rc=$?; "
    "else \"$@\" 3>&- & child=$!; "
    "while :; do wait $child; rc=$?; "
    "kill -0 $child 2>/dev/null || break; done; fi; "
    /* the step signals the command and this shell in turn: let it land */
    "if [ $rc -gt 128 ] && [ $killed = 0 ]; then sleep 0.2; fi; "
    /*
     * Only a failure's time is read (FIRST_SCAN): no date for the rest. A
     * signal (the step's TERM) can cut the date short: once more, and
     * never an empty field.
     */
    "t=0; if [ $rc != 0 ]; then t=$(date +%s%N) || :; "
    "[ -n \"$t\" ] || t=$(date +%s%N); t=${t:-0}; fi; "
    "echo \"llmctl-exit $t $RANK ${SLURMD_NODENAME:-?} $rc "
    "$killed $warned\" >&3; exit $rc";

/* srun and mpi: one task per rank, its shell then the rank's (RANK_PART). */
static const char TASK_WRAPPER[] =
    NODE_PART "LOCAL_RANK=$SLURM_LOCALID; "
              "RANK=$((NODE_RANK * LOCAL_WORLD_SIZE + LOCAL_RANK)); "
              "export RANK LOCAL_RANK; ";

/*
 * torchrun: one task per node; torchrun starts the ranks, which record
 * their ends in a file on this node that is then passed on to srun.
 * Debian's torch 1.13 spells its options with underscores, and on Python
 * 3.11 it crashes before starting workers unless --redirects/--tee are
 * given explicitly.
 */
static const char NODE_WRAPPER[] = NODE_PART
    "LLMCTL_EXIT_FILE=$(mktemp \"${TMPDIR:-/tmp}/llmctl-exit.XXXXXX\") "
    "|| exit 96; export LLMCTL_EXIT_FILE; "
    "exec 3>&1; "
    "umask 077; exec >>\"$LLMCTL_LOG_DIR/node-$NODE_RANK.out\" 2>&1; "
    "umask 022; trap : TERM; "
    "if [ -n \"${LLMCTL_WARN_SIGNAL:-}\" ]; then "
    "trap : \"$LLMCTL_WARN_SIGNAL\"; fi; "
    "python3 -m torch.distributed.run --nnodes=\"$LLMCTL_NNODES\" "
    "--nproc_per_node=\"$LOCAL_WORLD_SIZE\" --node_rank=\"$NODE_RANK\" "
    "--master_addr=\"$MASTER_ADDR\" --master_port=\"$MASTER_PORT\" "
    "--max_restarts=0 --redirects=2 --tee=2 --monitor_interval=0.5 "
    "--no_python "
    "/bin/sh -c \"$LLMCTL_RANK_SH\" llmctl-rank \"$@\" 3>&-; rc=$?; "
    "cat \"$LLMCTL_EXIT_FILE\" >&3; rm -f \"$LLMCTL_EXIT_FILE\"; exit $rc";

/*
 * After srun, in the batch script: of the ranks that failed on their own
 * (not killed by the step), the first to end is the cause; one that died
 * of SIGTERM (143) counts only if no other did, in case its kill landed
 * after its command ended. It is written to first-failure ("RANK NODE
 * STATUS WARNED") for llmctld, and the batch exits with its status, which
 * Slurm reports as the job's exit code. Only after a failed step: srun
 * exits 0 only when every task did.
 */
#define FIRST_SCAN \
	"first=; ft=; term=; tt=\n" \
	"while read -r tag t r n c k w; do\n" \
	"\t[ \"$tag\" = llmctl-exit ] && [ \"$c\" != 0 ] && [ \"$k\" = 0 ] ||" \
	" continue\n" \
	"\tif [ \"$c\" = 143 ]; then\n" \
	"\t\t[ -n \"$term\" ] && [ \"$t\" -ge \"$tt\" ] ||" \
	" { term=\"$r $n $c $w\"; tt=$t; }\n" \
	"\telif [ -z \"$first\" ] || [ \"$t\" -lt \"$ft\" ]; then\n" \
	"\t\tfirst=\"$r $n $c $w\"; ft=$t\n" \
	"\tfi\n" \
	"done <<LLMCTL_EXITS\n" \
	"$(cat \"$LLMCTL_LOG_DIR/ranks.exit\"; grep '^llmctl-exit ' " \
	"\"$LLMCTL_LOG_DIR/launch.out\" 2>/dev/null)\n" \
	"LLMCTL_EXITS\n" \
	"first=${first:-$term}\n" \
	"if [ -n \"$first\" ]; then\n" \
	"\techo \"$first\" > \"$LLMCTL_LOG_DIR/first-failure\"\n" \
	"\tset -- $first\n" \
	"\trc=$3\n" \
	"fi\n"
static const char FIRST_FAILURE[] =
    "rc=$?\n[ \"$rc\" = 0 ] && exit 0\n" FIRST_SCAN "exit $rc\n";

/*
 * With spares the batch script supervises the step (docs/design.md 8,
 * "Spares"): srun runs in the background while the script watches for the
 * attempt's fence (logs/<job>/<attempt>.ended, root's: llmctld ends the
 * attempt, e.g. a hang), which stops the step. A failed step is reported
 * in step.end (its status) and the script waits for llmctld's decision in
 * logs/<job>/<slurm job>.next, root's directory, the user's 0400 file: a
 * higher attempt number and its variables (nodes, port, token, resume
 * point) start a new step in this allocation; "stop", or no decision
 * within SPARE_WAIT_S, ends the batch with the step's status.
 */
#define SPARE_WAIT_S 600
static const char SUPERVISE_HEAD[] =
    "llmctl_jobdir=${LLMCTL_LOG_DIR%/*}\n"
    "llmctl_next=$llmctl_jobdir/$SLURM_JOB_ID.next\n"
    "while :; do\n";
static const char SUPERVISE_TAIL[] =
    "llmctl_srun=$!\n"
    "while kill -0 $llmctl_srun 2>/dev/null; do\n"
    "\tif [ -e \"$llmctl_jobdir/$LLMCTL_ATTEMPT.ended\" ]; then\n"
    "\t\tkill -TERM $llmctl_srun 2>/dev/null\n"
    "\tfi\n"
    "\tsleep 0.2\n"
    "done\n"
    "wait $llmctl_srun\n"
    "rc=$?\n[ \"$rc\" = 0 ] && exit 0\n" FIRST_SCAN
    "echo \"$rc\" > \"$LLMCTL_LOG_DIR/step.end\"\n"
    "llmctl_t=0\n"
    "while :; do\n"
    "\tn=$(sed -n 's/^LLMCTL_ATTEMPT=//p' \"$llmctl_next\" 2>/dev/null)\n"
    "\t[ \"$n\" = stop ] && exit \"$rc\"\n"
    "\t[ -n \"$n\" ] && [ \"$n\" -gt \"$LLMCTL_ATTEMPT\" ] 2>/dev/null && "
    "break\n"
    "\tllmctl_t=$((llmctl_t + 1))\n"
    "\t[ $llmctl_t -le %d ] || exit \"$rc\"\n"
    "\tsleep 0.2\n"
    "done\n"
    "unset LLMCTL_RESUME_FROM LLMCTL_RESUME_STEP\n"
    ". \"$llmctl_next\"\n"
    "export LLMCTL_ATTEMPT LLMCTL_LOG_DIR LLMCTL_NODE_ORDER MASTER_ADDR "
    "MASTER_PORT LLMCTL_SPARE_NODES\n"
    "[ -z \"${LLMCTL_HEARTBEAT_TOKEN:-}\" ] || export LLMCTL_HEARTBEAT_TOKEN\n"
    "[ -z \"${LLMCTL_RESUME_FROM:-}\" ] || "
    "export LLMCTL_RESUME_FROM LLMCTL_RESUME_STEP\n"
    "echo \"llmctl: attempt $LLMCTL_ATTEMPT starts in this allocation on "
    "$LLMCTL_NODE_ORDER\" >&2\n"
    "done\n";

/*
 * launcher script: the command is run once, here, as the batch script,
 * with every llmctl variable; its own srun lines are steps of this job.
 * Slurm signals only this shell (warn_batch), which passes the warning on
 * to the command and waits for it again.
 */
static const char SCRIPT_PART[] =
    "NODE_RANK=0; LOCAL_RANK=0; RANK=0\n"
    "MASTER_ADDR=${MASTER_ADDR:-$(hostname)}\n"
    "export NODE_RANK LOCAL_RANK RANK MASTER_ADDR\n"
    "umask 077; exec >>\"$LLMCTL_LOG_DIR/rank-0.out\" 2>&1; umask 022\n"
    "warned=0; child=\n"
    "if [ -n \"${LLMCTL_WARN_SIGNAL:-}\" ]; then\n"
    "\ttrap 'warned=1; [ -z \"$child\" ] || "
    "kill -s \"$LLMCTL_WARN_SIGNAL\" \"$child\"' \"$LLMCTL_WARN_SIGNAL\"\n"
    "fi\n"
    "%s &\n"
    "child=$!\n"
    "while :; do\n"
    "\twait \"$child\"; rc=$?\n"
    "\tkill -0 \"$child\" 2>/dev/null || break\n"
    "done\n"
    "if [ \"$rc\" != 0 ]; then\n"
    "\techo \"-1 ${SLURMD_NODENAME:-?} $rc $warned\" > "
    "\"$LLMCTL_LOG_DIR/first-failure\"\n"
    "fi\n"
    "exit $rc\n";

/*
 * Slurm chose the nodes (LLMCTL_TOPO_ORDER, the candidates leaf by leaf in
 * tree order, instead of the plan's LLMCTL_NODE_ORDER): the batch script
 * orders the job's nodes so, the batch node first, then the rest of its
 * leaf, then the leaves after it in tree order, then those before it: the
 * tree order rotated, so a ring over the ranks crosses each level of
 * switches as few times as the tree order does (moving only the batch
 * node's leaf to the front would split its spine's leaves once the job
 * spans three spines). The batch node is node rank 0, at srun's
 * SLURM_LAUNCH_NODE_IPADDR (MASTER_ADDR). A node the list lacks goes last;
 * without scontrol, Slurm's order stands.
 */
static const char TOPO_ORDER[] =
    "if [ -z \"${LLMCTL_NODE_ORDER:-}\" ] && "
    "[ -n \"${LLMCTL_TOPO_ORDER:-}\" ]; then\n"
    "\tLLMCTL_NODE_ORDER=$(scontrol show hostnames \"$SLURM_JOB_NODELIST\" "
    "| awk -v t=\"$LLMCTL_TOPO_ORDER\" -v me=\"$SLURMD_NODENAME\" '\n"
    "\tfunction put(x) { if ((x in mine) && !(x in done)) "
    "{ o = o (o == \"\" ? \"\" : \",\") x; done[x] = 1 } }\n"
    "\t{ mine[$0] = 1; all[++m] = $0 }\n"
    "\tEND { n = split(t, leaf, \" \"); f = 1\n"
    "\t\tfor (i = 1; i <= n; i++) "
    "if (index(\",\" leaf[i] \",\", \",\" me \",\")) f = i\n"
    "\t\tput(me)\n"
    "\t\tfor (i = 0; i < n; i++) {\n"
    "\t\t\tk = split(leaf[(f - 1 + i) % n + 1], x, \",\")\n"
    "\t\t\tfor (j = 1; j <= k; j++) put(x[j]) }\n"
    "\t\tfor (i = 1; i <= m; i++) put(all[i])\n"
    "\t\tprint o }')\n"
    "\texport LLMCTL_NODE_ORDER\n"
    "fi\n";

/*
 * Before the workers: health.preflight once per node. Nodes where it fails
 * are listed in preflight.failed and the batch exits 98; llmctld reads the
 * list, blames those nodes and ends the attempt as preflight_failed.
 */
#define PREFLIGHT_NODE \
	"/bin/sh -c \"$LLMCTL_PREFLIGHT\" || " \
	"echo \"$SLURMD_NODENAME\" >> \"$LLMCTL_LOG_DIR/preflight.failed\""
static const char PREFLIGHT[] =
    "srun --nodes=%d --ntasks=%d --ntasks-per-node=1 --kill-on-bad-exit=0 "
    "--open-mode=append --output=\"$LLMCTL_LOG_DIR/preflight.out\" "
    "/bin/sh -c '" PREFLIGHT_NODE "'\n"
    "if [ -s \"$LLMCTL_LOG_DIR/preflight.failed\" ]; then\n"
    "\techo \"llmctl: preflight failed on: $(cat "
    "\"$LLMCTL_LOG_DIR/preflight.failed\")\" >&2\n"
    "\texit 98\n"
    "fi\n";

static void env_add(struct launch *l, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
env_add(struct launch *l, const char *key, const char *fmt, ...)
{
	va_list ap;
	char *value;
	size_t i, klen = strlen(key);

	va_start(ap, fmt);
	value = xvasprintf(fmt, ap);
	va_end(ap);
	/* later values win, as in a shell */
	for (i = 0; i < l->nenv; i++) {
		if (strncmp(l->env[i], key, klen) == 0 &&
		    l->env[i][klen] == '=') {
			free(l->env[i]);
			l->env[i] = xasprintf("%s=%s", key, value);
			free(value);
			return;
		}
	}
	l->env = xreallocarray(l->env, l->nenv + 2, sizeof(*l->env));
	l->env[l->nenv++] = xasprintf("%s=%s", key, value);
	l->env[l->nenv] = NULL;
	free(value);
}

/* Names for the shell's trap and kill -s, by signal number. */
static const char *
signal_name(int signo)
{
	static const struct {
		int signo;
		const char *name;
	} names[] = {
		{ SIGUSR1, "USR1" },
		{ SIGUSR2, "USR2" },
		{ SIGTERM, "TERM" },
		{ SIGINT, "INT" },
		{ SIGHUP, "HUP" },
		{ SIGURG, "URG" },
	};
	size_t i;

	for (i = 0; i < nitems(names); i++)
		if (names[i].signo == signo)
			return names[i].name;
	return NULL;
}

/*
 * The warning before the time limit: only one the job asked for
 * (warning.signal), or the site's default when the admin set one. A
 * warning longer than the job itself comes at half-time.
 */
static void
launch_warning(
    struct launch *l, const struct spec *spec, const struct launch_ctx *ctx)
{
	int64_t limit = spec->resources.time_limit_s, before;

	if (limit <= 0)
		return;
	if (spec->warning.signal != SPEC_SIG_NONE) {
		l->warn_signal = spec_signal_number(spec->warning.signal);
		before = spec->warning.before_s;
	} else {
		l->warn_signal = ctx->warn_signo;
		before = ctx->warn_time_s;
	}
	if (l->warn_signal == 0 || signal_name(l->warn_signal) == NULL) {
		l->warn_signal = 0;
		return;
	}
	if (before >= limit)
		before = limit / 2;
	l->warn_time_s = (int)(before < 65535 ? before : 65535);
	l->warn_batch = spec->parallel.launcher == LAUNCHER_SCRIPT;
}

/* The batch script's command line: srun of the wrapper, or the script. */
static char *
launch_body(const struct spec *spec, const char *args, const char *logq)
{
	int world = spec_world_size(spec), torchrun, spares;
	char *wrap, *wrapq, *cmd, *body, *exitq, *tail;

	if (spec->parallel.launcher == LAUNCHER_SCRIPT) {
		cmd = spec->argc > 0
		    ? xstrdup(args + 1)
		    : xstrdup("/bin/sh -c \"$LLMCTL_COMMAND\"");
		body = xasprintf(SCRIPT_PART, cmd);
		free(cmd);
		return body;
	}
	torchrun = spec->parallel.launcher == LAUNCHER_TORCHRUN;
	wrap = torchrun ? xstrdup(NODE_WRAPPER)
	                : xasprintf("%s%s", TASK_WRAPPER, RANK_PART);
	wrapq = sh_quote(wrap);
	free(wrap);
	exitq = xstrdup("\"$LLMCTL_LOG_DIR/ranks.exit\"");
	spares = spec->resources.spare_nodes > 0;
	tail = spares ? xasprintf(SUPERVISE_TAIL, SPARE_WAIT_S * 5)
	              : xstrdup(FIRST_FAILURE);
	/* the step's own nodes, in the allocation that holds the spares too */
	body = xasprintf(
	    "%ssrun --kill-on-bad-exit=1 --nodes=%d --ntasks=%d "
	    "--ntasks-per-node=%d%s%s --open-mode=append --error=%s \\\n"
	    "    /bin/sh -c %s llmctl-rank%s > %s%s\n%s",
	    spares ? SUPERVISE_HEAD : "", spec->resources.nodes,
	    torchrun ? spec->resources.nodes : world,
	    torchrun ? 1 : spec->resources.tasks_per_node,
	    spec->parallel.launcher == LAUNCHER_MPI ? " --mpi=pmix" : "",
	    spares ? " --nodelist=\"$LLMCTL_NODE_ORDER\"" : "",
	    /* each step's in its own attempt's directory */
	    spares ? "\"$LLMCTL_LOG_DIR/launch.out\"" : logq, wrapq, args,
	    exitq, spares ? " &" : "", tail);
	free(tail);
	free(wrapq);
	free(exitq);
	return body;
}

static void
env_default(struct launch *l, const struct spec *spec)
{
	struct spec_kv *kv;
	size_t n, i;

	n = spec_rank_env(spec, &kv);
	for (i = 0; i < n; i++)
		env_add(l, kv[i].key, "%s", kv[i].value);
	spec_kv_free(kv, n);
}

struct launch *
launch_build(
    const struct spec *spec, const struct launch_ctx *ctx, char **cause)
{
	struct launch *l;
	char *logq, *argq, *args = xstrdup(""), *tmp, *deadline, *preflight;
	char *body;
	int world = spec_world_size(spec);
	size_t i;

	if (spec->command == NULL && spec->argc == 0) {
		free(args);
		set_cause(cause, "spec has no command");
		return NULL;
	}
	l = xcalloc(1, sizeof(*l));
	l->log_dir = xasprintf("%s/logs/%lld/%d", ctx->state_dir,
	    (long long)ctx->job_id, ctx->attempt);
	l->batch_log = xasprintf("%s/batch.out", l->log_dir);
	launch_warning(l, spec, ctx);

	env_add(l, "PATH", "%s",
	    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
	env_add(l, "HOME", "%s", ctx->home != NULL ? ctx->home : "/");
	env_add(l, "USER", "%s", ctx->user);
	env_add(l, "LOGNAME", "%s", ctx->user);
	env_add(l, "LANG", "C.UTF-8");
	env_default(l, spec);
	for (i = 0; i < spec->nenv; i++)
		env_add(l, spec->env[i].key, "%s", spec->env[i].value);
	env_add(l, "MASTER_PORT", "%d", ctx->master_port);
	env_add(l, "WORLD_SIZE", "%d", world);
	env_add(l, "LOCAL_WORLD_SIZE", "%d", spec->resources.tasks_per_node);
	env_add(l, "LLMCTL_JOB_ID", "%lld", (long long)ctx->job_id);
	env_add(l, "LLMCTL_ATTEMPT", "%d", ctx->attempt);
	env_add(l, "LLMCTL_TP_SIZE", "%d", spec->parallel.tensor);
	env_add(l, "LLMCTL_PP_SIZE", "%d", spec->parallel.pipeline);
	env_add(l, "LLMCTL_DP_SIZE", "%d", spec->parallel.data);
	env_add(l, "LLMCTL_LOG_DIR", "%s", l->log_dir);
	if (spec->checkpoint.dir != NULL)
		env_add(l, "LLMCTL_CHECKPOINT_DIR", "%s", spec->checkpoint.dir);
	if (spec->workdir != NULL)
		env_add(l, "LLMCTL_WORKDIR", "%s", spec->workdir);
	if (spec->command != NULL)
		env_add(l, "LLMCTL_COMMAND", "%s", spec->command);
	if (ctx->node_order != NULL)
		env_add(l, "LLMCTL_NODE_ORDER", "%s", ctx->node_order);
	if (ctx->topo_order != NULL)
		env_add(l, "LLMCTL_TOPO_ORDER", "%s", ctx->topo_order);
	if (ctx->master_addr != NULL)
		env_add(l, "MASTER_ADDR", "%s", ctx->master_addr);
	env_add(l, "LLMCTL_NNODES", "%d", spec->resources.nodes);
	if (ctx->spare_nodes != NULL)
		env_add(l, "LLMCTL_SPARE_NODES", "%s", ctx->spare_nodes);
	if (ctx->resume_from != NULL) {
		env_add(l, "LLMCTL_RESUME_FROM", "%s", ctx->resume_from);
		env_add(l, "LLMCTL_RESUME_STEP", "%lld",
		    (long long)ctx->resume_step);
	}
	if (ctx->heartbeat_url != NULL) {
		env_add(l, "LLMCTL_HEARTBEAT_URL", "%s", ctx->heartbeat_url);
		env_add(
		    l, "LLMCTL_HEARTBEAT_TOKEN", "%s", ctx->heartbeat_token);
	}
	if (l->warn_signal != 0) {
		env_add(
		    l, "LLMCTL_WARN_SIGNAL", "%s", signal_name(l->warn_signal));
		env_add(l, "LLMCTL_WARN_TIME", "%d", l->warn_time_s);
	}
	if (spec->health.preflight != NULL)
		env_add(l, "LLMCTL_PREFLIGHT", "%s", spec->health.preflight);
	if (spec->parallel.launcher == LAUNCHER_TORCHRUN)
		env_add(l, "LLMCTL_RANK_SH", "%s", RANK_PART);
	if (spec->resources.gpus_per_node > 0 &&
	    spec->parallel.launcher != LAUNCHER_TORCHRUN &&
	    spec->parallel.launcher != LAUNCHER_SCRIPT)
		env_add(l, "LLMCTL_GPU_PER_RANK", "1");

	for (i = 0; i < spec->argc; i++) {
		argq = sh_quote(spec->argv[i]);
		tmp = xasprintf("%s %s", args, argq);
		free(args);
		free(argq);
		args = tmp;
	}
	/* ranks write rank-<RANK>.out themselves; this catches the rest */
	tmp = xasprintf("%s/launch.out", l->log_dir);
	logq = sh_quote(tmp);
	free(tmp);
	if (spec->resources.time_limit_s > 0)
		deadline = xasprintf("LLMCTL_TIME_LIMIT_AT=$(($(date +%%s) + "
		                     "%lld))\nexport LLMCTL_TIME_LIMIT_AT\n",
		    (long long)spec->resources.time_limit_s);
	else
		deadline = xstrdup("");
	if (spec->health.preflight != NULL)
		/* every node of the allocation, the spares too */
		preflight = xasprintf(PREFLIGHT,
		    spec->resources.nodes + spec->resources.spare_nodes,
		    spec->resources.nodes + spec->resources.spare_nodes);
	else
		preflight = xstrdup("");
	body = launch_body(spec, args, logq);
	l->script =
	    xasprintf("#!/bin/sh\n"
	              "# llmctl job %lld attempt %d, generated by llmctld.\n"
	              "%s%s%s%s",
	        (long long)ctx->job_id, ctx->attempt, deadline,
	        ctx->topo_order != NULL ? TOPO_ORDER : "", preflight, body);
	free(body);
	free(deadline);
	free(preflight);
	free(logq);
	free(args);
	return l;
}

void
launch_free(struct launch *l)
{
	size_t i;

	if (l == NULL)
		return;
	free(l->script);
	for (i = 0; i < l->nenv; i++)
		free(l->env[i]);
	free(l->env);
	free(l->log_dir);
	free(l->batch_log);
	free(l);
}

#!/bin/bash
# placement-bench: llmctl next to plain sbatch on one busy cluster (issue 12
# section 1). One run starts a private cluster of 8 nodes x 8 GPUs in leaves
# of 2, spines of 2 leaves (tests/cluster/slurm-cluster) and llmctld, then
# runs the same mixed
# workload twice, one phase after the other on an empty cluster: once
# submitted through llmctl (as llmtest), once through sbatch (as llmtest,
# with --switches=L@WAIT, L the fewest leaves the job can span). In both
# phases plain sbatch jobs of llmtest2 queue at the same times. Prints mean
# and p95 queue wait (client submit -> Slurm's StartTime), how long of it
# the job was not yet in Slurm's queue (llmctl holds a job until its
# nodes are free: "waiting for resources"), makespan (first
# submit -> last end), leaves spanned per job and jobs cancelled and
# resubmitted (llmctl's re-plans).
#
# A second table shows what a large trainer's collectives see, from the
# nodes each job actually got: spines spanned per job and jobs over the
# fewest spines their size allows; and the ring over the job's nodes in
# the order its ranks use, wrapping around: consecutive nodes on different
# leaves (ring leaf crossings; the fewest for a job on L leaves is 0 for
# L = 1, else L) and on different spines. The rank order for llmctl is
# what its ranks report: every rank of the workload prints "llmctl-node
# NODE_RANK SLURMD_NODENAME" to its rank-RANK.out under llmctld's log dir
# (from the plan's LLMCTL_NODE_ORDER, or the batch script's leaf-by-leaf
# order when Slurm chose the nodes); for sbatch it is SLURM_NODEID's, which
# is `scontrol show hostnames $SLURM_JOB_NODELIST` order, what srun and
# torchrun users get. "ring over min" sums the crossings above each job's
# minimum for its leaf count; "jobs ring over min" counts those jobs.
#
# LEAF_ORDER=interleaved wires the leaves across the names (leaf0 =
# n1,n5, leaf1 = n2,n6 ...; slurm-cluster --leaf-order), as after
# re-cabling or with rail-optimised wiring: sorted names then alternate
# between leaves. A benchmark, not a test: it asserts
# nothing about times and ./test.sh does not run it. About 10 minutes
# (two phases of 3-4 minutes each; JOBS=20 halves it).
#
# Reproduce (as root, after a build in _build):
#   E2E_DIR=/tmp/llmctl-pbench tests/bench/placement-bench.sh
#   E2E_DIR=/tmp/llmctl-pbench LEAF_ORDER=interleaved \
#       tests/bench/placement-bench.sh
# env: JOBS (40) jobs per phase, SEED (1), WINDOW (60) s over which they
# arrive, SBATCH_SRUN (1): the sbatch jobs run their sleep as srun's
# tasks on every node, as a multi-node trainer is launched (srun torchrun
# ..., srun python ...) and as llmctl runs every rank; 0 sleeps in the
# batch script alone (the runs before 2026-12-03, which then spared
# sbatch's jobs the step launch llmctl's pay, about 0.5 s a job),
# BG_JOBS (12) llmtest2 jobs per phase, SWITCH_WAIT (60) s for
# --switches, REPLAN_AFTER (60) llmctld's replan_after, LEAF_ORDER
# (contiguous) or interleaved, LEAVES_PER_SPINE (2), KEEP=1 leaves the
# cluster running. Raw data stay in $E2E_DIR/bench.
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
: "${E2E_DIR:=/tmp/llmctl-pbench}"
. "$TOP/tests/e2e/lib.sh"
JOBS=${JOBS:-40}
SBATCH_RUN=srun
[ "${SBATCH_SRUN:-1}" = 1 ] || SBATCH_RUN=''
SEED=${SEED:-1}
WINDOW=${WINDOW:-60}
BG_JOBS=${BG_JOBS:-12}
SWITCH_WAIT=${SWITCH_WAIT:-60}
# --switches=L@TIME takes Slurm's time format, where a bare number is
# minutes: SWITCH_WAIT seconds as MM:SS (before 2026-12-03 the bench sent
# "@60", 60 minutes, which Slurm caps at max_switch_wait, 300 s: sbatch's
# jobs waited five times as long for their leaves as llmctl's 60 s)
SWITCH_TIME=$((SWITCH_WAIT / 60)):$(printf %02d $((SWITCH_WAIT % 60)))
REPLAN_AFTER=${REPLAN_AFTER:-60}
LEAF_ORDER=${LEAF_ORDER:-contiguous}
LEAVES_PER_SPINE=${LEAVES_PER_SPINE:-2}
NODES=8
PER_LEAF=2
B=$E2E_DIR/bench

[ "$(id -u)" = 0 ] || { echo "placement-bench: must run as root" >&2; exit 2; }
[ -x "$LLMCTLD_BIN" ] || { echo "build first: $LLMCTLD_BIN missing" >&2; exit 2; }

cleanup() {
	daemon_stop
	[ -n "${KEEP:-}" ] || cluster_stop
}
trap cleanup EXIT
trap 'exit 1' INT TERM

bench_fresh "$B"
# a fresh Slurm state: the job counts come from the whole queue
cluster_stop
cluster_start --nodes $NODES --gpus 8 --nodes-per-leaf $PER_LEAF \
    --leaves-per-spine "$LEAVES_PER_SPINE" --leaf-order "$LEAF_ORDER" --clean ||
    exit 1
# the e2e configuration with llmctld's ordinary re-plan delay
eval "e2e_$(declare -f daemon_conf)"
daemon_conf() {
	e2e_daemon_conf
	sed -i "s/^replan_after: .*/replan_after: $REPLAN_AFTER/" \
	    "$E2E_DIR/llmctld.conf"
}
daemon_start || exit 1

# The workload, the same in both phases: "at nodes gpus sleep" per line.
python3 - "$SEED" "$JOBS" "$WINDOW" "$BG_JOBS" "$B" <<'PY'
import random, sys
seed, jobs, window, bg, out = int(sys.argv[1]), int(sys.argv[2]), \
    float(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
r = random.Random(seed)
def write(name, n, nodes):
    at = sorted(r.uniform(0, window) for _ in range(n))
    with open(f"{out}/{name}", "w") as f:
        for t in at:
            f.write(f"{t:.1f} {r.randint(*nodes)} {r.randint(1, 8)} "
                    f"{r.randint(5, 20)}\n")
write("workload", jobs, (1, 4))
write("background", bg, (1, 2))
PY

# at_times FILE CMD: for each line "at nodes gpus sleep" of FILE, at t0 +
# at, run CMD I NODES GPUS SLEEP in the background (so a slow submit does
# not delay the next); waits for them all.
at_times() {
	local file=$1 cmd=$2 t0 i=0 at n g s pids=""
	t0=$(date +%s.%N)
	while read -r at n g s; do
		i=$((i + 1))
		sleep "$(awk -v t0="$t0" -v at="$at" -v now="$(date +%s.%N)" \
		    'BEGIN { d = t0 + at - now; print (d > 0 ? d : 0) }')"
		"$cmd" "$i" "$n" "$g" "$s" &
		pids="$pids $!"
	done <"$file"
	# (not a bare wait: llmctld is this shell's child too)
	# shellcheck disable=SC2086
	wait $pids
}

min_leaves() {
	echo $((($1 + PER_LEAF - 1) / PER_LEAF))
}

bg_submit() {
	local id
	id=$(as_user "$TEST_USER2" sbatch --parsable -N "$2" \
	    --ntasks-per-node="$3" --gres=gpu:"$3" -t 5 -o /dev/null \
	    -J bg --wrap "sleep $4") && echo "$1 $id" >>"$B/$PHASE.bg"
}

sbatch_submit() {
	local at id
	at=$(date +%s.%N)
	id=$(as_user "$TEST_USER" sbatch --parsable -N "$2" \
	    --ntasks-per-node="$3" --gres=gpu:"$3" -t 5 -o /dev/null \
	    --switches="$(min_leaves "$2")@$SWITCH_TIME" -J "b$1" \
	    --wrap "$SBATCH_RUN sleep $4") && echo "$1 $at $id" >>"$B/$PHASE.sub"
}

llmctl_submit() {
	local at id
	cat >"$E2E_DIR/pb$1.yaml" <<SPEC
version: 1
name: pb$1
command: echo llmctl-node \$NODE_RANK \$SLURMD_NODENAME; sleep $4
workdir: $SHARED
resources: {nodes: $2, gpus_per_node: $3, time_limit: 5m}
recovery: {max_restarts: 0}
SPEC
	chmod 644 "$E2E_DIR/pb$1.yaml"
	at=$(date +%s.%N)
	id=$(cd "$SHARED" && ullmctl submit "$E2E_DIR/pb$1.yaml") &&
	    echo "$1 $at $id" >>"$B/$PHASE.sub"
}

# until no Slurm job of the phase's users is left in the queue
wait_drained() {
	local i
	for i in $(seq 600); do
		[ -z "$(squeue -h -u "$TEST_USER,$TEST_USER2" -t PD,R,CG -o %i)" ] &&
		    return 0
		sleep 1
	done
	echo "placement-bench: jobs still queued after 10 min" >&2
	return 1
}

llmctl_final() {
	local id
	for id in $(cut -d' ' -f3 "$B/llmctl.sub"); do
		case $(job_field "$id" state) in
		COMPLETED | FAILED | CANCELLED) ;;
		*) return 1 ;;
		esac
	done
}

run_phase() {
	local i
	PHASE=$1
	echo "phase $PHASE: $JOBS jobs over ${WINDOW}s, $BG_JOBS of $TEST_USER2" >&2
	at_times "$B/background" bg_submit &
	i=$!
	at_times "$B/workload" "${PHASE}_submit"
	wait $i
	if [ "$PHASE" = llmctl ]; then
		for i in $(seq 600); do
			llmctl_final && break
			sleep 1
		done
		for i in $(cut -d' ' -f3 "$B/llmctl.sub"); do
			llmctl status -o json "$i"
			echo
		done >"$B/llmctl.json"
	fi
	wait_drained
	squeue -h -t all -o '%i|%u|%j|%V|%S|%e|%N|%T|%k' >"$B/$PHASE.squeue"
}

run_phase llmctl
cp "$E2E_DIR/llmctld.log" "$B/llmctld.log"
run_phase sbatch
# "node leaf spine" per node, from the cluster's topology.conf
T=$E2E_DIR/cluster/etc/topology.conf
sed -n 's/^SwitchName=\(spine[^ ]*\) Switches=\(.*\)/\1 \2/p' "$T" |
    while read -r spine leaves; do
	for l in $(scontrol show hostnames "$leaves"); do echo "$l $spine"; done
done >"$B/spines"
sed -n 's/^SwitchName=\(leaf[^ ]*\) Nodes=\(.*\)/\1 \2/p' "$T" |
    while read -r leaf nodes; do
	spine=$(awk -v l="$leaf" '$1 == l { print $2 }' "$B/spines")
	for n in $(scontrol show hostnames "$nodes"); do
		echo "$n $leaf ${spine:-spine0}"
	done
done >"$B/leaves"

python3 - "$B" "$PER_LEAF" "$LEAVES_PER_SPINE" "$E2E_DIR/state/logs" \
    "$LEAF_ORDER" <<'PY'
import glob, json, math, re, subprocess, sys, time
B, per_leaf, per_spine, logs, leaf_order = sys.argv[1], int(sys.argv[2]), \
    int(sys.argv[3]), sys.argv[4], sys.argv[5]
topo = [l.split() for l in open(f"{B}/leaves")]
leaf = {n: l for n, l, _ in topo}
spine = {n: s for n, _, s in topo}
nodes_per_spine = per_leaf * (per_spine or len(set(leaf.values())))
work = [l.split() for l in open(f"{B}/workload")]

def hosts(nl):
    out = subprocess.run(["scontrol", "show", "hostnames", nl],
                         capture_output=True, text=True).stdout
    return out.split()

def epoch(s):
    return time.mktime(time.strptime(s, "%Y-%m-%dT%H:%M:%S"))

def squeue(phase):
    rows = {}
    for l in open(f"{B}/{phase}.squeue"):
        f = l.rstrip("\n").split("|")
        rows[f[0]] = f
    return rows

def subs(phase):
    return {int(i): (float(at), sid) for i, at, sid in
            (l.split() for l in open(f"{B}/{phase}.sub"))}

def ring(order, sw):
    """Consecutive nodes of the rank ring (wrapping) under different sw."""
    return sum(1 for a, b in zip(order, order[1:] + order[:1])
               if sw[a] != sw[b]) if len(order) > 1 else 0

def shape(order, n):
    """What a trainer's collectives see of the nodes in rank order."""
    leaves = len({leaf[h] for h in order})
    x = ring(order, leaf)
    return {"spines": len({spine[h] for h in order}),
            "min_spines": math.ceil(n / nodes_per_spine),
            "xings": x, "over": x - (leaves if leaves > 1 else 0),
            "spine_xings": ring(order, spine)}

def shape_row(phase, shapes, source):
    k = len(shapes)
    return (phase, k, source,
            sum(s["spines"] for s in shapes) / k,
            sum(1 for s in shapes if s["spines"] > s["min_spines"]),
            sum(s["xings"] for s in shapes) / k,
            sum(s["over"] for s in shapes),
            sum(1 for s in shapes if s["over"] > 0),
            sum(s["spine_xings"] for s in shapes) / k)

def rank_order(jid, a):
    """Node order of the attempt's ranks, from their rank-*.out lines."""
    by_rank = {}
    for f in glob.glob(f"{logs}/{jid}/{a['attempt']}/rank-*.out"):
        for l in open(f):
            m = re.match(r"llmctl-node (\d+) (\S+)$", l.strip())
            if m:
                by_rank[int(m.group(1))] = m.group(2)
    return [by_rank[r] for r in sorted(by_rank)]

def row(phase, waits, ends, t0, spans, cancelled, replans, final_ok, n,
        held):
    waits.sort()
    p95 = waits[min(len(waits) - 1, math.ceil(0.95 * len(waits)) - 1)]
    return (phase, n, sum(waits) / len(waits), p95,
            sum(held) / len(held), max(ends) - t0,
            sum(s for s, _ in spans) / len(spans),
            sum(1 for s, m in spans if s > m), cancelled, replans, final_ok)

def stats_sbatch():
    q, sub = squeue("sbatch"), subs("sbatch")
    waits, ends, spans, ok, held, shapes = [], [], [], 0, [], []
    for i, (at, sid) in sub.items():
        f = q[sid]
        held.append(epoch(f[3]) - at)
        waits.append(epoch(f[4]) - at)
        ends.append(epoch(f[5]))
        n = int(work[i - 1][1])
        spans.append((len({leaf[h] for h in hosts(f[6])}),
                      math.ceil(n / per_leaf)))
        ok += f[7] == "COMPLETED"
        # SLURM_NODEID order: the job's nodes sorted as Slurm lists them
        shapes.append(shape(hosts(f[6]), n))
    SHAPES.append(shape_row("sbatch", shapes, "SLURM_NODEID"))
    return row("sbatch", waits, ends, min(a for a, _ in sub.values()),
               spans, 0, 0, ok, len(sub), held)

def stats_llmctl():
    sub = subs("llmctl")
    jobs = {}
    dec = json.JSONDecoder()
    text, pos = open(f"{B}/llmctl.json").read(), 0
    while text[pos:].strip():
        while text[pos].isspace():
            pos += 1
        j, pos = dec.raw_decode(text, pos)
        jobs[str(j["id"])] = j
    waits, ends, spans, ok, replans, held = [], [], [], 0, 0, []
    shapes, pinned = [], 0
    q = squeue("llmctl")
    for i, (at, jid) in sub.items():
        j = jobs[jid]
        a = j["attempts"][-1]
        if a.get("started_at") is None:
            print(f"job {jid} never ran: {j['state']}", file=sys.stderr)
            continue
        waits.append(a["started_at"] - at)
        ends.append(a["ended_at"])
        held.append(epoch(q[str(a["slurm_job_id"])][3]) - at)
        n = int(work[i - 1][1])
        spans.append((len({leaf[h] for h in hosts(a["nodes"])}),
                      math.ceil(n / per_leaf)))
        ok += j["state"] == "COMPLETED"
        order = rank_order(jid, a)
        if sorted(order) != sorted(hosts(a["nodes"])):
            print(f"job {jid}: ranks report nodes {order}, Slurm ran it on "
                  f"{a['nodes']}", file=sys.stderr)
        else:
            shapes.append(shape(order, n))
        pinned += a.get("plan") is not None
        replans += sum(1 for l in open(f"{B}/llmctld.log")
                       if f"job {jid}: " in l and "planning again" in l)
    # every Slurm job llmctld cancelled to plan again is in the queue
    cancelled = sum(1 for f in q.values()
                    if f[1] == "llmtest" and f[7] == "CANCELLED")
    SHAPES.append(shape_row("llmctl", shapes, "rank logs, %d pinned"
                            % pinned))
    return row("llmctl", waits, ends, min(a for a, _ in sub.values()),
               spans, cancelled, replans, ok, len(sub), held)

SHAPES = []

print("| via | jobs | mean wait s | p95 wait s | mean s before Slurm had it "
      "| makespan s | leaves/job "
      "| jobs over min leaves | Slurm jobs cancelled | re-plans "
      "| completed |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for r in (stats_llmctl(), stats_sbatch()):
    print("| %s | %d | %.1f | %.1f | %.1f | %.0f | %.2f | %d | %d | %d | %d |"
          % r)
print()
print(f"leaf order {leaf_order}, {nodes_per_spine} nodes per spine:")
print("| via | jobs | rank order from | spines/job | jobs over min spines "
      "| ring leaf crossings/job | ring crossings over min "
      "| jobs ring over min | ring spine crossings/job |")
print("|---|---|---|---|---|---|---|---|---|")
for r in SHAPES:
    print("| %s | %d | %s | %.2f | %d | %.2f | %d | %d | %.2f |" % r)
PY

#!/bin/bash
# overhead-bench: how long a job holds its nodes beyond its own work,
# through llmctl and through plain sbatch, in one run (issue 12: jobs that
# follow each other on the same nodes add these delays up). A private
# cluster of NODES x GPUS; ROUNDS rounds, each one llmctl job (as llmtest)
# then one `sbatch --wrap "srun sleep S"` of the same shape, one after the
# other on the idle cluster. The figure is slurmctld's own: from
# "Allocate JobId" to "_job_complete ... done" in slurmctld.log (ms), minus
# the sleep. With LOAD=K, K busy loops run the whole time, as the
# placement bench's other jobs load this 2-core machine. Several builds
# (arguments, default _build) run one after the other in the same cluster,
# each with its own sbatch jobs next to it.
#
# Reproduce (as root, after a build):
#   E2E_DIR=/tmp/llmctl-obench tests/bench/overhead-bench.sh
#   E2E_DIR=/tmp/llmctl-obench LOAD=2 tests/bench/overhead-bench.sh \
#       /work/wt-prev/_build _build
# env: ROUNDS (8), NODES (2), GPUS (4) a node and the tasks each node runs,
# SLEEP (3) s, LOAD (0). About 20 s a round and build.
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
: "${E2E_DIR:=/tmp/llmctl-obench}"
. "$TOP/tests/e2e/lib.sh"
ROUNDS=${ROUNDS:-8}
NODES=${NODES:-2}
GPUS=${GPUS:-4}
SLEEP=${SLEEP:-3}
LOAD=${LOAD:-0}
B=$E2E_DIR/bench
[ $# -gt 0 ] || set -- "$TOP/_build"

[ "$(id -u)" = 0 ] || { echo "overhead-bench: must run as root" >&2; exit 2; }
loads=""
cleanup() {
	# shellcheck disable=SC2086
	[ -z "$loads" ] || kill $loads 2>/dev/null
	daemon_stop
	[ -n "${KEEP:-}" ] || cluster_stop
}
trap cleanup EXIT
trap 'exit 1' INT TERM

bench_fresh "$B"
cluster_stop
cluster_start --nodes "$NODES" --gpus "$GPUS" --clean || exit 1
for _ in $(seq "$LOAD"); do
	sh -c 'while :; do :; done' &
	loads="$loads $!"
done

cat >"$B/job.yaml" <<SPEC
version: 1
name: obench
command: sleep $SLEEP
workdir: $SHARED
resources: {nodes: $NODES, gpus_per_node: $GPUS, time_limit: 5m}
recovery: {max_restarts: 0}
SPEC
chmod 644 "$B/job.yaml"

# until llmctl job $1 has ended
llmctl_wait() {
	local s
	for _ in $(seq 600); do
		s=$(job_field "$1" state 2>/dev/null)
		case $s in COMPLETED | FAILED | CANCELLED) return 0 ;; esac
		sleep 0.1
	done
	echo "overhead-bench: llmctl job $1 did not end" >&2
	return 1
}

# this run's lines of slurmctld.log only (--clean keeps the old log)
log0=$(stat -c %s "$E2E_DIR/cluster/log/slurmctld.log")
k=0
for build in "$@"; do
	k=$((k + 1))
	build=$(cd "$build" && pwd)
	commit=$(git -C "$build/.." rev-parse --short HEAD 2>/dev/null || echo '?')
	git -C "$build/.." diff --quiet HEAD 2>/dev/null || commit="$commit, changed"
	echo "$k $build ($commit)" >>"$B/builds"
	daemon_stop
	LLMCTLD_BIN=$build/daemon/llmctld LLMCTL_BIN=$build/cli/llmctl
	daemon_start || exit 1
	for r in $(seq "$ROUNDS"); do
		id=$(cd "$SHARED" && ullmctl submit "$B/job.yaml") || exit 1
		llmctl_wait "$id" || exit 1
		echo "llmctl$k $(attempt_field "$id" 1 slurm_job_id)" >>"$B/jobs"
		as_user "$TEST_USER" sbatch --wait --parsable -N "$NODES" \
		    --ntasks-per-node="$GPUS" --gres=gpu:"$GPUS" -t 5 \
		    -o /dev/null -J "obench$k.$r" --wrap "srun sleep $SLEEP" |
		    sed "s/^/sbatch$k /" >>"$B/jobs"
	done
done

python3 - "$B/jobs" "$E2E_DIR/cluster/log/slurmctld.log" "$SLEEP" \
    "$B/builds" "$LOAD" "$log0" <<'PY'
import datetime, re, sys
jobs, log, sleep, builds, load, log0 = sys.argv[1], sys.argv[2], \
    float(sys.argv[3]), sys.argv[4], sys.argv[5], int(sys.argv[6])
ts = lambda x: datetime.datetime.fromisoformat(x).timestamp()
alloc, done = {}, {}
f = open(log, "rb")
f.seek(log0)
for line in (b.decode(errors="replace") for b in f):
    m = re.match(r'\[(\S+)\] .*Allocate JobId=(\d+)', line)
    if m:
        alloc[int(m.group(2))] = ts(m.group(1))
    m = re.match(r'\[(\S+)\] _job_complete: JobId=(\d+) done', line)
    if m:
        done[int(m.group(2))] = ts(m.group(1))
by = {}
for line in open(jobs):
    who, _, jid = line.strip().partition(' ')
    if jid.isdigit() and int(jid) in alloc and int(jid) in done:
        j = int(jid)
        by.setdefault(who, []).append(done[j] - alloc[j] - sleep)
print(f"# job overhead beyond a {sleep:g} s sleep, s (slurmctld.log); "
      f"LOAD={load}")
for line in open(builds):
    print("# build", line.strip())
print("| via | jobs | mean | median | p90 | min | max |")
print("|---|---|---|---|---|---|---|")
for who in sorted(by, key=lambda w: (w[-1], w)):
    v = sorted(by[who])
    p90 = v[min(len(v) - 1, int(0.9 * len(v)))]
    print(f"| {who} | {len(v)} | {sum(v) / len(v):.3f} | "
          f"{v[len(v) // 2]:.3f} | {p90:.3f} | {v[0]:.3f} | {v[-1]:.3f} |")
PY

#!/bin/bash
# submit-bench: jobs reaching Slurm per second and Slurm RPCs per job,
# llmctl next to plain sbatch of the same job, on one private cluster in
# one run (as root):
#   tests/bench/submit-bench.sh [BUILD...]     (default: _build)
# Each BUILD is a build directory of llmctl (e.g. one of main and one of a
# branch): each has its own llmctld, all on the same cluster, and every
# phase runs ROUNDS times, each build's and sbatch's one after the other,
# so that a machine whose speed drifts (this one is a shared VM) is
# compared over neighbouring minutes; the summary gives every round and the
# median. Env: N (100)
# jobs per phase, ROUNDS (3), CLIENTS (4) for the parallel phase,
# BENCH_DIR, DOWN.
#
# Jobs start and end during a phase as Slurm schedules them, and on a
# small machine that work competes with the submits: how many started in a
# phase swung sbatch's 4-client rate between 65 and 262 jobs/s from one
# run to the next. DOWN=1 sets the partition State=DOWN (Slurm queues jobs
# but starts none), so that both sides measure the submission alone;
# llmctl still plans and pins each job (it does not read partition state).
#
# llmctl runs three phases: a loop of one submit per process, CLIENTS such
# loops side by side, and one `llmctl submit` of N files (a sweep).
# "Reaching Slurm": sdiag's "Jobs submitted" counter, polled until it has
# grown by N (sbatch returns once Slurm has the job, so its loop's wall
# time is the same measure). RPCs: sdiag's per-message-type counters,
# reset (sdiag -r) before a phase, read once every job is in Slurm; the
# daemon's per-tick poll and snapshot load are in them (poll_interval 1 s),
# with sdiag's mean time slurmctld took for each. "machine CPU a job": all
# the machine's busy time during the phase over its jobs, what bounds the
# rate once the clients keep every core busy; split into llmctld (of it,
# its "backend" threads: the Slurm RPC's client end), slurmctld, munged and
# the rest, with llmctld's context switches a job. /bin/true in the same
# loops (no Slurm) gives what the clients' own process start costs. The
# last lines: half of sbatch's CPU a job (what 2x sbatch leaves) next to
# the part of llmctl's that no daemon can save.
set -euo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
N=${N:-100}
ROUNDS=${ROUNDS:-3}
CLIENTS=${CLIENTS:-4}
DIR=${BENCH_DIR:-/tmp/llmctl-submit-bench}
CLUSTER=$TOP/tests/cluster/slurm-cluster
. "$TOP/tests/bench/lib.sh"
BUILDS=("$@")
((${#BUILDS[@]} > 0)) || BUILDS=("$TOP/_build")

mkdir -p "$DIR"
# --clean: Slurm keeps ended jobs (MinJobAge) and a reused dir reaches
# MaxJobCount after a few runs
export "$("$CLUSTER" start "$DIR/cluster" --nodes 4 --cpus 8 --clean 2>/dev/null)"
dpids=()
cleanup() {
	((${#dpids[@]} == 0)) || kill "${dpids[@]}" 2>/dev/null
	"$CLUSTER" stop "$DIR/cluster" >/dev/null 2>&1 || :
}
trap cleanup EXIT
CTLD=$(pgrep -f "slurmctld .*-f $SLURM_CONF" | head -n1)
MUNGED=$(pgrep -f "munged.* --socket=$DIR/cluster" | head -n1)
# Slurm keeps every ended job for MinJobAge (600 s here) and refuses
# submits past MaxJobCount: a run that would pass it measures back-off
total=$((ROUNDS * (${#BUILDS[@]} * 3 * N + 2 * N)))
max=$(scontrol show config | awk '$1 == "MaxJobCount" { print $3 }')
if ((total > ${max:-10000})); then
	echo "submit-bench: $total jobs in one run, Slurm keeps at most ${max:-10000}: fewer ROUNDS or a smaller N" >&2
	exit 2
fi
if [ "${DOWN:-0}" = 1 ]; then
	scontrol update PartitionName=debug State=DOWN
	echo "== partition down: jobs queue in Slurm, none starts"
fi
printf 'version: 1\nname: b\ncommand: "true"\nworkdir: /tmp\nresources:\n  nodes: 1\n  gpus_per_node: 0\nrecovery:\n  max_restarts: 0\n' >"$DIR/job.yaml"

submitted() { sdiag | awk -F: '/^Jobs submitted/ {gsub(/ /, "", $2); print $2}'; }

# wait_for COUNT: until sdiag counts COUNT jobs submitted (at most 120 s)
wait_for() {
	local end=$((SECONDS + 120))
	while (($(submitted) < $1)); do
		((SECONDS < end)) || {
			echo "only $(submitted) of $1 reached Slurm" >&2
			return 1
		}
		sleep 0.02
	done
}

# busy: the machine's CPU time so far, in ticks (every core, every process:
# clients, llmctld, slurmctld, munged, the kernel; idle and iowait left out)
busy() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }

# pcpu PID...: their CPU time so far (all threads), in ticks
pcpu() {
	local p t=0
	for p in "$@"; do
		t=$((t + $(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null || echo 0)))
	done
	echo "$t"
}

# tcpu NAME PID...: the CPU time so far of their threads named NAME (the
# daemon names its pools' threads: "backend" makes the Slurm calls)
tcpu() {
	local name=$1 f t=0
	shift
	for f in $(printf '/proc/%s/task/*/comm ' "$@"); do
		[ "$(cat "$f" 2>/dev/null)" = "$name" ] || continue
		t=$((t + $(awk '{ print $14 + $15 }' "${f%comm}stat" 2>/dev/null || echo 0)))
	done
	echo "$t"
}

# switches PID...: the context switches of all their threads so far
switches() {
	cat $(printf '/proc/%s/task/*/status ' "$@") 2>/dev/null |
	    awk '/ctxt_switches/ { s += $2 } END { print s + 0 }'
}

# rpcs: the per-type counts since the reset, "TYPE=count ...", sdiag's own
# REQUEST_STATS_INFO left out
rpcs() {
	sdiag | awk '/by message type/ {on = 1; next} /by user/ {on = 0}
	    on && /count:/ && $1 != "REQUEST_STATS_INFO" {
		split($0, a, "count:"); split(a[2], b, " ")
		split($0, c, "ave_time:"); split(c[2], d, " ")
		printf "%s=%s:%s ", $1, b[1], d[1] }'
}

# phase LABEL CLIENTS CMD...: N jobs by CLIENTS loops of CMD, timed until
# all N reached Slurm; prints the rate and the RPCs per job by type. With
# FLOOR=1, CMD submits nothing (/bin/true): the phase is timed when the
# loops end and gives what the loop itself costs.
phase() {
	local label=$1 c=$2 base t0 t1 n d0 b0 s0 m0 w0
	shift 2
	n=$((${REPEAT:-$((N / c))} * c))
	[ "${REPEAT:-}" = 1 ] && n=$N
	sdiag -r >/dev/null
	base=$(submitted)
	c0=$(busy)
	d0=$(pcpu "${dpids[@]}")
	b0=$(tcpu backend "${dpids[@]}")
	w0=$(switches "${dpids[@]}")
	s0=$(pcpu "$CTLD")
	m0=$(pcpu "$MUNGED")
	t0=$(date +%s%N)
	local pids=()
	for _ in $(seq "$c"); do
		(for _ in $(seq "${REPEAT:-$((N / c))}"); do "$@" >/dev/null 2>&1 || echo "$label: submit failed" >&2; done) &
		pids+=($!)
	done
	wait "${pids[@]}" 2>/dev/null || :
	[ "${FLOOR:-0}" = 1 ] || wait_for $((base + n))
	t1=$(date +%s%N)
	# where the machine's CPU went: the rest is the clients (and the
	# kernel's work for nobody in particular)
	awk -v l="$label" -v n=$n -v ns=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" \
	    -v all=$(($(busy) - c0)) -v d=$(($(pcpu "${dpids[@]}") - d0)) \
	    -v b=$(($(tcpu backend "${dpids[@]}") - b0)) -v w=$(($(switches "${dpids[@]}") - w0)) \
	    -v s=$(($(pcpu "$CTLD") - s0)) -v m=$(($(pcpu "$MUNGED") - m0)) -v floor="${FLOOR:-0}" \
	    -v out="$DIR/rates" -v cpu="$DIR/cpu" '
	    BEGIN { f = 1000 / hz / n; r = n / (ns / 1e9)
		printf "%-40s %4d %s %7.2f s %8.1f %s/s, machine %5.2f ms CPU a %s\n", l, n,
		    floor ? "runs" : "jobs", ns / 1e9, r, floor ? "runs" : "jobs", all * f, floor ? "run" : "job"
		if (floor) { printf "%s %.1f\n", l, r >>out; printf "%s|%.3f\n", l, all * f >>cpu; exit }
		printf "    CPU ms a job: llmctld %.2f (its Slurm calls %.2f), slurmctld %.2f, munged %.2f, the rest (clients, kernel) %.2f\n",
		    d * f, b * f, s * f, m * f, (all - d - s - m) * f
		if (d > 0) printf "    llmctld context switches a job: %.1f\n", w / n
		printf "%s %.1f\n", l, r >>out
		printf "%s|%.3f %.3f %.3f %.3f %.3f\n", l, all * f, d * f, b * f, s * f, m * f >>cpu }'
	[ "${FLOOR:-0}" = 1 ] && return
	rpcs | awk -v n=$n '{ for (i = 1; i <= NF; i++) {
		split($i, kv, "="); split(kv[2], ct, ":")
		printf "    %-32s %6d  %5.2f per job, %6.2f ms in slurmctld each\n", kv[1], ct[1], ct[1] / n, ct[2] / 1000 } }'
}

# until Slurm's queue is empty again (at most 60 s), so that each phase
# starts on the same idle cluster
drain() {
	local i
	scancel -u root >/dev/null 2>&1 || :
	for i in $(seq 120); do
		[ -z "$(squeue -h -o %i 2>/dev/null)" ] && break
		sleep 0.5
	done
	sleep 1
}

# one daemon per build, all started first and idle but for their 1 s
# poll while another phase runs (1 RPC/s: NODE_INFO)
LB=()
for i in "${!BUILDS[@]}"; do
	B=$(cd "${BUILDS[$i]}" && pwd)
	D=$DIR/b$i
	bench_daemon "$D" "$B"
	dpids+=($!)
	LB+=("$B")
	echo "== llmctl $i from $B ($(git -C "$B/.." log -1 --format=%h 2>/dev/null || echo ?))"
done
echo "== $(nproc) cores, $ROUNDS rounds of $N jobs a phase, llmctl and sbatch alternated"
sleep 2
files=()
for _ in $(seq "$N"); do files+=("$DIR/job.yaml"); done
: >"$DIR/rates"
: >"$DIR/cpu"
for _ in $(seq "$ROUNDS"); do
	for kind in seq par sweep; do
		for i in "${!LB[@]}"; do
			L=("${LB[$i]}/cli/llmctl" --socket "$DIR/b$i/sock")
			case $kind in
			seq) phase "llmctl $i submit, sequential" 1 "${L[@]}" submit "$DIR/job.yaml" ;;
			par) phase "llmctl $i submit, $CLIENTS clients" "$CLIENTS" "${L[@]}" submit "$DIR/job.yaml" ;;
			sweep)
				# N spec files in one run, over one connection (a
				# build that takes one file a run skips it)
				"${L[@]}" submit --help 2>&1 | grep -q 'file \.\.\.' || continue
				REPEAT=1 phase "llmctl $i submit, $N files in one run" 1 "${L[@]}" submit "${files[@]}" ;;
			esac
			c=1
			[ "$kind" = par ] && c=$CLIENTS
			jobs_by[i]=$((${jobs_by[i]:-0} + N / c * c))
			drain
		done
		case $kind in
		seq) phase "sbatch, sequential" 1 sbatch -o /dev/null --wrap true
			FLOOR=1 phase "/bin/true, sequential" 1 /bin/true ;;
		par) phase "sbatch, $CLIENTS clients" "$CLIENTS" sbatch -o /dev/null --wrap true
			FLOOR=1 phase "/bin/true, $CLIENTS clients" "$CLIENTS" /bin/true ;;
		*) continue ;;
		esac
		drain
	done
done
for i in "${!LB[@]}"; do
	# where a job's time goes in the daemon: commits (fsync'd but for a
	# Slurm id and a poll's progress) and CPU, over all its phases' jobs
	curl -s --unix-socket "$DIR/b$i/sock" http://llmctld/v1/metrics | awk -v n="${jobs_by[i]}" \
	    -v cpu="$(awk '{print $14 + $15}' "/proc/${dpids[$i]}/stat")" -v hz="$(getconf CLK_TCK)" -v i="$i" '
		/^llmctld_store_commit_duration_seconds_count/ { c = $2 }
		/^llmctld_store_commit_duration_seconds_sum/ { s = $2 }
		/^llmctld_backend_op_duration_seconds_count\{op="submit"\}/ { wc = $2 }
		/^llmctld_backend_op_duration_seconds_sum\{op="submit"\}/ { ws = $2 }
		END { printf "llmctld %d, per job: %.2f commits (%.2f ms each), %.2f ms CPU; worker: %.2f ms a submit\n",
		    i, c / n, (c>0 ? s / c * 1000 : 0), cpu / hz / n * 1000, (wc>0 ? ws / wc * 1000 : 0) }'
done
sdiag -r >/dev/null
sleep 10
echo "idle daemons (${#LB[@]}), 10 s: $(rpcs | sed 's/:[0-9]* / /g')"
# the summary: every round's rate, and the median
echo "== jobs/s per round, median last"
awk '{ l = $0; sub(/ [^ ]*$/, "", l); r[l] = r[l] sprintf(" %7.1f", $NF); v[l, ++n[l]] = $NF
	if (!(l in seen)) { seen[l] = 1; order[++k] = l } }
	END { for (j = 1; j <= k; j++) { l = order[j]; m = n[l]
		for (a = 1; a <= m; a++) x[a] = v[l, a]
		for (a = 1; a <= m; a++) for (b = a + 1; b <= m; b++) if (x[b] < x[a]) { t = x[a]; x[a] = x[b]; x[b] = t }
		med = m % 2 ? x[(m + 1) / 2] : (x[m / 2] + x[m / 2 + 1]) / 2
		printf "%-40s%s   median %7.1f\n", l, r[l], med } }' "$DIR/rates"
# Once the clients keep both cores busy, machine CPU a job bounds the rate:
# 2x sbatch leaves half of sbatch's. Part of a job's CPU no daemon can
# save: the loop's own process start (/bin/true in the same loop), and
# Slurm's side of one submit (slurmctld, munged, and the RPC's client end,
# llmctld's backend threads). Medians over the rounds, llmctl 0's phases.
echo "== machine CPU ms a job, medians: what 2x sbatch leaves, and the part of it no daemon can save"
awk -F'|' -v c="$CLIENTS" '
	function med(k,   m, a, b, t, x) { m = n[k]; if (!m) return 0
		for (a = 1; a <= m; a++) x[a] = v[k, a]
		for (a = 1; a <= m; a++) for (b = a + 1; b <= m; b++) if (x[b] < x[a]) { t = x[a]; x[a] = x[b]; x[b] = t }
		return m % 2 ? x[(m + 1) / 2] : (x[m / 2] + x[m / 2 + 1]) / 2 }
	{ split($2, f, " "); for (i = 1; i in f; i++) v[$1 "#" i, ++n[$1 "#" i]] = f[i] }
	END { split("sequential|" c " clients", kinds, "|")
		for (j = 1; j <= 2; j++) { k = kinds[j]; l = "llmctl 0 submit, " k
			if (!n["sbatch, " k "#1"] || !n[l "#1"]) continue
			sp = med("/bin/true, " k "#1"); s = med(l "#4"); m = med(l "#5"); b = med(l "#3")
			printf "%-12s 2x sbatch allows %.2f; llmctl uses %.2f (llmctld %.2f); fixed: start-up %.2f + slurmctld %.2f + munged %.2f + Slurm calls %.2f = %.2f\n",
			    k, med("sbatch, " k "#1") / 2, med(l "#1"), med(l "#2"), sp, s, m, b, sp + s + m + b } }' "$DIR/cpu"

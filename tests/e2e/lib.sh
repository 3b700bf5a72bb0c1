# lib.sh: helpers for the end-to-end tests. Sourced by tests/e2e/run.
# Each test is a shell function named test_*; it fails by calling fail.
# The cluster, llmctld and every file live under $E2E_DIR.

: "${E2E_DIR:=/tmp/llmctl-e2e}"
: "${BUILD_DIR:=$TOP/_build}"
LLMCTLD_BIN=$BUILD_DIR/daemon/llmctld
LLMCTL_BIN=$BUILD_DIR/cli/llmctl
CLUSTER=$TOP/tests/cluster/slurm-cluster
SOCK=$E2E_DIR/llmctld.sock
SHARED=$E2E_DIR/shared		# "shared filesystem" the ranks write to
# E2E_MULTIHOST=1: every node is a separate host (tests/cluster/README.md):
# its own address, /tmp and /var; only $SHARED and the state_dir are shared,
# and the heartbeat listener is on the bridge (HB_ADDR, set by cluster_start).
: "${E2E_MULTIHOST:=}"
HB_ADDR=127.0.0.1
# E2E_NAMES=rack: the nodes are rack1-n1 rack1-n2 (leaf0) rack2-n1 rack2-n2
# (leaf1), whose hostlists have two bracket groups (rack[1-2]-n[1-2]);
# tests name nodes through e2e_node, and the default list is NAMES_TESTS.
: "${E2E_NAMES:=}"
# the heartbeat listener's port, different for each E2E_DIR; tests use up to
# HB_PORT + 7 (webhook receivers). Below Slurm's (20000 and up) and the
# kernel's ephemeral range (32768 and up), where any outgoing connection
# could hold it: a webhook receiver once failed to bind there.
HB_PORT=$((10000 + $(echo "$E2E_DIR" | cksum | cut -d' ' -f1) % 9000))
TEST_USER=llmtest	# checkpoints are never scanned as root
# Security tests: TEST_USER attacks, TEST_USER2 is the bystander whose jobs
# and requests must be unaffected. Both are ordinary users.
TEST_USER2=llmtest2
PASSED=0
FAILED=0
FAILED_NAMES=""
CURRENT=""

fail() {
	echo "    FAIL [$CURRENT]: $*" >&2
	return 1
}

llmctl() {
	"$LLMCTL_BIN" --socket "$SOCK" "$@"
}

# Start slurmctld + slurmds (idempotent) and export SLURM_CONF.
cluster_start() {
	local line
	[ -z "$E2E_MULTIHOST" ] ||
	    set -- "$@" --multihost --share "$SHARED" --share "$E2E_DIR/state"
	[ -z "$E2E_NAMES" ] || set -- "$@" --names "$E2E_NAMES"
	line=$("$CLUSTER" start "$E2E_DIR/cluster" "$@") || return 1
	export "${line?}"
	[ -z "$E2E_MULTIHOST" ] ||
	    HB_ADDR=$("$CLUSTER" head-addr "$E2E_DIR/cluster") || return 1
}

# e2e_node I: the I-th node (1-based) in Slurm's order: n3, or rack2-n1
# with E2E_NAMES=rack; I and I+1 (I odd) share a leaf.
e2e_node() {
	scontrol show hostnames "$(sinfo -h -p debug -o %N)" | sed -n "$1p"
}

# expand_nodes HOSTLIST: its names, comma-separated (n[3-4] -> n3,n4).
expand_nodes() {
	scontrol show hostnames "$1" | paste -sd,
}

cluster_stop() {
	"$CLUSTER" stop "$E2E_DIR/cluster" >/dev/null 2>&1 || true
}

daemon_conf() {
	# MASTER_PORTs from the 50 ports above the cluster's slurmd ports: the
	# clusters of test.sh's concurrent suites share this host's ports
	local pb
	pb=$(sed -n 's/.*PORT_BASE=\([0-9]*\).*/\1/p' "$E2E_DIR/cluster/etc/cluster.args" 2>/dev/null)
	cat > "$E2E_DIR/llmctld.conf" <<CONF
socket: $SOCK
database: $E2E_DIR/${E2E_MULTIHOST:+db/}state/llmctld.db
state_dir: $E2E_DIR/state
slurm_conf: $SLURM_CONF
poll_interval: ${E2E_POLL:-1}
log_level: debug
heartbeat_listen: $HB_ADDR:$HB_PORT
replan_after: 4
scan_timeout: 5
# tests fail nodes on purpose: an hour's quarantine would hold back the
# next tests' jobs (t-health sets its own, after this: the last one counts)
node_quarantine: 1s
${pb:+master_port_base: $((pb + 50))
master_port_count: 50}
${E2E_CONF_EXTRA:-}
CONF
}

daemon_start() {
	daemon_conf
	"$LLMCTLD_BIN" -d -f "$E2E_DIR/llmctld.conf" \
	    >> "$E2E_DIR/llmctld.log" 2>&1 &
	echo $! > "$E2E_DIR/llmctld.pid"
	local i
	for i in $(seq 100); do
		[ -S "$SOCK" ] && llmctl status >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	tail -20 "$E2E_DIR/llmctld.log" >&2
	fail "llmctld did not start"
}

# wait_gone PID: until the process has exited (it may not be our child).
wait_gone() {
	local i
	for i in $(seq 100); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.1
	done
	return 1
}

daemon_stop() {
	local pid
	pid=$(cat "$E2E_DIR/llmctld.pid" 2>/dev/null) || return 0
	kill "$pid" 2>/dev/null || true
	wait_gone "$pid"
	rm -f "$E2E_DIR/llmctld.pid"
}

daemon_kill9() {
	local pid
	pid=$(cat "$E2E_DIR/llmctld.pid")
	kill -9 "$pid"
	wait_gone "$pid"
	rm -f "$E2E_DIR/llmctld.pid"
}

# job_field ID FIELD: one field of `llmctl status -o json ID`.
job_field() {
	llmctl status -o json "$1" | python3 -c \
	    'import json,sys; v=json.load(sys.stdin).get(sys.argv[1]); print("" if v is None else v)' "$2"
}

# job_count: the jobs listed, finished ones however old (not just 5 min)
job_count() {
	llmctl status --since all -o json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["jobs"]))'
}

# wait_state ID STATE TIMEOUT: until the job is in STATE (or a final one).
wait_state() {
	local id=$1 want=$2 timeout=${3:-60} state="" i
	for i in $(seq $((timeout * 4))); do
		state=$(job_field "$id" state)
		[ "$state" = "$want" ] && return 0
		case $state in COMPLETED|FAILED|CANCELLED)
			break ;;
		esac
		sleep 0.25
	done
	fail "job $id is ${state:-unknown}, expected $want" \
	    "($(job_field "$id" reason))"
}

# wait_end ID TIMEOUT: until the job has ended, however it ended.
wait_end() {
	local i
	for i in $(seq $((${2:-60} * 4))); do
		case $(job_field "$1" state) in COMPLETED|FAILED|CANCELLED)
			return 0 ;;
		esac
		sleep 0.25
	done
}

# ompi_race ID: the job failed because its first attempt hit Open MPI
# 4.1.4's TCP BTL connect race (a rank warns "failed to TCP connect to a
# peer MPI process ... Operation now in progress (115)", then dies of
# SIGSEGV; open-mpi/ompi#10734). Debian 12's Open MPI does this now and
# then while test.sh runs four clusters side by side; it is not llmctl's
# doing, so an MPI test submits its job once more on it, and only on it.
ompi_race() {
	[ "$(job_field "$1" state)" = FAILED ] &&
	    grep -qs 'Open MPI failed to TCP connect to a peer' \
	    "$E2E_DIR/state/logs/$1/1/"*.out &&
	    echo "    job $1 hit Open MPI's TCP connect race: once more"
}

# bench_fresh DIR: for a benchmark, llmctld stopped, its state, the shared
# directory and DIR (the bench's raw data) made anew, and both test users.
bench_fresh() {
	local u
	daemon_stop
	rm -rf "$E2E_DIR/llmctld.log" "$E2E_DIR/state" "$SHARED" "$1"
	mkdir -p "$E2E_DIR" "$SHARED" "$1"
	chmod 755 "$E2E_DIR" "$1"
	chmod 1777 "$SHARED"
	for u in "$TEST_USER" "$TEST_USER2"; do
		id -u "$u" >/dev/null 2>&1 ||
		    useradd --system --no-create-home --shell /bin/sh "$u"
	done
}

# As the unprivileged test user (what most tests of recovery need).
ullmctl() {
	runuser -u "$TEST_USER" -- "$LLMCTL_BIN" --socket "$SOCK" "$@"
}

# As the second ordinary user.
u2llmctl() {
	runuser -u "$TEST_USER2" -- "$LLMCTL_BIN" --socket "$SOCK" "$@"
}

# as_user USER CMD...: run CMD as that user.
as_user() {
	local u=$1
	shift
	runuser -u "$u" -- "$@"
}

usubmit() {
	local id
	id=$(cd "$SHARED" && ullmctl submit "$1") || { fail "submit $1 failed"; return 1; }
	case $id in ''|*[!0-9]*) fail "submit printed '$id', not a job id"; return 1 ;; esac
	echo "$id"
}

# rank_log ID ATTEMPT RANK: that rank's output
rank_log() {
	cat "$E2E_DIR/state/logs/$1/$2/rank-$3.out" 2>/dev/null
}

# assert_fenced ID ATTEMPT RANK NODE: the ended attempt's rank on NODE was
# stopped by llmctld's fence (logs/<job>/<attempt>.ended) and is gone
assert_fenced() {
	local f=$E2E_DIR/state/logs/$1/$2/rank-$3.out s1 s2
	wait_log "$1" "$2" "$3" "^llmctl: attempt $2 has ended in llmctld: stopping rank $3 on $4\$" 30
	for _ in $(seq 15); do
		s1=$(stat -c %s "$f")
		sleep 2
		s2=$(stat -c %s "$f")
		[ "$s1" = "$s2" ] && return 0
	done
	fail "attempt $2's rank $3 on $4 still writes its log after the fence"
}

# attempts_field ID N FIELD: a field of attempt N (1-based)
attempt_field() {
	llmctl status -o json "$1" | python3 -c '
import json, sys
a = json.load(sys.stdin)["attempts"]
n = int(sys.argv[1])
v = a[n - 1].get(sys.argv[2]) if len(a) >= n else None
print("" if v is None else v)' "$2" "$3"
}

submit() {
	local id
	id=$(llmctl submit "$1") || { fail "submit $1 failed"; return 1; }
	case $id in ''|*[!0-9]*) fail "submit printed '$id', not a job id"; return 1 ;; esac
	echo "$id"
}

# spec NAME NODES GPUS COMMAND [YAML]: write a job spec to $E2E_DIR/NAME.yaml;
# YAML (more top-level sections) replaces the default of no restarts.
spec() {
	cat > "$E2E_DIR/$1.yaml" <<SPEC
version: 1
name: $1
command: $4
workdir: $SHARED
resources:
  nodes: $2
  gpus_per_node: $3
${5:-recovery:
  max_restarts: 0}
SPEC
	chmod 644 "$E2E_DIR/$1.yaml"
	echo "$E2E_DIR/$1.yaml"
}

run_test() {
	CURRENT=$1
	local start=$SECONDS
	echo "--- $1"
	( set -e; "$1" )
	if [ $? -eq 0 ]; then
		PASSED=$((PASSED + 1))
		echo "    ok ($((SECONDS - start)) s)"
	else
		FAILED=$((FAILED + 1))
		FAILED_NAMES="$FAILED_NAMES $1"
		echo "    see $E2E_DIR/llmctld.log and $E2E_DIR/cluster/log"
	fi
}

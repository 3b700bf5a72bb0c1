# t-launch: what llmctl gives a team's unmodified code (issue 11, sections
# 2, 3, 4 and 6): no time-limit warning unless asked for, the exit status
# of the first rank that failed on its own, the script launcher for a
# command with its own srun steps, and the rank environment (OpenMP,
# fabric). Jobs run as $TEST_USER, an ordinary user; spec()'s last
# argument goes right after resources.gpus_per_node.

# events_of ID: the job's events as text
events_of() {
	llmctl events "$1" 2>&1
}

# 2. Python's default action for SIGUSR1 is to die. An unmodified program
# under a 1-minute limit (Slurm's shortest) that runs 50 s completes: the
# old site default (USR1 at half-time, 30 s) would have killed it, as
# slurmctld sends a warning up to 30 s early. The same program asking for
# the warning (warning.signal, before 20s) is killed by it within the
# same 50 s, which shows the warning does reach ranks here; that attempt
# is classed timeout, not user_error.
test_l1_warning_opt_in() {
	local prog="python3 -c 'import time; time.sleep(50); print(\"done\")'"
	local quiet asked
	quiet=$(usubmit "$(spec l1-quiet 1 1 "$prog" "  time_limit: 1m
recovery:
  max_restarts: 0")")
	asked=$(usubmit "$(spec l1-asked 1 1 "$prog" "  time_limit: 1m
warning:
  signal: USR1
  before: 20s
recovery:
  max_restarts: 0")")
	wait_state "$quiet" COMPLETED 100
	rank_log "$quiet" 1 0 | grep -qx done || fail "the quiet job's program did not finish"
	wait_state "$asked" FAILED 100
	[ "$(attempt_field "$asked" 1 cause)" = timeout ] ||
	    fail "warned attempt classed '$(attempt_field "$asked" 1 cause)', expected timeout"
	[ "$(attempt_field "$asked" 1 exit_code)" = 138 ] ||
	    fail "warned attempt exit code $(attempt_field "$asked" 1 exit_code), expected 138 (SIGUSR1)"
	attempt_field "$asked" 1 reason | grep -q "time-limit warning" ||
	    fail "reason: $(attempt_field "$asked" 1 reason)"
	! rank_log "$asked" 1 0 | grep -q done || fail "the warned program ran to its end"
}

# rank1_exit7 ID: the job's rank 1 (which printed node=NODE) exited 7
# first: the attempt's exit code and JSON reason say so; sets NODE.
rank1_exit7() {
	node=$(rank_log "$1" 1 1 | sed -n 's/^node=//p')
	[ -n "$node" ] || fail "rank 1 printed no node"
	[ "$(attempt_field "$1" 1 exit_code)" = 7 ] ||
	    fail "attempt exit code $(attempt_field "$1" 1 exit_code), expected 7"
	attempt_field "$1" 1 reason | grep -q "^rank 1 on $node exited with code 7" ||
	    fail "JSON reason: $(attempt_field "$1" 1 reason)"
}

# 3. 2 nodes x 2 ranks; rank 1 exits 7 while the others sleep and are
# then killed by srun's SIGTERM (143). status, events and the JSON name
# exit code 7, rank 1 and the node it ran on.
test_l2_first_failed_rank() {
	local id node st
	id=$(usubmit "$(spec l2-exit7 2 2 'echo "node=$SLURMD_NODENAME"; if [ "$RANK" = 1 ]; then sleep 2; exit 7; fi; exec sleep 60' "recovery:
  max_restarts: 0")")
	wait_state "$id" FAILED 90
	rank1_exit7 "$id"
	[ "$(job_field "$id" exit_code)" = 7 ] ||
	    fail "job exit code $(job_field "$id" exit_code), expected 7"
	[ "$(attempt_field "$id" 1 cause)" = user_error ] ||
	    fail "cause $(attempt_field "$id" 1 cause), expected user_error"
	st=$(ullmctl status "$id")
	echo "$st" | grep -q "rank 1 on $node exited with code 7" || fail "status: $st"
	events_of "$id" | grep -q "rank 1 on $node exited with code 7" ||
	    fail "events: $(events_of "$id")"
	! echo "$st" | grep -q 143 || fail "status still shows 143: $st"
}

# 4. launcher script: the command runs once as the batch script and runs
# two MPI programs as its own srun steps (each a fresh MPI world of 4),
# with llmctl's variables set.
test_l3_script_two_mpi_steps() {
	local dir=$SHARED/l3 f id n
	mkdir -p "$dir"
	cat > "$dir/allreduce.c" <<'C'
#include <mpi.h>
#include <stdio.h>

int
main(int argc, char **argv)
{
	int rank, size, sum = 0;

	MPI_Init(&argc, &argv);
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &size);
	MPI_Allreduce(&rank, &sum, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
	printf("mpi rank=%d size=%d sum=%d\n", rank, size, sum);
	MPI_Finalize();
	return 0;
}
C
	mpicc -O1 -o "$dir/allreduce" "$dir/allreduce.c" || fail "mpicc failed"
	chmod -R a+rX "$dir"
	f=$(spec l3-script 2 2 "|
  echo \"vars WORLD_SIZE=\$WORLD_SIZE MASTER_ADDR=\$MASTER_ADDR MASTER_PORT=\$MASTER_PORT ORDER=\$LLMCTL_NODE_ORDER\"
  srun --mpi=pmix echo prep
  srun --mpi=pmix $dir/allreduce
  srun --mpi=pmix $dir/allreduce" "env:
  OMPI_MCA_btl: self,tcp
parallel:
  launcher: script
recovery:
  max_restarts: 0
  max_infra_restarts: 0")
	id=$(usubmit "$f")
	wait_end "$id" 120
	! ompi_race "$id" || id=$(usubmit "$f")
	wait_state "$id" COMPLETED 120
	n=$(rank_log "$id" 1 0 | grep -c '^mpi rank=[0-3] size=4 sum=6$')
	[ "$n" = 8 ] || fail "$n MPI lines of 2 worlds of 4: $(rank_log "$id" 1 0 | tail -20)"
	[ "$(rank_log "$id" 1 0 | grep -c '^prep$')" = 4 ] || fail "no prep step"
	rank_log "$id" 1 0 | grep -q '^vars WORLD_SIZE=4 MASTER_ADDR=[^ ][^ ]* MASTER_PORT=[0-9][0-9]* ORDER=[^ ]*,[^ ]*$' ||
	    fail "llmctl variables missing: $(rank_log "$id" 1 0 | grep vars)"
}

# 6. a rank given 3 CPUs (cpus_per_gpu) sees OMP_NUM_THREADS=3; the fabric
# profile's variables reach the ranks, and the user's env wins over them
# (GLOO_SOCKET_IFNAME, OMP_NUM_THREADS in the second job); `llmctl plan`
# shows them.
test_l4_omp_and_fabric() {
	local a b f
	f=$(spec l4-omp 1 2 'echo "omp=$OMP_NUM_THREADS ib=$NCCL_IB_DISABLE nccl_if=$NCCL_SOCKET_IFNAME gloo_if=$GLOO_SOCKET_IFNAME"' "  cpus_per_gpu: 3
env:
  GLOO_SOCKET_IFNAME: lo-mine
fabric:
  type: ethernet
  interface: lo
recovery:
  max_restarts: 0")
	(cd "$SHARED" && ullmctl plan "$f") | grep -q "NCCL_IB_DISABLE=1" ||
	    fail "plan does not show the fabric: $(cd "$SHARED" && ullmctl plan "$f")"
	a=$(usubmit "$f")
	b=$(usubmit "$(spec l4-mine 1 0 'echo "omp=$OMP_NUM_THREADS ib=${NCCL_IB_DISABLE-unset}"' "env:
  OMP_NUM_THREADS: 5
recovery:
  max_restarts: 0")")
	wait_state "$a" COMPLETED 60
	wait_state "$b" COMPLETED 60
	[ "$(rank_log "$a" 1 0)" = "omp=3 ib=1 nccl_if=lo gloo_if=lo-mine" ] ||
	    fail "rank 0 saw: $(rank_log "$a" 1 0)"
	[ "$(rank_log "$a" 1 1)" = "omp=3 ib=1 nccl_if=lo gloo_if=lo-mine" ] ||
	    fail "rank 1 saw: $(rank_log "$a" 1 1)"
	[ "$(rank_log "$b" 1 0)" = "omp=5 ib=unset" ] ||
	    fail "the user's OMP_NUM_THREADS lost: $(rank_log "$b" 1 0)"
}

# first-failure is the user's file, read by root: a symlink planted in its
# place (to a root-owned file with a well-formed line) is not followed;
# the reason stays "exit code 1", and the file it points to is unchanged.
test_l5_sec_first_failure_symlink() {
	local t=$E2E_DIR/root-first-failure id want got
	echo "5 forged 3 1" > "$t"
	chmod 644 "$t"
	want=$(sha256sum < "$t")
	id=$(usubmit "$(spec l5-secff 1 0 "ln -s $t \"\$LLMCTL_LOG_DIR/first-failure\"; exit 1" "recovery:
  max_restarts: 0")")
	wait_state "$id" FAILED 60
	[ -L "$E2E_DIR/state/logs/$id/1/first-failure" ] || fail "the symlink was not planted"
	got=$(attempt_field "$id" 1 reason)
	[ "$got" = "exit code 1" ] || fail "reason '$got': the symlink was followed"
	[ "$(attempt_field "$id" 1 exit_code)" = 1 ] ||
	    fail "exit code $(attempt_field "$id" 1 exit_code)"
	[ "$(sha256sum < "$t")" = "$want" ] || fail "$t changed"
}

# 3, under torchrun: torchrun signals only its workers (the rank shells),
# which pass its SIGTERM on, so rank 0 (rank 1's neighbour) ends at once
# as killed; rank 1 with exit code 7 is named. (The ranks on the other
# node run on: torchrun's exit barrier waits for them.)
test_l6_torchrun_first_failed_rank() {
	local id node exits t1 t0
	id=$(usubmit "$(spec l6-torchrun 2 2 'echo "node=$SLURMD_NODENAME"; if [ "$RANK" = 1 ]; then sleep 3; exit 7; fi; exec sleep 15' "parallel:
  launcher: torchrun
recovery:
  max_restarts: 0")")
	wait_state "$id" FAILED 90
	rank1_exit7 "$id"
	exits=$E2E_DIR/state/logs/$id/1/ranks.exit
	t1=$(awk '$3 == 1 { print $2 }' "$exits")
	t0=$(awk '$3 == 0 && $5 == 143 && $6 == 1 { print $2 }' "$exits")
	[ -n "$t0" ] || fail "rank 0 was not killed: $(cat "$exits")"
	[ $(((t0 - t1) / 1000000)) -lt 5000 ] ||
	    fail "rank 0 ended $(((t0 - t1) / 1000000)) ms after rank 1"
}

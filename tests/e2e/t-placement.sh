# t-placement: the planner's choice is what runs (issue 4).

# n1 fully busy outside llmctl: a 2-node job must take the free leaf
# (n3, n4), not n2 + n3 across the spine, and each rank must run on the
# node the plan gave it.
test_a0_placement_other_leaf() {
	local sid id dir plan r want got
	sid=$(sbatch --parsable -N1 -w n1 --gres=gpu:8 -o /dev/null --wrap 'sleep 120')
	for _ in $(seq 40); do
		[ "$(squeue -h -j "$sid" -o %T)" = RUNNING ] && break
		sleep 0.25
	done
	sleep 2	# the daemon's snapshot is at most a poll old
	dir=$SHARED/place
	mkdir -p "$dir"
	plan=$(curl -s --unix-socket "$SOCK" -X POST http://localhost/v1/plan -d "$(python3 -c 'import json,sys; print(json.dumps({"spec": open(sys.argv[1]).read(), "file": "p.yaml", "workdir": "/tmp"}))' "$(spec place 2 2 "echo \$SLURMD_NODENAME > $dir/rank-\$RANK")")")
	echo "$plan" | grep -q '"nodelist": "n3,n4"' || fail "plan is not n3,n4: $plan"
	id=$(submit "$E2E_DIR/place.yaml")
	wait_state "$id" COMPLETED 90
	scancel "$sid"
	[ "$(job_field "$id" node_list)" = "n3,n4" ] || [ "$(job_field "$id" node_list)" = "n[3-4]" ] ||
	    fail "ran on $(job_field "$id" node_list)"
	for r in 0 1 2 3; do
		want=$([ $r -lt 2 ] && echo n3 || echo n4)
		got=$(cat "$dir/rank-$r" 2>/dev/null)
		[ "$got" = "$want" ] || fail "rank $r ran on '$got', plan said $want"
	done
}

# A job no idle cluster could hold is refused at submit, and not stored.
test_a1_impossible_refused() {
	local before out
	before=$(job_count)
	out=$(llmctl submit "$(spec huge 9 8 true)" 2>&1) && fail "submit of 9 nodes succeeded"
	echo "$out" | grep -q "cannot be placed on this cluster" || fail "said: $out"
	[ "$(job_count)" = "$before" ] || fail "a job was stored"
}

# /v1/nodes shows the switch tree and a snapshot the planner can read.
test_a2_nodes() {
	local out
	out=$(curl -s --unix-socket "$SOCK" http://localhost/v1/nodes)
	echo "$out" | python3 -c '
import json, sys
d = json.load(sys.stdin)
names = sorted(n["name"] for n in d["nodes"])
assert names == ["n1", "n2", "n3", "n4"], names
leaves = {s["name"]: s["nodes"] for s in d["switches"] if s["level"] == 0}
assert leaves == {"leaf0": ["n1", "n2"], "leaf1": ["n3", "n4"]}, leaves
assert all(n["gpus"] == 8 for n in d["nodes"])
assert "version: 1" in d["snapshot"]
' || fail "nodes reply wrong: $out"
}

# The planned nodes are taken before Slurm starts the job (here: their
# memory, which the planner does not model; their few free GPUs make them
# the best fit): llmctld plans again, away
# from them, instead of waiting forever.
test_a3_replan_when_nodes_taken() {
	local sid id
	sid=$(sbatch --parsable -N2 -w n1,n2 --gres=gpu:6 --mem=15500 -c1 -o /dev/null --wrap 'sleep 120')
	for _ in $(seq 40); do
		[ "$(squeue -h -j "$sid" -o %T)" = RUNNING ] && break
		sleep 0.25
	done
	sleep 2
	id=$(submit "$(spec replan 2 1 "echo \$SLURMD_NODENAME")")
	wait_state "$id" COMPLETED 60
	scancel "$sid"
	case $(job_field "$id" node_list) in
	n3,n4|"n[3-4]") ;;
	*) fail "ran on $(job_field "$id" node_list), not n3,n4" ;;
	esac
	llmctl events "$id" | grep -q "still busy after" || fail "no replan event"
	[ "$(job_field "$id" attempt)" = 1 ] || fail "a re-plan is not a new attempt"
}

# Jobs submitted in one burst spread over the free nodes: each plan counts
# the GPUs of our own attempts planned or pending before it (issue 12: 20
# 1-GPU jobs all planned onto n1, most then waited and were re-planned).
test_a4_burst_spreads() {
	local ids="" id i nodes replans=0 t0 running
	spec burst 1 1 "sleep 12" >/dev/null
	for i in $(seq 12); do
		ids="$ids $(usubmit "$E2E_DIR/burst.yaml")" || return 1
	done
	t0=$SECONDS
	for _ in $(seq 120); do
		running=0
		for id in $ids; do
			[ "$(job_field "$id" state)" = RUNNING ] &&
			    running=$((running + 1))
		done
		[ "$running" = 12 ] && break
		sleep 0.5
	done
	echo "    12 jobs running after $((SECONDS - t0)) s"
	[ "$running" = 12 ] || fail "only $running of 12 running together"
	nodes=$(for id in $ids; do job_field "$id" node_list; done | sort -u |
	    tr '\n' ' ')
	for id in $ids; do
		llmctl events "$id" | grep -q "still busy after" &&
		    replans=$((replans + 1))
	done
	echo "    nodes: $nodes; re-planned: $replans"
	[ "$replans" = 0 ] || fail "$replans jobs were re-planned"
	[ "$(echo "$nodes" | wc -w)" -ge 2 ] || fail "all on $nodes"
	for id in $ids; do wait_state "$id" COMPLETED 60 || return 1; done
}

# t-ckpt-layouts: trainers that know nothing of llmctl get its recovery
# (issue 11, part 1). One trainer per framework layout (tests/trainers/
# fw_trainer.py: PyTorch DCP, Megatron-LM, DeepSpeed, Hugging Face,
# Lightning, a single file) runs as $TEST_USER with only checkpoint.dir
# set; each is killed with kill -9 in the middle of its second save, which
# leaves that save cut short on disk, and the next attempt must resume from
# the first, complete one. The six jobs run side by side.

FW=$TOP/tests/trainers/fw_trainer.py
LAYOUTS="dcp megatron deepspeed hf lightning file"

# fw_command LAYOUT: the trainer's command line, with the framework's own
# options filled from the llmctl environment as llmctl-job(5) says
fw_command() {
	local c="python3 $FW $1" d='$LLMCTL_CHECKPOINT_DIR' r='$LLMCTL_RESUME_FROM'
	case $1 in
	dcp)		echo "$c --save $d --resume=$r" ;;
	megatron|deepspeed) echo "$c --save $d --load $d" ;;
	hf)		echo "$c --output_dir $d --resume_from_checkpoint=$r" ;;
	lightning)	echo "$c --default_root_dir $d --ckpt_path=$r" ;;
	file)		echo "$c --snapshot_path $d/snapshot.pt --resume=$r" ;;
	esac
}

# fw_spec LAYOUT: a 2-rank job with checkpoints in $SHARED/fw-LAYOUT
fw_spec() {
	local f=$E2E_DIR/fw-$1.yaml extra=""
	rm -rf "$SHARED/fw-$1"
	[ "$1" = file ] && extra="  file: snapshot.pt
  settle: 2s"
	cat > "$f" <<SPEC
version: 1
name: fw-$1
command: $(fw_command "$1")
workdir: $SHARED
resources:
  nodes: 1
  gpus_per_node: 2
checkpoint:
  dir: $SHARED/fw-$1
$extra
recovery:
  max_restarts: 2
  backoff: 1s
SPEC
	chmod 644 "$f"
	echo "$f"
}

# fw_partial LAYOUT: the second save (step 6) is on disk, cut short
fw_partial() {
	local d=$SHARED/fw-$1
	case $1 in
	dcp)	[ -d "$d/step-6" ] && [ ! -e "$d/step-6/.metadata" ] ;;
	megatron) [ -d "$d/iter_0000006" ] &&
		[ "$(cat "$d/latest_checkpointed_iteration.txt")" = 3 ] ;;
	deepspeed) [ -d "$d/global_step6" ] &&
		[ "$(cat "$d/latest")" = global_step3 ] ;;
	hf)	[ -d "$d/checkpoint-6" ] &&
		[ ! -e "$d/checkpoint-6/trainer_state.json" ] ;;
	lightning) [ -s "$d/epoch=2-step=6.ckpt" ] ;;
	file)	[ -s "$d/snapshot.pt.tmp" ] ;;
	esac
}

# fw_resumed LAYOUT: what the trainer must have resumed from, and the step
# llmctl names in its resume event
fw_resumed() {
	local d=$SHARED/fw-$1
	case $1 in
	dcp)		echo "$d/step-3 3" ;;
	megatron)	echo "$d/iter_0000003 3" ;;
	deepspeed)	echo "$d/global_step3 3" ;;
	hf)		echo "$d/checkpoint-3 3" ;;
	lightning)	echo "$d/last.ckpt 3" ;;
	file)		echo "$d/snapshot.pt 1" ;;	# its first version
	esac
}

test_k1_layouts_resume() {
	local l id pid left i want path step ev out
	declare -A job killed
	for l in $LAYOUTS; do
		job[$l]=$(usubmit "$(fw_spec "$l")")
	done
	# kill rank 0 of each in the pause half way through its second save
	left=6
	for i in $(seq 900); do
		for l in $LAYOUTS; do
			[ -z "${killed[$l]}" ] || continue
			id=${job[$l]}
			rank_log "$id" 1 0 | grep -q '^saving step=6$' || continue
			pid=$(rank_pid "$id" 1 0)
			[ -n "$pid" ] || fail "$l: no pid for rank 0"
			# into the 2 s pause: the half-written save is on disk
			# (on a loaded machine that can take a while after the
			# log line), then a little more, past any barrier
			for _ in $(seq 50); do
				fw_partial "$l" && break
				sleep 0.1
			done
			sleep 0.2
			kill -9 "$pid"
			killed[$l]=1
			left=$((left - 1))
			# before attempt 2 (a second away at least) saves again
			fw_partial "$l" || fail "$l: no partial save on disk" \
			    "after the kill: $(ls -la "$SHARED/fw-$l" | tr '\n' ' ')"
		done
		[ $left -gt 0 ] || break
		sleep 0.1
	done
	[ $left -eq 0 ] || fail "$left trainers never began their second save"
	for l in $LAYOUTS; do
		id=${job[$l]}
		wait_state "$id" COMPLETED 120
		[ "$(job_field "$id" attempt)" = 2 ] ||
		    fail "$l: $(job_field "$id" attempt) attempts, expected 2"
		read -r path step <<<"$(fw_resumed "$l")"
		rank_log "$id" 2 0 | grep -qxF "resumed from $path step=3" ||
		    fail "$l: attempt 2 did not resume from $path:" \
		    "$(rank_log "$id" 2 0 | head -3)"
		rank_log "$id" 2 1 | grep -qxF "resumed from $path step=3" ||
		    fail "$l: rank 1 did not resume from $path"
		ev=$(ullmctl events "$id")
		want="attempt 2 resumes from checkpoint step $step ($path)"
		grep -qF "$want" <<<"$ev" ||
		    fail "$l: no event '$want': $(grep resume <<<"$ev")"
		rank_log "$id" 2 0 | grep -qx 'done step=9' ||
		    fail "$l: attempt 2 did not finish"
		out=$(ullmctl checkpoints -o json "$id")
		python3 -c '
import json, sys
want = sys.argv[1]
c = json.loads(sys.argv[2])["checkpoints"]
bad = [x for x in c if x["layout"] != want or x["state"] != "usable"]
assert c and not bad, bad' "$l" "$out" || fail "$l: checkpoints: $(ullmctl checkpoints "$id")"
		ullmctl checkpoints "$id" | sed "s/^/      $l: /"
	done
}

# A job of root's with checkpoint.dir is refused, saying why, and nothing
# is submitted.
test_k2_root_checkpoints_refused() {
	local f out n
	f=$(fw_spec hf)
	n=$(job_count)
	out=$(llmctl submit "$f" 2>&1) && fail "root's job was accepted: $out"
	grep -q "a job owned by root cannot have checkpoints" <<<"$out" ||
	    fail "unexpected message: $out"
	[ "$(job_count)" = "$n" ] || fail "a job was recorded"
}

# own_spec NAME RESUMES: a trainer with checkpoints of its own (a name no
# layout knows) that beats 3 epochs per attempt and fails until epoch 9;
# with RESUMES=1 it continues from its file, else starts over each time.
# no_progress_limit 1: one attempt without progress is a crash loop.
own_spec() {
	local f=$E2E_DIR/$1.yaml
	rm -rf "$SHARED/ck-$1"
	cat > "$SHARED/$1.sh" <<SH
#!/bin/sh
d=\$LLMCTL_CHECKPOINT_DIR
mkdir -p "\$d"
e=0
[ "$2" = 1 ] && [ -f "\$d/epoch.txt" ] && e=\$(cat "\$d/epoch.txt")
for i in 1 2 3; do
	e=\$((e + 1))
	echo \$e > "\$d/epoch.txt"
	$LLMCTL_BIN heartbeat --step \$e || exit 2
	sleep 0.3
done
[ \$e -ge 9 ]
SH
	chmod 755 "$SHARED/$1.sh"
	cat > "$f" <<SPEC
version: 1
name: $1
command: $SHARED/$1.sh
workdir: $SHARED
resources:
  nodes: 1
  gpus_per_node: 1
checkpoint:
  dir: $SHARED/ck-$1
recovery:
  max_restarts: 5
  backoff: 1s
  no_progress_limit: 1
SPEC
	chmod 644 "$f"
	echo "$f"
}

# The crash-loop rule counts a higher heartbeat step as progress: epochs
# 3, 6, 9 over three attempts complete; epochs 3, 3 are a crash loop.
test_k3_heartbeat_progress() {
	local a b
	a=$(usubmit "$(own_spec ownresume 1)")
	b=$(usubmit "$(own_spec ownrestart 0)")
	wait_state "$a" COMPLETED 120
	[ "$(job_field "$a" attempt)" = 3 ] ||
	    fail "$(job_field "$a" attempt) attempts, expected 3"
	wait_state "$b" FAILED 120
	job_field "$b" reason | grep -q "^crash loop: 1 attempts in a row" ||
	    fail "reason: $(job_field "$b" reason)"
	[ "$(job_field "$b" attempt)" = 2 ] ||
	    fail "$(job_field "$b" attempt) attempts, expected 2"
}

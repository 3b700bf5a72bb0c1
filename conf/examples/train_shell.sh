#!/bin/bash
# train_shell.sh: a "trainer" in plain shell that follows llmctl's contract
# (llmctl-job(5), docs/design.md sections 3 and 8) without PyTorch.  It
# starts in milliseconds, so fault and recovery tests need not wait for torch to import.
#
#   train_shell.sh [--steps N] [--checkpoint-every K] [--sleep S]
#                  [--fail-at-step N] [--fail-attempt A]
#                  [--slow-rank R --slow-sleep S]
#
# Every rank counts steps; rank 0 writes checkpoints into
# $LLMCTL_CHECKPOINT_DIR as step_<N>/ (state + MANIFEST.sha256, built in
# .step_<N>.tmp and renamed into place, then COMPLETE, written last).  A run
# with $LLMCTL_RESUME_FROM continues at that checkpoint's step + 1.  Each step
# sends a heartbeat if $LLMCTL_HEARTBEAT_URL is set (curl, 1 s timeout, never
# fatal).  SIGUSR1: checkpoint after this step; SIGTERM: stop after this step,
# exit 143.  Ranks do not talk to each other.  --slow-rank R makes rank R
# sleep --slow-sleep seconds per step instead (a straggler on purpose).
set -u
steps=60 every=10 pause=1 fail_at=0 fail_attempt=0 slow_rank=-1 slow_pause=
while [ $# -gt 0 ]; do
	case $1 in
	--steps) steps=$2 ;;
	--checkpoint-every) every=$2 ;;
	--sleep) pause=$2 ;;
	--fail-at-step) fail_at=$2 ;;
	--fail-attempt) fail_attempt=$2 ;;
	--slow-rank) slow_rank=$2 ;;
	--slow-sleep) slow_pause=$2 ;;
	*) echo "train_shell.sh: unknown option $1" >&2; exit 2 ;;
	esac
	shift 2 || { echo "train_shell.sh: $1 needs a value" >&2; exit 2; }
done
rank=${RANK:-${SLURM_PROCID:-0}} world=${WORLD_SIZE:-${SLURM_NTASKS:-1}}
host=${SLURMD_NODENAME:-$(hostname)} attempt=${LLMCTL_ATTEMPT:-1}
ckdir=${LLMCTL_CHECKPOINT_DIR:-} want_ckpt=0 stop=0
[ "$rank" != "$slow_rank" ] || pause=${slow_pause:-$pause}
trap 'echo "got SIGUSR1: checkpoint after this step"; want_ckpt=1' USR1
trap 'echo "got SIGTERM: stopping after this step"; stop=1' TERM

checkpoint() { # rank 0 only
	local final=$ckdir/step_$1 tmp=$ckdir/.step_$1.tmp
	rm -rf "$tmp" && mkdir -p "$tmp" || exit 1
	echo "step $1" > "$tmp/state"
	(cd "$tmp" && sha256sum state > MANIFEST.sha256 && sync state MANIFEST.sha256)
	if [ -e "$final" ]; then
		rm -rf "$ckdir/.step_$1.old"
		mv "$final" "$ckdir/.step_$1.old" && rm -rf "$ckdir/.step_$1.old"
	fi
	mv "$tmp" "$final" || exit 1
	echo "step $1" > "$final/COMPLETE" && sync "$final/COMPLETE" "$final" "$ckdir"
	echo "checkpoint step=$1 path=$final"
}

heartbeat() { # STEP [report]: run in the background, so that a slow
	# endpoint never slows the loop; only the first beat reports a failure
	[ -n "${LLMCTL_HEARTBEAT_URL:-}" ] || return 0
	curl -sf -m 1 -o /dev/null -X POST -H "Content-Type: application/json" \
	    -H "Authorization: Bearer ${LLMCTL_HEARTBEAT_TOKEN:-}" \
	    -d "{\"rank\": $rank, \"step\": $1}" "$LLMCTL_HEARTBEAT_URL" ||
	    [ -z "${2:-}" ] || echo "heartbeat to $LLMCTL_HEARTBEAT_URL failed; continuing without"
}

start=1
if [ -n "${LLMCTL_RESUME_FROM:-}" ]; then
	(cd "$LLMCTL_RESUME_FROM" && sha256sum --quiet -c MANIFEST.sha256) || {
		echo "train_shell.sh: $LLMCTL_RESUME_FROM fails its MANIFEST.sha256" >&2
		exit 2
	}
	read -r _ done_step < "$LLMCTL_RESUME_FROM/state" || exit 2
	start=$((done_step + 1))
fi
[ -n "$ckdir" ] && [ "$rank" = 0 ] && mkdir -p "$ckdir"
echo "rank $rank/$world host=$host start_step=$start pid=$$"
[ -n "${LLMCTL_RESUME_FROM:-}" ] && echo "resumed from step $((start - 1)) ($LLMCTL_RESUME_FROM)"
heartbeat $((start - 1)) report &

for ((step = start; step <= steps; step++)); do
	if [ "$rank" = 0 ] && [ "$step" = "$fail_at" ] &&
	    { [ "$fail_attempt" = 0 ] || [ "$fail_attempt" = "$attempt" ]; }; then
		echo "failing on purpose at step $step (--fail-at-step)"
		exit 1
	fi
	sleep "$pause" & wait $!        # wait, unlike sleep, lets traps run at once
	echo "rank $rank step $step"
	if [ -n "$ckdir" ] && [ "$rank" = 0 ] && { [ $want_ckpt = 1 ] || [ $step = "$steps" ] ||
	    { [ "$every" -gt 0 ] && [ $((step % every)) = 0 ]; }; }; then
		want_ckpt=0
		checkpoint "$step"
	fi
	heartbeat "$step" &
	if [ $stop = 1 ]; then
		echo "rank $rank stopped at step $step (SIGTERM)"
		exit 143
	fi
done
echo "final rank=$rank step=$steps"

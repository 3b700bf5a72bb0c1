#!/bin/sh
# Group commit: the real llmctld on its fake backend, stopped while 22
# submits (four of 8 GPUs, two with one Idempotency-Key) wait in its
# socket, then continued: every one answered, 21 jobs, the key's two
# answered with one job, the GPU jobs planned onto four nodes, and far
# fewer transactions than submits (submit_batch.py).
# Runs from the build directory (make check); needs /usr/bin/python3.
. "${srcdir:-.}/tests/unit/daemon-lib.sh"
daemon_need
daemon_tmp submit-batch
printf '%s\n' "socket: $sock" "database: $tmp/state/llmctld.db" \
    "state_dir: $tmp/state" "backend: fake" "poll_interval: 1" \
    "log_level: debug" >"$tmp/llmctld.conf"
"$LLMCTLD" -d -f "$tmp/llmctld.conf" >"$tmp/llmctld.log" 2>&1 &
pid=$!
daemon_wait nodes || died "llmctld exited"
"$PY" "$top_src/tests/unit/submit_batch.py" "$sock" "$pid" \
    "$tmp/llmctld.log" || died "submit batch"
kill -0 "$pid" 2>/dev/null || died "llmctld died during the test"

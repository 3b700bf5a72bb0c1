# t-feed: issue 15 sections 4 and 5. Events followed live (llmctl events -f,
# the API's stream), each user seeing only their own jobs; webhooks
# delivered for what a user cares about, retried a bounded number of times,
# a hanging and a failing receiver slowing neither other deliveries nor the
# API; a webhook the admin does not allow refused at submit.

HOOK=$TOP/tests/e2e/hook.py

# Each line read, prefixed with the nanoseconds it arrived at.
stamp() {
	local l
	while IFS= read -r l; do
		echo "$(date +%s%N) $l"
	done
}

daemon_hup() {
	kill -HUP "$(cat "$E2E_DIR/llmctld.pid")"
	sleep 0.5
}

# conf_with LINE...: the test configuration plus these lines, applied.
conf_with() {
	daemon_conf
	printf '%s\n' "$@" >> "$E2E_DIR/llmctld.conf"
	daemon_hup
}

feed_cleanup() {
	local p
	# (bash's "Terminated" notices go to the shell's stderr)
	{
		for p in $FEED_PIDS; do
			kill "$p" || true
			wait "$p" || true
		done
	} 2>/dev/null
	for p in "$SHARED"/hook-*.log.pid; do
		[ -e "$p" ] && kill "$(cat "$p")" 2>/dev/null || true
	done
	daemon_conf
	daemon_hup
}

# arrival NS of the first line of FILE matching PATTERN, or nothing
arrival() {
	grep -m1 -- "$2" "$1" | cut -d' ' -f1
}

test_e0_events_follow() {
	local id t0 t2 run done lat i u2pid
	FEED_PIDS=""
	trap feed_cleanup EXIT
	spec f_live 1 0 '"sleep 5"' >/dev/null
	rm -f "$E2E_DIR"/feed-*.out
	# an admin follows every job, llmtest2 its own (none)
	timeout 60 "$LLMCTL_BIN" --socket "$SOCK" events -f -o json \
	    > >(stamp > "$E2E_DIR/feed-admin.out") &
	FEED_PIDS="$FEED_PIDS $!"
	as_user "$TEST_USER2" timeout 60 "$LLMCTL_BIN" --socket "$SOCK" \
	    events -f -o json > "$E2E_DIR/feed-u2.out" 2>&1 &
	u2pid=$!
	FEED_PIDS="$FEED_PIDS $u2pid"
	sleep 1
	t0=$(date +%s%N)
	id=$(usubmit "$E2E_DIR/f_live.yaml")
	( timeout 60 runuser -u "$TEST_USER" -- "$LLMCTL_BIN" --socket "$SOCK" \
	    events -f "$id" | stamp > "$E2E_DIR/feed-job.out"
	  echo "rc ${PIPESTATUS[0]}" >> "$E2E_DIR/feed-job.out" ) &
	FEED_PIDS="$FEED_PIDS $!"
	wait_state "$id" COMPLETED 90
	# the job's follower ends by itself once the job is final
	for i in $(seq 40); do
		grep -q '^rc ' "$E2E_DIR/feed-job.out" 2>/dev/null && break
		sleep 0.25
	done
	cat "$E2E_DIR/feed-job.out"
	grep -q '^rc 0$' "$E2E_DIR/feed-job.out" ||
	    fail "llmctl events -f $id did not end with 0 once the job was final"
	grep -q ' submitted ' "$E2E_DIR/feed-job.out" || fail "no submitted line"
	grep -q 'job COMPLETED' "$E2E_DIR/feed-job.out" ||
	    fail "no 'job COMPLETED' line"
	# live: the running line came seconds before the end, not with it
	run=$(arrival "$E2E_DIR/feed-job.out" "running on")
	done=$(arrival "$E2E_DIR/feed-job.out" "job COMPLETED")
	[ -n "$run" ] && [ -n "$done" ] || fail "no running or completed line"
	echo "    running printed $(((done - run) / 1000000)) ms before completed"
	[ $((done - run)) -ge 3000000000 ] ||
	    fail "the running line came with the end, not live"
	# commit to follower: the admin's stream saw the submit at once
	t2=$(grep -m1 "\"job_id\":$id,.*\"kind\":\"submitted\"" \
	    "$E2E_DIR/feed-admin.out" | cut -d' ' -f1)
	[ -n "$t2" ] || fail "the admin's stream missed job $id"
	lat=$(((t2 - t0) / 1000000))
	echo "    submit to the follower's line: $lat ms (submit included)"
	[ "$lat" -lt 2000 ] || fail "the event took $lat ms to reach a follower"
	# another user's stream shows nothing of llmtest's job, and llmtest2
	# may not follow it
	if grep -q "\"job_id\":$id," "$E2E_DIR/feed-u2.out"; then
		fail "llmtest2's stream showed llmtest's job $id"
	fi
	if u2llmctl events -f "$id" > "$E2E_DIR/out" 2> "$E2E_DIR/err"; then
		fail "llmtest2 followed llmtest's job"
	fi
	grep -q "belongs to another user" "$E2E_DIR/err" ||
	    fail "refusal says: $(cat "$E2E_DIR/err")"
	if as_user "$TEST_USER2" "$LLMCTL_BIN" --socket "$SOCK" events "$id" \
	    > /dev/null 2>&1; then
		fail "llmtest2 read llmtest's events"
	fi
	# an idle stream outlives evhttp's 30 s read timeout and the 5 s
	# request deadline
	while [ $(($(date +%s%N) - t0)) -lt 36000000000 ]; do
		sleep 1
	done
	kill -0 "$u2pid" 2>/dev/null ||
	    fail "llmtest2's idle stream was cut: $(cat "$E2E_DIR/feed-u2.out")"
}

test_e1_webhooks() {
	local p1=$((HB_PORT + 1)) p2=$((HB_PORT + 2)) p3=$((HB_PORT + 3))
	local p4=$((HB_PORT + 4)) ok fail e500 hang redir i n t max
	FEED_PIDS=""
	trap feed_cleanup EXIT
	rm -f "$SHARED"/hook-*.log
	touch "$SHARED"/hook-ok.log "$SHARED"/hook-error.log \
	    "$SHARED"/hook-hang.log
	chown "$TEST_USER" "$SHARED"/hook-*.log
	as_user "$TEST_USER" python3 "$HOOK" ok "$p1" "$SHARED/hook-ok.log" &
	FEED_PIDS="$FEED_PIDS $!"
	as_user "$TEST_USER" python3 "$HOOK" error "$p2" \
	    "$SHARED/hook-error.log" &
	FEED_PIDS="$FEED_PIDS $!"
	as_user "$TEST_USER" python3 "$HOOK" hang "$p3" \
	    "$SHARED/hook-hang.log" &
	FEED_PIDS="$FEED_PIDS $!"
	# an allowed receiver that redirects to one not allowed for the job
	touch "$SHARED/hook-redirect.log"
	chown "$TEST_USER" "$SHARED/hook-redirect.log"
	as_user "$TEST_USER" python3 "$HOOK" \
	    "redirect=http://127.0.0.1:$p1/stolen" "$p4" \
	    "$SHARED/hook-redirect.log" &
	FEED_PIDS="$FEED_PIDS $!"
	conf_with "webhook_allow: \"http://127.0.0.1:$p1/job-ok http://127.0.0.1:$p1/job-fail http://127.0.0.1:$p2/ http://127.0.0.1:$p3/ http://127.0.0.1:$p4/\"" \
	    "webhook_url: http://127.0.0.1:$p1/daemon" \
	    "webhook_retries: 2" "webhook_timeout: 3"
	grep -q "reload: webhook_url changed, applied" "$E2E_DIR/llmctld.log" ||
	    fail "the webhook settings were not applied"
	spec w_ok 1 0 '"true"' "notify:
  webhook: http://127.0.0.1:$p1/job-ok" >/dev/null
	spec w_fail 1 0 '"exit 3"' "recovery:
  max_restarts: 1
  backoff: 1s
notify:
  webhook: http://127.0.0.1:$p1/job-fail
  on: [failed]" >/dev/null
	spec w_500 1 0 '"true"' "notify:
  webhook: http://127.0.0.1:$p2/job-500" >/dev/null
	spec w_hang 1 0 '"true"' "notify:
  webhook: http://127.0.0.1:$p3/job-hang" >/dev/null
	spec w_redir 1 0 '"true"' "notify:
  webhook: http://127.0.0.1:$p4/job-redirect" >/dev/null
	redir=$(usubmit "$E2E_DIR/w_redir.yaml")
	hang=$(usubmit "$E2E_DIR/w_hang.yaml")
	e500=$(usubmit "$E2E_DIR/w_500.yaml")
	ok=$(usubmit "$E2E_DIR/w_ok.yaml")
	fail=$(usubmit "$E2E_DIR/w_fail.yaml")
	# while the hanging receiver holds a delivery, the API answers at once
	for i in $(seq 240); do
		[ -s "$SHARED/hook-hang.log" ] && break
		sleep 0.25
	done
	[ -s "$SHARED/hook-hang.log" ] || fail "the hanging receiver got nothing"
	max=0
	for i in $(seq 10); do
		t=$(date +%s%N)
		llmctl status > /dev/null
		t=$((($(date +%s%N) - t) / 1000000))
		[ "$t" -gt "$max" ] && max=$t
		sleep 0.1
	done
	echo "    llmctl status while a receiver hangs: at most $max ms"
	[ "$max" -lt 1000 ] || fail "llmctl status took $max ms"
	wait_state "$ok" COMPLETED 60
	wait_state "$e500" COMPLETED 60
	wait_state "$hang" COMPLETED 60
	wait_state "$redir" COMPLETED 60
	wait_state "$fail" FAILED 90
	# the good receiver is not held up by the others: w_ok's completion
	# arrives within 2 s of the event (the hanging one takes 3 s a try)
	for i in $(seq 40); do
		grep -q '"path": "/job-ok"' "$SHARED/hook-ok.log" && break
		sleep 0.25
	done
	python3 - "$SHARED/hook-ok.log" "$ok" <<'PY' || fail "w_ok's webhook"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
job = [r for r in rows if r["path"] == "/job-ok"]
assert len(job) == 1, job
b = job[0]["body"]
assert b["event"] == "completed" and b["job_id"] == int(sys.argv[2]), b
assert b["text"].startswith("llmctl: job %s " % sys.argv[2]), b
late = job[0]["t"] - b["at"]
print("    w_ok delivered %.1f s after its event (1 s clock)" % late)
assert late < 2, late
PY
	# bounded retries: 1 + webhook_retries tries each, then nothing more
	# (the hanging one: 3 s, 1 s backoff, 3 s, 2 s backoff, 3 s)
	sleep 14
	n=$(grep -c '"path": "/job-500"' "$SHARED/hook-error.log" || true)
	[ "$n" = 3 ] || fail "the 500 receiver got $n tries, expected 3"
	n=$(grep -c '"path": "/job-hang"' "$SHARED/hook-hang.log" || true)
	[ "$n" = 3 ] || fail "the hanging receiver got $n tries, expected 3"
	# a redirect is an answer that is not 2xx: tried again, never followed
	n=$(grep -c '"path": "/job-redirect"' "$SHARED/hook-redirect.log" ||
	    true)
	[ "$n" = 3 ] || fail "the redirecting receiver got $n tries, expected 3"
	if grep -q '"path": "/stolen"' "$SHARED/hook-ok.log"; then
		fail "llmctld followed a redirect"
	fi
	grep -q "event [0-9]* not delivered after 3 tries: HTTP 500" \
	    "$E2E_DIR/llmctld.log" || fail "no log line for the 500 receiver"
	grep -q "event [0-9]* not delivered after 3 tries: .*timed out" \
	    "$E2E_DIR/llmctld.log" || fail "no log line for the hanging one"
	python3 - "$SHARED/hook-ok.log" "$ok" "$fail" "$e500" "$hang" "$redir" \
	    <<'PY' ||
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
ok, fail, e500, hang, redir = (int(x) for x in sys.argv[2:])
# the job's own hook: on: [failed] only, so no "restarted"
job = [r["body"]["event"] for r in rows if r["path"] == "/job-fail"]
assert job == ["failed"], job
# the daemon's hook: every job, each event it cares about, once
d = {}
for r in rows:
    if r["path"] == "/daemon":
        b = r["body"]
        d.setdefault(b["job_id"], []).append(b["event"])
assert d.get(ok) == ["completed"], d
assert d.get(e500) == ["completed"] and d.get(hang) == ["completed"], d
assert d.get(redir) == ["completed"], d
assert d.get(fail) == ["restarted", "failed"], d
print("    daemon webhook:", {k: v for k, v in d.items()})
PY
	    fail "webhook payloads"
	n=$(wc -l < "$SHARED/hook-error.log")
	sleep 4
	[ "$(wc -l < "$SHARED/hook-error.log")" = "$n" ] ||
	    fail "the 500 receiver is still being retried"
}

test_e2_webhook_not_allowed() {
	local before p1=$((HB_PORT + 1)) i
	FEED_PIDS=""
	trap feed_cleanup EXIT
	conf_with "webhook_allow: http://127.0.0.1:$p1/hooks/"
	before=$(job_count)
	for url in "http://127.0.0.1:1/hooks/x" "http://127.0.0.1:$p1/other" \
	    "http://127.0.0.1:$p1@10.0.0.1/hooks/" \
	    "http://127.0.0.1:$p1/hooks/../admin" "file:///etc/shadow"; do
		spec w_bad 1 0 '"true"' "notify:
  webhook: \"$url\"" >/dev/null
		if (cd "$SHARED" && ullmctl submit "$E2E_DIR/w_bad.yaml") \
		    > "$E2E_DIR/out" 2> "$E2E_DIR/err"; then
			fail "a webhook to $url was accepted"
		fi
		grep -q "notify.webhook: .*webhook_allow" "$E2E_DIR/err" ||
		    fail "$url refused with: $(cat "$E2E_DIR/err")"
	done
	cat "$E2E_DIR/err"
	[ "$(job_count)" = "$before" ] || fail "a refused submit made a job"
	# and one under the prefix is taken, and delivered
	rm -f "$SHARED"/hook-ok.log*
	touch "$SHARED/hook-ok.log"
	chown "$TEST_USER" "$SHARED/hook-ok.log"
	as_user "$TEST_USER" python3 "$HOOK" ok "$p1" "$SHARED/hook-ok.log" &
	FEED_PIDS="$FEED_PIDS $!"
	spec w_good 1 0 '"true"' "notify:
  webhook: http://127.0.0.1:$p1/hooks/x" >/dev/null
	(cd "$SHARED" && ullmctl submit "$E2E_DIR/w_good.yaml") > "$E2E_DIR/out" ||
	    fail "an allowed webhook was refused"
	wait_state "$(cat "$E2E_DIR/out")" COMPLETED 60
	for i in $(seq 40); do
		grep -q '"path": "/hooks/x"' "$SHARED/hook-ok.log" && break
		sleep 0.25
	done
	grep -q '"path": "/hooks/x".*"event": "completed"' \
	    "$SHARED/hook-ok.log" || fail "the allowed webhook got nothing"
}

# llmctld again on the configuration as it is (daemon_start rewrites it).
daemon_restart_as_is() {
	local i
	daemon_stop
	"$LLMCTLD_BIN" -d -f "$E2E_DIR/llmctld.conf" \
	    >> "$E2E_DIR/llmctld.log" 2>&1 &
	echo $! > "$E2E_DIR/llmctld.pid"
	for i in $(seq 100); do
		[ -S "$SOCK" ] && llmctl status >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	fail "llmctld did not start again"
}

# The notifier's place survives a restart: what was not delivered yet is
# sent after it, once; what was delivered before is not sent again.
test_e3_webhook_restart() {
	local p1=$((HB_PORT + 1)) id n
	FEED_PIDS=""
	trap feed_cleanup EXIT
	rm -f "$SHARED"/hook-ok.log*
	# no receiver yet: the delivery fails and waits for its retry
	conf_with "webhook_url: http://127.0.0.1:$p1/daemon" \
	    "webhook_retries: 10" "webhook_timeout: 1"
	spec w_restart 1 0 '"true"' >/dev/null
	id=$(usubmit "$E2E_DIR/w_restart.yaml")
	wait_state "$id" COMPLETED 60
	for n in $(seq 40); do
		grep -q "webhook http://127.0.0.1:$p1: event .* (try 1)" \
		    "$E2E_DIR/llmctld.log" && break
		sleep 0.25
	done
	grep -q "webhook http://127.0.0.1:$p1: event .* (try 1)" \
	    "$E2E_DIR/llmctld.log" || fail "no failed first try"
	daemon_stop
	touch "$SHARED/hook-ok.log"
	chown "$TEST_USER" "$SHARED/hook-ok.log"
	as_user "$TEST_USER" python3 "$HOOK" ok "$p1" "$SHARED/hook-ok.log" &
	FEED_PIDS="$FEED_PIDS $!"
	sleep 0.5
	daemon_restart_as_is
	for n in $(seq 40); do
		[ -s "$SHARED/hook-ok.log" ] && break
		sleep 0.25
	done
	sleep 2
	cat "$SHARED/hook-ok.log"
	python3 - "$SHARED/hook-ok.log" "$id" <<'PY' ||
import json, sys
rows = [json.loads(l)["body"] for l in open(sys.argv[1])]
got = [(r["job_id"], r["event"]) for r in rows]
# only this job's completion: nothing from before, and not twice
assert got == [(int(sys.argv[2]), "completed")], got
PY
	    fail "deliveries after the restart"
}

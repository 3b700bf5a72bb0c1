# t-dashboard: llmctl dashboard in a real headless browser (issue 15, 3).
# $TEST_USER runs a job that fails once (rank 1 killed) and runs again, and
# serves the dashboard; $TEST_USER2 runs another job, which the page must
# not show. Chromium (tests/e2e/browser.py, DevTools over a pipe) opens the
# printed URL, and the test reads what the page shows. Screenshots stay in
# $E2E_DIR/dashboard/. Uses rspec, wait_log and rank_pid of t-recovery.sh.

DASH=$E2E_DIR/dashboard

# dash_start: llmctl dashboard as $TEST_USER; sets DASH_URL, DASH_PORT and
# DASH_PID (the llmctl process itself, not runuser)
dash_start() {
	local i
	rm -f "$DASH/url" "$DASH/pid"
	runuser -u "$TEST_USER" -- sh -c 'echo $$ >&3; exec "$1" --socket "$2" dashboard' \
	    sh "$LLMCTL_BIN" "$SOCK" >"$DASH/url" 2>"$DASH/stderr" 3>"$DASH/pid" &
	for i in $(seq 100); do
		grep -q '^http://127\.0\.0\.1:[0-9]*/?token=[0-9a-f]\{32\}$' "$DASH/url" 2>/dev/null && break
		sleep 0.1
	done
	DASH_URL=$(cat "$DASH/url")
	DASH_PID=$(cat "$DASH/pid" 2>/dev/null || true)
	DASH_PORT=$(echo "$DASH_URL" | sed 's|^http://127.0.0.1:\([0-9]*\)/.*|\1|')
	[ -n "$DASH_PORT" ] || fail "llmctl dashboard printed no URL: $(cat "$DASH/stderr")"
}

# dash_curl ARGS...: the status code, and the body in $DASH/body
dash_curl() {
	curl -s -o "$DASH/body" -w '%{http_code}' "$@"
}

test_w1_dashboard() {
	local id other a2nodes n tokenless hdr cookie bearer code f shots
	command -v chromium >/dev/null || { fail "chromium is not installed (tests/setup-deps.sh)"; return 1; }
	mkdir -p "$DASH"
	chmod 755 "$DASH"
	rm -f "$DASH"/*.png "$DASH"/*.txt "$DASH"/*.html
	id=$(usubmit "$(rspec dash-train 2 "$TRAINER --steps 400 --checkpoint-every 3 --sleep 0.5")")
	other=$(cd "$SHARED" && u2llmctl submit "$(spec dash-other 1 1 "sleep 300")")
	wait_log "$id" 1 0 "checkpoint step=3" 60
	kill -9 "$(rank_pid "$id" 1 1)"
	for _ in $(seq 240); do
		[ "$(attempt_field "$id" 2 state)" = RUNNING ] && break
		sleep 0.25
	done
	[ "$(attempt_field "$id" 2 state)" = RUNNING ] || fail "attempt 2 of job $id never ran"
	wait_state "$other" RUNNING 60
	a2nodes=$(expand_nodes "$(attempt_field "$id" 2 nodes)")

	dash_start
	# without the token: nothing; a wrong token: refused, and the right
	# one still works afterwards
	code=$(dash_curl "http://127.0.0.1:$DASH_PORT/")
	[ "$code" = 401 ] || fail "no cookie: HTTP $code, expected 401"
	code=$(dash_curl "http://127.0.0.1:$DASH_PORT/v1/jobs")
	[ "$code" = 401 ] || fail "no cookie, /v1/jobs: HTTP $code, expected 401"
	tokenless=${DASH_URL%token=*}token=0123456789abcdef0123456789abcdef
	code=$(dash_curl "$tokenless")
	[ "$code" = 403 ] && grep -q 'wrong token' "$DASH/body" ||
	    fail "a wrong token: HTTP $code $(cat "$DASH/body")"
	code=$(dash_curl -H "Host: attacker.example:$DASH_PORT" "$DASH_URL")
	[ "$code" = 403 ] || fail "another Host (DNS rebinding): HTTP $code, expected 403"

	# the browser: the link, the overview, the job, then the link again
	shots=$(python3 "$TOP/tests/e2e/browser.py" "$DASH" overview "$DASH_URL" overview \
	    job "#job/$id" job reused "$DASH_URL" -) || fail "browser.py failed: $shots"
	echo "    screenshots: $(echo $shots)"
	f=$DASH/overview.txt
	grep -q "dash-train" "$f" || fail "the overview does not list dash-train: $(head -20 "$f")"
	grep -q "^$id	dash-train	$TEST_USER	RUNNING	2	" "$f" ||
	    fail "no row '$id dash-train $TEST_USER RUNNING 2 attempts': $(grep dash-train "$f")"
	! grep -q "dash-other" "$f" || fail "the overview shows $TEST_USER2's job dash-other"
	grep -q "^$id	dash-train	.*	\(—\|[0-9.]* %\)	" "$f" || fail "no ETTR (a figure or —) for job $id"
	grep -q "Goodput over time" "$f" || fail "no goodput section"
	# the tree: every node of attempt 2 marked with the job and its ranks,
	# the others not
	for n in $(echo "$a2nodes" | tr , ' '); do
		grep -q "class=\"node st-[a-z-]* busy[^\"]*\" data-node=\"$n\" data-state=\"[a-z-]*\" data-jobs=\"$id\"" \
		    "$DASH/overview.html" || fail "node $n is not marked as running job $id"
	done
	[ "$(grep -o 'class="node [^"]*busy[^"]*"' "$DASH/overview.html" | wc -l)" = 2 ] ||
	    fail "$(grep -o 'class="node [^"]*busy[^"]*"' "$DASH/overview.html" | wc -l) nodes marked busy, expected 2 (dash-other is not this user's)"
	grep -q "job $id dash-train rank 0" "$f" && grep -q "job $id dash-train rank 1" "$f" ||
	    fail "the tree does not say where ranks 0 and 1 of job $id are"
	grep -q "leaf" "$f" || fail "no switch in the tree"

	f=$DASH/job.txt
	grep -q "Job $id dash-train" "$f" || fail "the job view does not name job $id"
	grep -q 'class="attempt" data-attempt="1" data-state="FAILED" data-cause="user_error"' "$DASH/job.html" ||
	    fail "the timeline has no failed attempt 1 (user_error)"
	grep -q 'class="attempt" data-attempt="2" data-state="RUNNING"' "$DASH/job.html" ||
	    fail "the timeline has no running attempt 2"
	grep -q "^1	FAILED	user_error	" "$f" && grep -q "^2	RUNNING	" "$f" ||
	    fail "the attempts table: $(grep -A3 '^attempt	state' "$f")"
	grep -q 'class="ckpt" d="[^"]*" data-step="3"' "$DASH/job.html" ||
	    fail "no checkpoint step 3 on the timeline"
	grep -q "^excluded nodes	none$" "$f" || fail "excluded nodes: $(grep '^excluded' "$f")"
	grep -q "^ETTR	\(—\|[0-9.]* %\)$" "$f" || fail "ETTR: $(grep '^ETTR' "$f")"

	grep -q "used already" "$DASH/reused.txt" || fail "the used link was not refused: $(cat "$DASH/reused.txt")"
	code=$(dash_curl "$DASH_URL")
	[ "$code" = 403 ] || fail "the used token again: HTTP $code, expected 403"

	# the proxy asks as $TEST_USER: another user's job is refused by
	# llmctld itself, and nothing but GET passes. The cookie alone (which
	# a browser sends to every port of 127.0.0.1) reads no data.
	kill "$DASH_PID"
	dash_start
	hdr=$(curl -s -D - -o /dev/null "$DASH_URL" | tr -d '\r')
	cookie=$(echo "$hdr" | sed -n "s/^Set-Cookie: \(llmctl_dashboard_${DASH_PORT}=[0-9a-f]*\);.*HttpOnly.*/\1/p")
	bearer=$(echo "$hdr" | sed -n 's|^Location: /#session=\([0-9a-f]*\)$|\1|p')
	[ -n "$cookie" ] && [ -n "$bearer" ] || fail "no cookie or bearer for the token: $hdr"
	code=$(dash_curl -b "$cookie" "http://127.0.0.1:$DASH_PORT/v1/jobs")
	[ "$code" = 401 ] || fail "the cookie without the bearer: HTTP $code, expected 401"
	code=$(dash_curl -H "Authorization: Bearer $bearer" "http://127.0.0.1:$DASH_PORT/v1/jobs")
	[ "$code" = 401 ] || fail "the bearer without the cookie: HTTP $code, expected 401"
	set -- -b "$cookie" -H "Authorization: Bearer $bearer"
	code=$(dash_curl "$@" "http://127.0.0.1:$DASH_PORT/v1/jobs")
	[ "$code" = 200 ] && grep -q dash-train "$DASH/body" || fail "cookie and bearer: HTTP $code"
	code=$(dash_curl "$@" "http://127.0.0.1:$DASH_PORT/v1/jobs/$other")
	[ "$code" = 403 ] || fail "$TEST_USER2's job through the dashboard: HTTP $code, expected 403"
	code=$(dash_curl "$@" "http://127.0.0.1:$DASH_PORT/v1/jobs?user=all")
	[ "$code" = 200 ] && ! grep -q dash-other "$DASH/body" || fail "user=all shows dash-other"
	code=$(dash_curl "$@" -X POST "http://127.0.0.1:$DASH_PORT/v1/jobs/$id/cancel")
	[ "$code" = 405 ] || fail "POST through the dashboard: HTTP $code, expected 405"
	[ "$(job_field "$id" state)" = RUNNING ] || fail "job $id is $(job_field "$id" state) after the POST"
	kill "$DASH_PID"

	# the page follows the event stream: a cancel shows without a reload,
	# sooner than the 15 s redraw
	dash_start
	shots=$(python3 "$TOP/tests/e2e/browser.py" "$DASH" live-start "$DASH_URL" overview \
	    live-before "#job/$id" job \
	    live-after "!$LLMCTL_BIN --socket $SOCK cancel $id >/dev/null" \
	    "js:document.querySelector('#job td.state').dataset.state === 'CANCELLED' && document.body.dataset.streamed > 0") ||
	    fail "the page did not show the cancel from the event stream: $(grep '^state' "$DASH/live-after.txt")"
	f=$(cat "$DASH/live-after.time")
	echo "    screenshots: $(echo $shots); the cancel shown after $f s"
	[ "${f%.*}" -lt 10 ] || fail "the cancel took $f s to show"
	kill "$DASH_PID"
	llmctl cancel "$other" >/dev/null
}

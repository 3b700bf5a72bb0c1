# t-torture: the bounded kill -9 torture (issue 12 section 5). Three
# ordinary-user clients submit while llmctld is killed -9 and restarted over
# and over; then every acknowledged job completes once: 0 lost (every
# acknowledged job stored and COMPLETED), 0 doubled (one job per submit, one
# Slurm job per attempt tag, one attempt per job), 0 stuck, integrity ok.
# TORTURE_CLIENTS and TORTURE_JOBS (per client) size it; tests/bench/torture
# runs the long one.

torture_client() {
	local c=$1 n=0 id
	while [ "$n" -lt "${TORTURE_JOBS:-10}" ]; do
		n=$((n + 1))
		if id=$(cd "$SHARED" && ullmctl submit "$E2E_DIR/torture.yaml" \
		    2>>"$E2E_DIR/torture-$c.err"); then
			echo "$id" >>"$E2E_DIR/torture-$c.acked"
		else
			echo x >>"$E2E_DIR/torture-$c.failed"
		fi
		sleep 0.2
	done
}

# torture_kill_while PIDS...: kill -9 and restart llmctld until they exit;
# prints how many times.
torture_kill_while() {
	local kills=0 p running
	while :; do
		running=0
		for p in "$@"; do kill -0 "$p" 2>/dev/null && running=1; done
		[ $running = 1 ] || break
		sleep "0.$(shuf -i 1-5 -n 1)"
		daemon_kill9
		kills=$((kills + 1))
		daemon_start >/dev/null || return 1
	done
	echo "$kills"
}

test_d0_torture_kill9() {
	local c pids="" kills acked distinct failed id tag st bad=0
	local clients=${TORTURE_CLIENTS:-3}
	rm -f "$E2E_DIR"/torture-*
	spec torture 1 1 "sleep 1" >/dev/null
	for c in $(seq "$clients"); do
		torture_client "$c" &
		pids="$pids $!"
	done
	# shellcheck disable=SC2086
	kills=$(torture_kill_while $pids) || fail "llmctld did not restart"
	wait
	acked=$(cat "$E2E_DIR"/torture-*.acked 2>/dev/null | wc -l)
	failed=$(cat "$E2E_DIR"/torture-*.failed 2>/dev/null | wc -l)
	distinct=$(sort -u "$E2E_DIR"/torture-*.acked | wc -l)
	echo "    kill -9: $kills; acknowledged $acked, failed $failed," \
	    "distinct $distinct"
	[ "$failed" = 0 ] || fail "$failed submits failed:" \
	    "$(cat "$E2E_DIR"/torture-*.err)"
	[ "$acked" = $((clients * ${TORTURE_JOBS:-10})) ] ||
	    fail "$acked of $((clients * ${TORTURE_JOBS:-10})) acknowledged"
	[ "$distinct" = "$acked" ] || fail "a job id acknowledged twice"
	[ "$(sqlite3 "$E2E_DIR/state/llmctld.db" \
	    "SELECT count(*) FROM jobs WHERE name = 'torture'")" = "$acked" ] ||
	    fail "the store holds another number of jobs than acknowledged"
	for id in $(cat "$E2E_DIR"/torture-*.acked); do
		wait_state "$id" COMPLETED 120 || return 1
		[ "$(job_field "$id" attempt)" = 1 ] ||
		    fail "job $id: $(job_field "$id" attempt) attempts"
		tag=$(attempt_field "$id" 1 tag)
		st=$(squeue -h -t all -o '%k' | grep -c "llmctl:$tag")
		[ "$st" = 1 ] || { bad=$((bad + 1)); echo "    $id: tag on $st"; }
	done
	[ "$bad" = 0 ] || fail "$bad jobs are not on exactly one Slurm job"
	[ "$(sqlite3 "$E2E_DIR/state/llmctld.db" 'PRAGMA integrity_check')" = ok ] ||
	    fail "integrity_check"
}

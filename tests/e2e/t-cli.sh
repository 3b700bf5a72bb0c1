# t-cli: the status filters and the bash completion of issue 14, as the
# ordinary users llmtest and llmtest2 see them on the real cluster.

# h_jobs: as llmtest a running, a completed and a failed job, as llmtest2 a
# running one; sets run fin failed other to their ids.
h_jobs() {
	run=$(usubmit "$(spec h-run 1 0 "sleep 300")")
	fin=$(usubmit "$(spec h-done 1 0 "true")")
	failed=$(usubmit "$(spec h-fail 1 0 "exit 3")")
	other=$(cd "$SHARED" && u2llmctl submit "$(spec h-other 1 0 "sleep 300")")
	case $other in '' | *[!0-9]*) fail "llmtest2's submit printed '$other'" ;; esac
	wait_state "$run" RUNNING 60
	wait_state "$fin" COMPLETED 60
	wait_state "$failed" FAILED 60
	wait_state "$other" RUNNING 60
}

# ids ARGS...: the job ids `llmctl status ARGS -o json` lists, as llmtest
ids() {
	ullmctl status -o json "$@" | python3 -c 'import json, sys
print(" ".join(str(j["id"]) for j in json.load(sys.stdin)["jobs"]))'
}

# has_ids "LIST" ID...: each ID is in LIST; lacks_ids likewise not
has_ids() {
	local list=" $1 " i
	shift
	for i in "$@"; do
		case $list in *" $i "*) ;; *) fail "job $i not in: $list" ;; esac
	done
}
lacks_ids() {
	local list=" $1 " i
	shift
	for i in "$@"; do
		case $list in *" $i "*) fail "job $i listed: $list" ;; esac
	done
}

# backdate ID SECONDS: the job ended that long ago, as the store says
backdate() {
	python3 - "$E2E_DIR/state/llmctld.db" "$1" "$2" <<'PY'
import sqlite3, sys, time
con = sqlite3.connect(sys.argv[1], timeout=10)
with con:
    con.execute("UPDATE jobs SET updated_at = ? WHERE id = ?",
                (int(time.time()) - int(sys.argv[3]), int(sys.argv[2])))
PY
}

test_h1_status_filters() {
	local run fin failed other out rc
	h_jobs
	# the default view: own jobs, finished ones too while recent
	out=$(ids)
	has_ids "$out" "$run" "$fin" "$failed"
	lacks_ids "$out" "$other"
	# -a is not everyone's for an ordinary user, only root sees them
	lacks_ids "$(ids -a)" "$other"
	has_ids "$(llmctl status -a -o json | python3 -c 'import json, sys
print(" ".join(str(j["id"]) for j in json.load(sys.stdin)["jobs"]))')" \
	    "$run" "$other"
	# --state, in any case, a list
	out=$(ids --state running)
	has_ids "$out" "$run"
	lacks_ids "$out" "$fin" "$failed" "$other"
	out=$(ids --state FAILED,completed)
	has_ids "$out" "$fin" "$failed"
	lacks_ids "$out" "$run"
	ullmctl status --state running --noheader | awk '
	    $1 == "ID" { exit 1 } $4 != "RUNNING" { exit 1 }' ||
	    fail "--state running --noheader: $(ullmctl status --state running --noheader)"
	# --name, exact
	[ "$(ids --name h-done)" = "$fin" ] || fail "--name h-done: $(ids --name h-done)"
	[ "$(ids --name h-d)" = "" ] || fail "--name matched a prefix"
	# another user's jobs: refused for llmtest, exit 1; root sees them
	out=$(ullmctl status --user "$TEST_USER2" 2>&1) && fail "llmtest saw llmtest2's jobs: $out"
	rc=$(ullmctl status --user "$TEST_USER2" >/dev/null 2>&1; echo $?)
	[ "$rc" = 1 ] || fail "status --user of another user exited $rc, want 1"
	echo "$out" | grep -q "only root and the admin group see other users' jobs" ||
	    fail "refusal said: $out"
	# a name that is no one's: the same refusal, as the daemon looks a
	# name up only for an admin; one's own name is served, other
	# users' jobs left out
	out=$(ullmctl status --user no-such-user-llmctl 2>&1) && fail "llmtest's unknown --user succeeded: $out"
	echo "$out" | grep -q "only root and the admin group see other users' jobs" ||
	    fail "llmtest's unknown --user said: $out"
	out=$(llmctl status --user no-such-user-llmctl 2>&1) && fail "root's unknown --user succeeded: $out"
	echo "$out" | grep -q "no such user" || fail "root's unknown --user said: $out"
	out=$(ids --user "$TEST_USER")
	has_ids "$out" "$run"
	lacks_ids "$out" "$other"
	out=$(llmctl status --user "$TEST_USER2" --noheader) || fail "root --user failed"
	echo "$out" | grep -Eq "^$other +h-other +$TEST_USER2 +RUNNING" ||
	    fail "root's --user $TEST_USER2: $out"
	echo "$out" | grep -q " $TEST_USER " && fail "--user $TEST_USER2 showed $TEST_USER's jobs"
	# usage errors: 2, before asking
	rc=$(ullmctl status --state bogus >/dev/null 2>&1; echo $?)
	[ "$rc" = 2 ] || fail "--state bogus exited $rc, want 2"
	rc=$(ullmctl status --since soon >/dev/null 2>&1; echo $?)
	[ "$rc" = 2 ] || fail "--since soon exited $rc, want 2"
	# finished jobs drop out: 5 minutes after they ended by default
	backdate "$fin" 290
	backdate "$failed" 310
	out=$(ids)
	has_ids "$out" "$run" "$fin"
	lacks_ids "$out" "$failed"
	ullmctl status | grep -q " h-fail " && fail "the table still shows h-fail"
	# ... unless asked: by state, by --since, by LLMCTL_STATUS_SINCE, by id
	has_ids "$(ids --state failed)" "$failed"
	has_ids "$(ids --since 6m)" "$failed"
	has_ids "$(ids --since all)" "$failed"
	out=$(ids --since 1m)
	has_ids "$out" "$run"
	lacks_ids "$out" "$fin" "$failed"
	out=$(runuser -u "$TEST_USER" -- env LLMCTL_STATUS_SINCE=10m \
	    "$LLMCTL_BIN" --socket "$SOCK" status --noheader)
	echo "$out" | grep -q " h-fail " || fail "LLMCTL_STATUS_SINCE=10m: $out"
	ullmctl status "$failed" | grep -q '^state: *FAILED' ||
	    fail "status ID of a job out of the list"
	llmctl cancel "$run" "$other" >/dev/null
}

test_h2_completion() {
	local run other fin comp got
	run=$(usubmit "$(spec h-comp 1 0 "sleep 300")")
	fin=$(usubmit "$(spec h-comp-done 1 0 "true")")
	other=$(cd "$SHARED" && u2llmctl submit "$(spec h-comp-other 1 0 "sleep 300")")
	wait_state "$run" RUNNING 60
	wait_state "$fin" COMPLETED 60
	comp=$E2E_DIR/llmctl.bash-completion
	cp "$TOP/cli/llmctl.bash-completion" "$comp"
	chmod 644 "$comp"
	# complete WORDS...: what bash offers for the last word, as llmtest
	h_complete() {
		runuser -u "$TEST_USER" -- env PATH="$BUILD_DIR/cli:$PATH" \
		    LLMCTL_SOCKET="$SOCK" bash -c 'cd "$1" && shift &&
		    source "$0" && COMP_WORDS=("$@") && COMP_CWORD=$(($# - 1)) &&
		    _llmctl && echo ${COMPREPLY[@]}' "$comp" "$E2E_DIR" "$@"
	}
	got=$(h_complete llmctl sta)
	[ "$got" = status ] || fail "llmctl sta<TAB>: '$got'"
	got=$(h_complete llmctl status --no)
	[ "$got" = --noheader ] || fail "llmctl status --no<TAB>: '$got'"
	got=$(h_complete llmctl status --state CANC)
	[ "$got" = CANCELLED ] || fail "--state CANC<TAB>: '$got'"
	# job ids from the daemon: the caller's own; cancel only unfinished
	got=" $(h_complete llmctl events "") "
	has_ids "$got" "$run" "$fin"
	lacks_ids "$got" "$other"
	got=" $(h_complete llmctl cancel "") "
	has_ids "$got" "$run"
	lacks_ids "$got" "$fin" "$other"
	# spec files
	got=" $(h_complete llmctl submit h-comp) "
	case $got in *" h-comp.yaml "*) ;; *) fail "submit h-comp<TAB>: '$got'" ;; esac
	llmctl cancel "$run" "$other" >/dev/null
}

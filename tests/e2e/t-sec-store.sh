# t-sec-store: the database and the heartbeat tokens (issue 9, part 2).
# llmtest2 attacks: it must not read llmtest's spec (with its API key) nor
# post heartbeats for llmtest's job, from the API, the database or its WAL.

# mode_of FILE: octal permission bits
mode_of() {
	stat -c %a "$1"
}

test_94_sec_db_secrets() {
	local id db key f out hash token code dir
	key=sk-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
	id=$(usubmit "$(spec secret 1 0 \
	    'echo "$LLMCTL_HEARTBEAT_TOKEN" > "$LLMCTL_LOG_DIR/token"; sleep 20' \
	    "env:
  WANDB_API_KEY: $key
recovery:
  max_restarts: 0")")
	wait_state "$id" RUNNING 60
	db=$E2E_DIR/state/llmctld.db
	# the db, its WAL and SHM: owner-only, whatever the daemon's umask
	for f in "$db" "$db-wal" "$db-shm"; do
		[ -e "$f" ] || continue
		[ "$(mode_of "$f")" = 600 ] || fail "$f is mode $(mode_of "$f"), not 600"
		as_user "$TEST_USER2" cat "$f" >/dev/null 2>&1 &&
		    fail "$TEST_USER2 could read $f"
	done
	[ -e "$db-wal" ] || fail "no WAL file next to $db"
	# the spec is the owner's: not through the API either
	out=$(u2llmctl status "$id" 2>&1) && fail "$TEST_USER2 sees job $id: $out"
	out=$(u2llmctl status -o json 2>&1; u2llmctl events "$id" 2>&1;
	    as_user "$TEST_USER2" curl -s --unix-socket "$SOCK" \
	    "http://llmctld/v1/jobs/$id")
	case $out in *"$key"*) fail "$TEST_USER2 read the API key: $out" ;; esac
	ullmctl status -o json "$id" | grep -q "$key" ||
	    fail "the owner does not see the spec's env"
	# the token reaches the ranks, the database keeps only its hash
	dir=$E2E_DIR/state/logs/$id/1
	for _ in $(seq 40); do [ -s "$dir/token" ] && break; sleep 0.25; done
	token=$(cat "$dir/token")
	[ ${#token} -ge 32 ] || fail "the rank saw no heartbeat token ('$token')"
	as_user "$TEST_USER2" cat "$dir/token" >/dev/null 2>&1 &&
	    fail "$TEST_USER2 could read the rank's token file"
	grep -q "$token" "$db" "$db-wal" && fail "the raw token is in the database"
	hash=$(sqlite3 "file:$db?mode=ro" \
	    "SELECT token_hash FROM attempts WHERE job_id = $id")
	[ "$hash" = "$(printf %s "$token" | sha256sum | cut -d' ' -f1)" ] ||
	    fail "stored '$hash' is not the token's sha256"
	# the hash is no token: a beat with it is refused, the real one counts
	code=$(as_user "$TEST_USER2" curl -s -o /dev/null -w '%{http_code}' \
	    -H "Authorization: Bearer $hash" -d '{"rank": 0, "step": 999999}' \
	    "http://127.0.0.1:$HB_PORT/v1/heartbeat")
	[ "$code" = 403 ] || fail "a beat with the stored hash got $code, not 403"
	code=$(curl -s -o /dev/null -w '%{http_code}' \
	    -H "Authorization: Bearer $token" -d '{"rank": 0, "step": 5}' \
	    "http://127.0.0.1:$HB_PORT/v1/heartbeat")
	[ "$code" = 200 ] || fail "a beat with the real token got $code"
	out=$(ullmctl status -o json "$id" | python3 -c '
import json, sys
print(json.load(sys.stdin)["heartbeat"]["step"])')
	[ "$out" = 5 ] || fail "heartbeat step is $out, not 5"
	llmctl cancel "$id" >/dev/null
	wait_state "$id" CANCELLED 30
}

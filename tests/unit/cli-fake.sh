#!/bin/sh
# llmctl against a fake llmctld (fake_llmctld.py) on a private socket: what
# the user sees on stdout and stderr, the exit status, and what llmctl sent.
# Runs from the build directory (make check); needs /usr/bin/python3.
. "$(cd "${srcdir:-.}" && pwd)/tests/unit/cli-lib.sh"

# --- dispatch, usage, global options ---------------------------------------
run 0 -h && has out '^usage: llmctl \[-h\] \[--version\] \[--socket path\]'
run 0 --version && expect out "llmctl 0.1.0"
run 2 && has err '^usage: llmctl'
run 2 s && expect err "llmctl: ambiguous command: s, could be: status, submit"
run 2 frobnicate && expect err "llmctl: unknown command: frobnicate"
status_usage="usage: llmctl status [-a] [-o json|yaml] [--state states] \
[--user user] [--name name] [--since time] [--limit n] [--noheader] [id]"
run 2 status -x && expect err "$(printf '%s\n%s' \
    "llmctl status: invalid option -- 'x'" "$status_usage")"
run 0 status -h && has out "^$(printf '%s' "$status_usage" |
    sed 's/[][|.]/\\&/g')\$"
run 2 status -o xml &&
    expect err 'llmctl: unknown output format: xml (use table, json or yaml)'
# every command's options come from its cmd_entry: --help, missing values
run 0 logs --help && has out '^usage: llmctl logs \[-f\]'
run 2 logs --tail && expect err "$(printf '%s\n%s' \
    "llmctl logs: option '--tail' requires an argument" \
    "usage: llmctl logs [-f] [-o json|yaml] [--rank rank] [--attempt attempt] [--tail lines] id")"
run 2 heartbeat --step && has err "option '--step' requires an argument"
run 2 submit --dry-run && has err '^usage: llmctl submit'
run 2 validate -q && has err '^usage: llmctl validate'
[ "$(requests)" = 0 ] && ok || fail "requests sent for usage errors"

# The usage text is the man page's SYNOPSIS.
if command -v mandoc >/dev/null; then
	"$LLMCTL" -h | sed 's/^usage: //; s/^ *//' >"$tmp/usage"
	mandoc -Tascii -Owidth=200 "$top_src/man/llmctl.1" |
	    sed 's/.\x08//g' | sed -n '/^SYNOPSIS/,/^DESCRIPTION/p' |
	    sed '1d;$d;/^ *$/d;s/^ *//' >"$tmp/synopsis"
	if cmp -s "$tmp/usage" "$tmp/synopsis"; then ok; else
		fail "usage differs from SYNOPSIS: $(diff "$tmp/usage" \
		    "$tmp/synopsis")"
	fi
	# Cross-references resolve only once every page is installed.
	if mandoc -Tlint -W warning "$top_src/man/llmctl.1" >"$tmp/out" \
	    2>"$tmp/err"; then ok; else fail "mandoc -Tlint warns"; fi
fi

# --- no daemon -------------------------------------------------------------
run 1 --socket "$tmp/none.sock" status &&
    expect err "llmctl: cannot connect to llmctld at $tmp/none.sock: No such file or directory"
"$PY" -c "import socket; socket.socket(socket.AF_UNIX).bind('$tmp/dead.sock')"
run 1 --socket "$tmp/dead.sock" cancel 1 2 &&
    expect err "llmctl: cannot connect to llmctld at $tmp/dead.sock: Connection refused"
# --socket wins over LLMCTL_SOCKET, which wins over the default.
run 0 --socket "$sock" status && has out '^ID +NAME'
(cd "$tmp" && LLMCTL_SOCKET=$tmp/none.sock "$LLMCTL" status) >"$tmp/out" \
    2>"$tmp/err"
has err "at $tmp/none.sock:"
: >"$log"

# --- status: list ----------------------------------------------------------
me=$(id -u) # llmctl asks for its own jobs by uid: no NSS
if run 0 status; then
	has out '^ID +NAME +USER +STATE +NODES +GPUS +ATTEMPT +SLURM_ID +AGE +REASON$'
	has out '^14 +llama-7b-pretrain.*\.\.\. +alice +QUEUED +64 +512 +0 +- +[0-9]+s +waiting for.*\.\.\.$'
	has out '^13 +hello +bob +RUNNING +2 +4 +2 +1234 +2h +evil\?\[2J second'
	has out '^12 +minimal +- +COMPLETED +- +- +- +- +- +-$'
	[ "$(sed -n '2p;3p;4p' "$tmp/out" | cut -c1-2 | tr '\n' ' ')" = "14 13 12 " ] &&
	    ok || fail "jobs not in the daemon's order (newest first)"
	[ "$(wc -l <"$tmp/out")" = 4 ] && ok || fail "not one line per job"
	awk 'length($0) > 100 { bad = 1 } END { exit bad }' "$tmp/out" && ok ||
	    fail "a status line is wider than 100 columns"
	LC_ALL=C grep -q "$(printf '\033')" "$tmp/out" &&
	    fail "an escape character reached the terminal" || ok
	last_request "r['method'] == 'GET' and
r['path'].startswith('/v1/jobs?user=$me&since=')"
fi
run 0 status -a && last_request "r['path'].startswith('/v1/jobs?since=')"
if run 0 stat -o json -a; then
	"$PY" -c "import json,sys
d = json.load(open('$tmp/out'))
assert [j['id'] for j in d['jobs']] == [14, 13, 12]
assert d['jobs'][0]['health'] == {'future': 'field'}" && ok ||
	    fail "status -o json is not the daemon's reply"
	has out '^  "jobs": \['
fi

# --- status ID -------------------------------------------------------------
if run 0 status 13; then
	last_request "r['path'] == '/v1/jobs/13'"
	has out '^id: +13$'
	has out '^user: +bob \(uid 1001\)$'
	has out '^state: +RUNNING$'
	has out '^node list: +n1,n2$'
	has out "^command: +python3 train.py --lr '3e-4 x'$"
	has out '^workdir: +/shared/hello$'
	has out '^ATTEMPT +SLURM_ID +STATE +NODES +EXIT +CAUSE +STARTED +ENDED +REASON$'
	has out '^1 +1200 +FAILED +n3,n4 +1 +node_failure +[0-9-]+ [0-9:]+ +[0-9-]+ [0-9:]+ +node n4 went DOWN$'
	has out '^2 +1234 +RUNNING +n1,n2 +- +- +[0-9-]+ [0-9:]+ +- +-$'
	awk 'length($0) > 100 { bad = 1 } END { exit bad }' "$tmp/out" && ok ||
	    fail "a status line is wider than 100 columns"
fi
run 0 status 12 && has out '^user: +-$' && has out '^no attempts yet$' &&
    has out '^state: +COMPLETED \(exit code 0\)$'
run 0 status -o json 13 && has out '"tag": "9f00aa"'
run 1 status 99 && expect err "llmctl: no such job: 99"
run 1 status 7 && expect err "llmctl: job 7 belongs to another user"
run 1 status 500 &&
    expect err "llmctl: llmctld answered HTTP 500: <html>internal error</html>"
run 1 status 501 && has err '^llmctl: invalid JSON from llmctld: '
before=$(requests)
run 2 status 12abc && expect err "llmctl: invalid job id: 12abc"
run 2 status 1 2 && has err '^usage: llmctl status'
[ "$(requests)" = "$before" ] && ok || fail "bad ids were sent"

# --- the HTTP client (cli/http.c): replies written byte by byte -----------
# conns N: the connection of each request after the first N, one a line.
conns() {
	sed -n "$(($1 + 1)),\$p" "$log" | "$PY" -c "import json,sys
for l in sys.stdin: print(json.loads(l)['conn'])"
}
# chunked in 7-byte pieces with extensions and a trailer; ended by close
run 0 status 600 && has out '^id: +600$' && has out '^state: +COMPLETED'
run 0 status 601 && has out '^id: +601$'
run 1 status 602 &&
    expect err "llmctl: reply from llmctld is larger than 67108864 bytes"
run 1 status 604 && expect err \
    "llmctl: request to llmctld at $sock failed: malformed status line in the reply"
export LLMCTL_TIMEOUT=1
t0=$(date +%s)
run 1 status 603 &&
    expect err "llmctl: llmctld at $sock did not answer within 1 s"
[ $(($(date +%s) - t0)) -le 2 ] && ok || fail "LLMCTL_TIMEOUT=1 waited longer"
unset LLMCTL_TIMEOUT
# one connection serves a run's requests
before=$(requests)
run 0 cancel 13 13 13 && expect out "$(printf 'cancelled 13\n%.0s' 1 2 3)"
[ "$(conns "$before" | sort -u | wc -l)" = 1 ] && ok ||
    fail "cancel 13 13 13 used connections $(conns "$before" | tr '\n' ' ')"
# A kept connection closed under a POST without an Idempotency-Key: no
# telling whether llmctld read it, so it is not sent again.
before=$(requests)
run 1 cancel 17 13 && expect out "cancelled 17" && expect err \
    "llmctl: request to llmctld at $sock failed: the connection closed before an answer"
[ "$(requests)" = $((before + 1)) ] && ok || fail "a dropped cancel was resent"

# --- submit ----------------------------------------------------------------
cat >"$tmp/good.yaml" <<'EOF'
version: 1
name: hello
command: "echo \"hi\" $HOME"
resources:
  nodes: 2
  gpus_per_node: 2
EOF
cat >"$tmp/bad.yaml" <<'EOF'
version: 1
name: hello
command: echo hi
resources:
  nodes: four   # bad
  gpus_per_node: 2
EOF
sed 's/^name: hello/name: reject-me/' "$tmp/good.yaml" >"$tmp/reject.yaml"

if run 0 submit good.yaml; then
	expect out 42
	expect err ""
	last_request "r['method'] == 'POST' and r['path'] == '/v1/jobs' and
r['body']['spec'] == open('$tmp/good.yaml').read() and
r['body']['file'] == 'good.yaml' and r['body']['workdir'] == '$tmp'"
fi
run 0 sub -o json good.yaml && has out '^  "id": 42,$'
run 0 submit --dry-run good.yaml &&
    expect out "dry run: hello would be accepted" &&
    last_request "r['path'] == '/v1/jobs?dry_run=1'"
before=$(requests)
run 1 submit bad.yaml && has err '^bad.yaml:[0-9]+:[0-9]+: resources\.nodes: ' &&
    expect out ""
run 1 submit missing.yaml &&
    expect err "llmctl: missing.yaml: No such file or directory"
head -c 1048577 /dev/zero | tr '\0' '#' >"$tmp/huge.yaml"
run 1 submit huge.yaml && has err '^llmctl: huge.yaml: file is larger than'
run 2 submit && has err '^usage: llmctl submit \[-o json\|yaml\] \[--dry-run\] \[--idempotency-key key\] file \.\.\.$'
[ "$(requests)" = "$before" ] && ok || fail "an invalid spec was sent"
run 1 submit reject.yaml &&
    expect err "llmctl: job.yaml:3:8: resources.nodes: too many"
# Several files: one id a line, in order, over one connection, each with
# its own key; one that fails is named and the others still go.
for i in 1 2 3; do
	sed "s/^name: hello/name: multi-$i/" "$tmp/good.yaml" >"$tmp/m$i.yaml"
done
before=$(requests)
if run 1 submit m1.yaml reject.yaml bad.yaml m2.yaml missing.yaml m3.yaml
then
	expect out "$(printf '1\n2\n3')"
	has err '^llmctl: reject\.yaml: job\.yaml:3:8: resources\.nodes: too many$'
	has err '^bad\.yaml:[0-9]+:[0-9]+: resources\.nodes: '
	has err '^llmctl: missing\.yaml: No such file or directory$'
	[ "$(wc -l <"$tmp/err")" = 3 ] && ok || fail "not one error a bad file"
	[ "$(requests)" = $((before + 4)) ] && ok || fail "not 4 requests"
	[ "$(conns "$before" | sort -u | wc -l)" = 1 ] && ok ||
	    fail "submit used connections $(conns "$before" | tr '\n' ' ')"
	keys=$(sed -n "$((before + 1)),\$p" "$log" | "$PY" -c "import json,sys
print(len({json.loads(l)['key'] for l in sys.stdin}))")
	[ "$keys" = 4 ] && ok || fail "$keys keys for 4 submits"
fi
run 0 submit -o json m1.yaml m2.yaml && "$PY" -c "import json
assert [j['id'] for j in json.load(open('$tmp/out'))['jobs']] == [1, 2]" &&
    ok || fail "submit -o json with two files"
run 0 submit --idempotency-key k7 m1.yaml m2.yaml &&
    last_request "r['key'] == 'k7-2'"
# A kept connection dropped under a submit: its key makes sending it
# again harmless, so it is.
sed 's/^name: multi-3/name: multi-4\n# drop-next/' "$tmp/m3.yaml" >"$tmp/m4.yaml"
before=$(requests)
run 0 submit m4.yaml m2.yaml && expect out "$(printf '4\n2')" &&
    [ "$(conns "$before" | uniq | wc -l)" = 2 ] && ok ||
    fail "a dropped submit: connections $(conns "$before" | tr '\n' ' ')"

# --- cancel ----------------------------------------------------------------
run 0 cancel 13 && expect out "cancelled 13" &&
    last_request "r['method'] == 'POST' and r['path'] == '/v1/jobs/13/cancel'"
before=$(requests)
# a bad id among them: nothing is cancelled
run 2 can 13 14 x 99 12 && expect err "llmctl: invalid job id: x" &&
    expect out ""
[ "$(requests)" = "$before" ] && ok || fail "cancel sent ids with a bad one"
if run 1 can 13 14 99 12; then
	expect out "cancelled 13"
	expect err "$(printf '%s\n' "llmctl: job 14 already FAILED" \
	    "llmctl: no such job: 99" "llmctl: job 12 already COMPLETED")"
	[ "$(requests)" = $((before + 4)) ] && ok ||
	    fail "cancel did not try every id"
fi
run 2 cancel && has err '^usage: llmctl cancel \[-o json\|yaml\] id \.\.\.$'

# --- validate: never talks to the daemon -----------------------------------
before=$(requests)
(cd "$tmp" && "$LLMCTL" --socket "$tmp/none.sock" validate good.yaml) \
    >"$tmp/out" 2>"$tmp/err"
[ $? = 0 ] && ok || fail "validate good.yaml failed without a daemon"
expect out "good.yaml: ok"
if run 1 validate good.yaml bad.yaml missing.yaml; then
	expect out "good.yaml: ok"
	has err '^bad.yaml:[0-9]+:[0-9]+: resources\.nodes: '
	has err '^missing.yaml: No such file or directory$'
fi
run 1 validate -q bad.yaml good.yaml && expect out "" && expect err ""
run 0 val -q good.yaml && expect out ""
[ "$(requests)" = "$before" ] && ok || fail "validate contacted llmctld"

# --- status ID: recovery details ------------------------------------------
if run 0 status 13; then
	has out '^checkpoint: +step 20, /ckpt/hello/step_20$'
	has out '^heartbeat: +12s ago, step 1500, 4 ranks$'
	has out '^excluded: +n4, n2$'
fi
run 0 status 12 && ! grep -Eq '^(checkpoint|heartbeat|excluded):' \
    "$tmp/out" && ok || fail "status 12 shows recovery details it lacks"

# --- plan, against the daemon ----------------------------------------------
if run 0 plan good.yaml; then
	expect out "$(cat <<'EOF'
world size 6 (tp 2, pp 1, dp 3), 3 nodes x 2 ranks, policy pack
spine0
  leaf1
    n3   ranks 0-1   gpus 2-3   tp 0-1 pp 0 dp 0
    n4   ranks 2-3   gpus 2-3   tp 0-1 pp 0 dp 1
  leaf0
    n1   ranks 4-5   gpus 2-3   tp 0-1 pp 0 dp 2   failures 1
levels spanned 2, leaf switches 2, ring leaf crossings 1, recent failures on these nodes 1
EOF
)"
	# The same body as submit.
	last_request "r['method'] == 'POST' and r['path'] == '/v1/plan' and
r['body']['spec'] == open('$tmp/good.yaml').read() and
r['body']['file'] == 'good.yaml' and r['body']['workdir'] == '$tmp'"
fi
if run 0 pl -o json good.yaml; then
	"$PY" -c "import json
d = json.load(open('$tmp/out'))
assert [n['name'] for n in d['nodes']] == ['n3', 'n4', 'n1']
assert d['metrics']['ring_leaf_crossings'] == 1
assert 'cluster_loaded_at' not in d" && ok ||
	    fail "plan -o json is not the reply's plan"
fi
run 1 plan reject.yaml && expect out "" &&
    expect err "llmctl: needs 12 nodes with 2 free GPUs; 3 have them"
before=$(requests)
run 1 plan bad.yaml && has err '^bad.yaml:[0-9]+:[0-9]+: resources\.nodes: '
run 2 plan && expect err \
    "usage: llmctl plan [-o json|yaml] [--cluster snapshot] file"
[ "$(requests)" = "$before" ] && ok || fail "plan sent an invalid spec"

# --- plan --cluster: no daemon at all --------------------------------------
# Fragmented: leaf0 has three free nodes, leaf1 exactly two; a 2-node job
# fits best on leaf1 and leaves leaf0's free nodes together.
cat >"$tmp/snap.yaml" <<'EOF'
version: 1
switches:
  - { name: spine0, switches: [leaf0, leaf1] }
  - { name: leaf0, nodes: "gpu[001-004]" }
  - { name: leaf1, nodes: "gpu[005-008]" }
nodes:
  - { names: "gpu[001-008]", gpus: 4 }
  - { names: "gpu001", state: allocated }
  - { names: "gpu[005-006]", free_gpus: 0 }
EOF
cat >"$tmp/tp.yaml" <<'EOF'
version: 1
name: tp
command: ./train
resources:
  nodes: 2
  gpus_per_node: 4
parallel:
  tensor: 2
  pipeline: 2
EOF
sed 's/nodes: 2/nodes: 4/' "$tmp/tp.yaml" >"$tmp/tp4.yaml"
printf 'version: 1\nswitches: [ { name: leaf0, nodes: "n[1-2]" } ]\nnodes:\n  - { names: "n[1-2]", gpus: lots }\n' \
    >"$tmp/snap-bad.yaml"
before=$(requests)
if run 0 --socket "$tmp/none.sock" plan --cluster snap.yaml tp.yaml; then
	expect out "$(cat <<'EOF'
world size 8 (tp 2, pp 2, dp 2), 2 nodes x 4 ranks, policy pack
spine0
  leaf1
    gpu007   ranks 0-3   gpus 0-3   tp 0-1 pp 0-1 dp 0
    gpu008   ranks 4-7   gpus 0-3   tp 0-1 pp 0-1 dp 1
levels spanned 1, leaf switches 1, ring leaf crossings 0
EOF
)"
fi
if run 0 --socket "$tmp/none.sock" plan -o json --cluster snap.yaml \
    tp4.yaml; then
	"$PY" -c "import json
d = json.load(open('$tmp/out'))
assert [n['name'] for n in d['nodes']] == \
    ['gpu002', 'gpu003', 'gpu004', 'gpu007'], d['nodes']
assert [n['ranks'][0] for n in d['nodes']] == [0, 4, 8, 12]
assert d['nodes'][0]['path'] == ['spine0', 'leaf0']
assert d['metrics']['leaf_switches'] == 2" && ok ||
	    fail "plan --cluster -o json: wrong plan"
fi
sed 's/nodes: 2/nodes: 6/' "$tmp/tp.yaml" >"$tmp/tp6.yaml"
run 1 --socket "$tmp/none.sock" plan --cluster snap.yaml tp6.yaml &&
    expect out "" && has err '^llmctl: needs 6 nodes'
run 1 --socket "$tmp/none.sock" plan --cluster snap-bad.yaml tp.yaml &&
    has err '^snap-bad.yaml:4:[0-9]+: nodes\[0\]: .*"lots"$'
run 1 --socket "$tmp/none.sock" plan --cluster missing.yaml tp.yaml &&
    expect err "llmctl: missing.yaml: No such file or directory"
[ "$(requests)" = "$before" ] && ok || fail "plan --cluster used llmctld"

# --- nodes -----------------------------------------------------------------
if run 0 nodes; then
	sed -i '/^$/,$d' "$tmp/out" # the tree; the health table is below
	expect out "$(cat <<'EOF'
NAME     STATE      FREE/GPUS  GPU_TYPE  FAILURES
spine0   -          13/40      -         -
  leaf0  -          5/16       -         -
    n1   mixed      5/8        -         0
    n2   down       0/8        -         3
  leaf1  -          8/24       -         -
    n3   idle       8/8        -         0
    n4   allocated  0/8        h100      0
    n5   drain      0/8        -         0
n9       idle       4/4        -         0
6 nodes: 2 idle, 1 mixed, 1 allocated, 1 down, 1 drain; 17/44 GPUs free; 1 with recent failures
EOF
)"
	last_request "r['method'] == 'GET' and r['path'] == '/v1/nodes'"
fi
# each node's health record, below the tree
if run 0 nodes; then
	has out '^NODE +HEALTH +SCORE +UNTIL +FAILURES +LAST FAILURE$' &&
	    has out '^n2 +quarantined,drained +1\.97 +[0-9]{2}-[0-9]{2} [0-9:]{5} +3 +node_failure job 13\.2 [0-9-]+ [0-9:]+$' &&
	    has out '^n4 +ok +0\.50 +- +1 +preflight_failed job 12\.1 [0-9-]+ [0-9:]+$'
fi
# nodes clear: the record after it; a refusal; only node names
run 0 nodes clear n2 && expect out "cleared n2: ok" &&
    last_request "r['method'] == 'POST' and r['path'] == '/v1/nodes/n2/clear'"
run 1 nodes clear n7 &&
    expect err "llmctl: only root and the admin group clear nodes"
before=$(requests)
run 2 nodes clear 'n2/../x' &&
    expect err "llmctl: nodes clear: not a node name (letters, digits, '.', '_', '-')"
[ "$(requests)" = "$before" ] && ok || fail "a bad node name reached llmctld"
run 2 nodes clear && has err '^usage: llmctl nodes '
run 2 nodes drain n2 && has err '^usage: llmctl nodes '
run 0 no -o json && has out '^  "loaded_at": [0-9]+,$'
run 2 nodes -o xml && expect err \
    "llmctl: unknown output format: xml (use table, json or yaml)"
# The snapshot, byte for byte, and plan --cluster reads it back.
if run 0 nodes -o yaml; then
	cp "$tmp/out" "$tmp/live.yaml"
	"$LLMCTL" --socket "$sock" nodes -o json | "$PY" -c "import json,sys
sys.stdout.write(json.load(sys.stdin)['snapshot'])" >"$tmp/want.yaml"
	cmp -s "$tmp/live.yaml" "$tmp/want.yaml" && ok ||
	    fail "nodes -o yaml is not the daemon's snapshot"
	run 0 --socket "$tmp/none.sock" plan --cluster live.yaml good.yaml &&
	    has out '^    leaf[01]$' && has out '^      n[13] +ranks 0-1 +gpus 0-1 '
fi

# --- logs ------------------------------------------------------------------
mkdir -p "$tmp/logs/13/1" "$tmp/logs/13/2" "$tmp/logs/15/1"
printf 'attempt one, rank one\n' >"$tmp/logs/13/1/rank-1.out"
printf 'step 1\tloss 2.5\nstep 2\tloss 2.25 \342\234\223\nstep 3\n' \
    >"$tmp/logs/13/2/rank-0.out"
touch "$tmp/logs/13/1/done" "$tmp/logs/13/2/done"
# log_paths N: the paths of the requests after the first N, one a line.
log_paths() {
	sed -n "$(($1 + 1)),\$p" "$log" | "$PY" -c "import json,sys
for l in sys.stdin: print(json.loads(l)['path'])"
}
before=$(requests)
if run 0 logs 13; then
	cmp -s "$tmp/out" "$tmp/logs/13/2/rank-0.out" && ok ||
	    fail "logs 13 is not the log, byte for byte"
	# Whole log in 16-byte chunks: defaults first, then from each offset.
	[ "$(log_paths "$before" | sed -n 1,3p | tr '\n' ' ')" = \
	    "/v1/jobs/13/logs /v1/jobs/13/logs?rank=0&attempt=2&offset=16 /v1/jobs/13/logs?rank=0&attempt=2&offset=32 " ] &&
	    ok || fail "logs 13 sent: $(log_paths "$before")"
	# the fake dropped the one after offset 16 unanswered: a GET is sent
	# again on a new connection
	[ "$(conns "$before" | sed -n 1,3p | uniq | wc -l)" = 2 ] && ok ||
	    fail "logs 13 connections: $(conns "$before" | tr '\n' ' ')"
fi
before=$(requests)
if run 0 logs --rank 1 --attempt 1 13; then
	expect out "attempt one, rank one"
	[ "$(log_paths "$before" | sed -n 1p)" = \
	    "/v1/jobs/13/logs?rank=1&attempt=1" ] && ok ||
	    fail "logs --rank --attempt sent: $(log_paths "$before")"
fi
before=$(requests)
if run 0 logs --tail 2 13; then
	expect out "$(printf 'step 2\tloss 2.25 \342\234\223\nstep 3')"
	[ "$(log_paths "$before" | sed -n 1p)" = "/v1/jobs/13/logs?tail=2" ] &&
	    ok || fail "logs --tail sent: $(log_paths "$before")"
	log_paths "$before" | sed 1d | grep -q tail= &&
	    fail "--tail was sent again with an offset" || ok
fi
run 1 logs --rank 9 13 && expect err "llmctl: job 13 has no rank 9 (world size 4)"
run 1 logs 99 && expect err "llmctl: no such job: 99"
before=$(requests)
run 2 logs --tail x 13 && expect err "llmctl: invalid line count: x"
run 2 logs --rank -1 13 && expect err "llmctl: invalid rank: -1"
run 2 logs 13 14 && expect err "$(printf '%s' "usage: llmctl logs [-f] " \
    "[-o json|yaml] [--rank rank] [--attempt attempt] [--tail lines] id")"
[ "$(requests)" = "$before" ] && ok || fail "logs sent a bad request"

# logs -f follows a growing log until the attempt ends, then exits 0.
f15=$tmp/logs/15/1/rank-0.out
printf 'step 1\n' >"$f15"
before=$(requests)
(cd "$tmp" && LLMCTL_SOCKET=$sock "$LLMCTL" logs -f 15 >"$tmp/follow.out" \
    2>"$tmp/follow.err"; echo $? >"$tmp/follow.rc") &
# wait_for FILE SECONDS: until FILE exists; 1 if it never does.
wait_for() {
	i=0
	while [ ! -e "$1" ]; do
		i=$((i + 1))
		[ $i -gt $(($2 * 10)) ] && return 1
		sleep 0.1
	done
}
i=0
until grep -q 'step 1' "$tmp/follow.out" 2>/dev/null || [ $i -gt 100 ]; do
	i=$((i + 1))
	sleep 0.1
done
[ -e "$tmp/follow.rc" ] && fail "logs -f exited before the attempt ended" ||
    ok
printf 'step 2\n' >>"$f15"
sleep 1.2
grep -q 'step 2' "$tmp/follow.out" && ok || fail "logs -f missed new lines"
[ -e "$tmp/follow.rc" ] && fail "logs -f exited before the attempt ended" ||
    ok
# The end comes with more than one reply's worth still unread.
printf 'step 3: a line longer than one reply\nend\n' >>"$f15"
touch "$tmp/logs/15/1/done"
if wait_for "$tmp/follow.rc" 10; then
	[ "$(cat "$tmp/follow.rc")" = 0 ] && ok ||
	    fail "logs -f exited $(cat "$tmp/follow.rc"): $(cat "$tmp/follow.err")"
	cmp -s "$tmp/follow.out" "$f15" && ok ||
	    fail "logs -f printed: $(cat "$tmp/follow.out")"
else
	fail "logs -f did not stop when the attempt ended"
fi
# It polls every half second, not in a busy loop, pinned to attempt 1.
polls=$(log_paths "$before" | grep -c '^/v1/jobs/15/logs?rank=0&attempt=1&offset=')
[ "$polls" -ge 3 ] && [ "$polls" -le 20 ] && ok ||
    fail "logs -f polled $polls times in about 2 s"

# --- events ----------------------------------------------------------------
if run 0 events 13; then
	has out '^TIME {17}KIND {11}MESSAGE$'
	has out '^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}  submitted      submitted by bob$'
	# Reasons are never cut short.
	has out '  attempt_ended  attempt 1 ended: node_failure: .* \(infrastructure restarts left: 9 of 10\)$'
	has out '  evil\?\[2J       a b$'
	LC_ALL=C grep -q "$(printf '\033')" "$tmp/out" &&
	    fail "an escape character reached the terminal" || ok
	[ "$(wc -l <"$tmp/out")" = 4 ] && ok || fail "not one line per event"
	last_request "r['method'] == 'GET' and r['path'] == '/v1/jobs/13/events'"
fi
run 0 ev -o json 13 && "$PY" -c "import json
assert [e['id'] for e in json.load(open('$tmp/out'))['events']] == [1, 2, 3]" &&
    ok || fail "events -o json is not the reply"
run 0 events 12 && expect out "no events"
run 1 events 99 && expect err "llmctl: no such job: 99"
run 2 events x && expect err "llmctl: invalid job id: x"

# --- checkpoints -----------------------------------------------------------
if run 0 checkpoints 13; then
	has out '^STEP +STATE +BYTES +AGE +PATH +PROBLEM$'
	has out '^10 +usable +512B +2h +/ckpt/hello/step_10 +-$'
	has out '^20 \* +usable +1\.5K +1h +/ckpt/hello/step_20 +-$'
	has out '^30 +corrupt +1\.2G +[0-9]+m +/ckpt/hello/step_30 +MANIFEST\.sha256: model\.pt: checksum mismatch$'
	has out '^40 +incomplete +0B +[0-9]+[sm] +/ckpt/hello/step_40 +no COMPLETE marker or manifest$'
	[ "$(sed 1d "$tmp/out" | cut -c1-2 | tr '\n' ' ')" = "10 20 30 40 " ] &&
	    ok || fail "checkpoints not oldest first"
	awk 'length($0) > 100 { bad = 1 } END { exit bad }' "$tmp/out" && ok ||
	    fail "a checkpoints line is wider than 100 columns"
	last_request "r['path'] == '/v1/jobs/13/checkpoints'"
fi
run 0 checkpoints -o json 13 && has out '^  "newest": 20,$' &&
    has out '^  "resume_from": "/ckpt/hello/step_20"$'
run 0 checkpoints 12 && expect out "no checkpoints"
run 2 c 13 && expect err \
    "llmctl: ambiguous command: c, could be: cancel, checkpoints"
run 1 checkpoints 99 && expect err "llmctl: no such job: 99"

# --- goodput -----------------------------------------------------------------
if run 0 goodput 13; then
	has out '^job 13: ETTR 83\.3% \(productive 1h40m of 2h00m; lost 8m20s, recovery 4m00s, 1 incident\) so far$'
	has out '^productive +6000 +1h40m +83\.3%$'
	has out '^  detection +30 +30s +0\.4%$'
	has out '^ckpt stall +300 +5m00s +4\.2%$'
	has out '^1 +node_failure +n4 +[0-9-]+ [0-9:]+ +[0-9-]+ [0-9:]+ +4m00s +30s +10s +100s +100s$'
	awk 'length($0) > 100 { bad = 1 } END { exit bad }' "$tmp/out" && ok ||
	    fail "a goodput line is wider than 100 columns"
	last_request "r['path'] == '/v1/jobs/13'"
fi
run 0 goodput -o json 13 && has out '^  "ettr": 0\.833' &&
    has out '^  "productive_s": 6000,$'
run 0 status 13 && has out '^goodput: +ETTR 83\.3% \(productive 1h40m of 2h00m'
run 0 goodput && has out '^bob +2 +2h00m +1h40m +8m20s +4m00s +100s +60s +5m00s +1 +83\.3%$' &&
    last_request "r['path'] == '/v1/goodput?by=user'"
run 0 goodput --by day && last_request "r['path'] == '/v1/goodput?by=day'"
run 0 goodput --by job && last_request "r['path'] == '/v1/goodput?by=job'"
run 2 goodput --by week && expect err "llmctl: --by: user, day or job, not week"
run 2 goodput --by day 13 &&
    expect err "llmctl: --by: totals only, without an id"
run 1 goodput 99 && expect err "llmctl: no such job: 99"

# --- heartbeat: TCP, bearer token, from the environment ---------------------
port=$(cat "$tmp/ready")
url=http://127.0.0.1:$port/v1/heartbeat
unset LLMCTL_HEARTBEAT_URL LLMCTL_HEARTBEAT_TOKEN RANK
before=$(requests)
run 1 heartbeat && expect err "llmctl: LLMCTL_HEARTBEAT_URL is not set: llmctl heartbeat runs inside a job started by llmctld"
export LLMCTL_HEARTBEAT_URL="$url"
run 1 heartbeat && has err '^llmctl: LLMCTL_HEARTBEAT_TOKEN is not set'
export LLMCTL_HEARTBEAT_TOKEN=s3cret
run 1 heartbeat && has err '^llmctl: RANK is not set'
export RANK=x
run 1 heartbeat && expect err "llmctl: invalid RANK: x"
export RANK=3
run 2 heartbeat --step -1 && expect err "llmctl: invalid step: -1"
run 2 heartbeat now && expect err "usage: llmctl heartbeat [--step step]"
[ "$(requests)" = "$before" ] && ok || fail "heartbeat sent a bad request"
# The Unix socket plays no part: --socket points nowhere.
run 0 --socket "$tmp/none.sock" heartbeat && expect out "" && expect err "" &&
    last_request "r['method'] == 'POST' and r['path'] == '/v1/heartbeat' and
r['auth'] == 'Bearer s3cret' and r['body'] == {'rank': 3}"
run 0 heartbeat --step 1500 &&
    last_request "r['body'] == {'rank': 3, 'step': 1500}"
# a name with an IPv6 and an IPv4 address: each in turn (the fake has
# only 127.0.0.1)
LLMCTL_HEARTBEAT_URL=http://localhost:$port/v1/heartbeat
run 0 heartbeat && last_request "r['path'] == '/v1/heartbeat'"
LLMCTL_HEARTBEAT_URL=$url
LLMCTL_HEARTBEAT_TOKEN=wrong
run 1 heartbeat && expect err \
    "llmctl: unknown or expired heartbeat token, or rank out of range" &&
    last_request "r['auth'] == 'Bearer wrong'"
before=$(requests)
LLMCTL_HEARTBEAT_TOKEN=$(printf 's3cret\r\nX-Evil: 1')
run 1 heartbeat && expect err "llmctl: the token holds a control character"
LLMCTL_HEARTBEAT_TOKEN=s3cret
LLMCTL_HEARTBEAT_URL=file:///etc/passwd
run 1 heartbeat &&
    expect err "llmctl: file:///etc/passwd: not an http:// URL"
LLMCTL_HEARTBEAT_URL=https://127.0.0.1:$port/v1/heartbeat
run 1 heartbeat && expect err "llmctl: $LLMCTL_HEARTBEAT_URL: https is not supported: llmctld's listeners speak plain http://"
LLMCTL_HEARTBEAT_URL=http://127.0.0.1:/v1/heartbeat
run 1 heartbeat && expect err "llmctl: $LLMCTL_HEARTBEAT_URL: not an http:// URL"
[ "$(requests)" = "$before" ] && ok || fail "heartbeat sent a bad request"
dead=$("$PY" -c "import socket
s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
LLMCTL_HEARTBEAT_URL=http://127.0.0.1:$dead/v1/heartbeat
run 1 heartbeat && expect err \
    "llmctl: cannot connect to llmctld at $LLMCTL_HEARTBEAT_URL: Connection refused"
unset LLMCTL_HEARTBEAT_URL LLMCTL_HEARTBEAT_TOKEN RANK

cli_done

#!/bin/sh
# The habits users bring from squeue, sbatch and kubectl, checked against
# the fake llmctld for every command llmctl has: --help generated from the
# declarations, -o json and -o yaml that parse back to the same data, the
# exit statuses 0/1/2, the status filters as query parameters, and the
# bash completion. Each loop runs over the command list llmctl itself
# reports, so a new command without help, without -o or with its own exit
# codes fails here.
. "$(cd "${srcdir:-.}" && pwd)/tests/unit/cli-lib.sh"

"$PY" -c 'import yaml' 2>/dev/null || { echo "SKIP: python3-yaml missing"; exit 77; }
cmds=$("$LLMCTL" __complete commands)
[ "$(echo "$cmds" | wc -l)" -ge 10 ] && ok || fail "__complete commands: $cmds"
# the hidden list is the list -h shows
"$LLMCTL" -h | sed -n 's/^ *llmctl \([a-z]*\) .*/\1/p' | grep -v '^$' \
    >"$tmp/listed"
echo "$cmds" | cmp -s - "$tmp/listed" && ok ||
    fail "__complete commands differs from llmctl -h: $(cat "$tmp/listed")"
# the commands that print no data (dashboard: a URL), so have no -o
no_data="heartbeat dashboard"

# --- --help on every command, from its declarations -----------------------
man=$(mandoc -Tascii -Owidth=200 "$top_src/man/llmctl.1" 2>/dev/null |
    sed 's/.\x08//g')
for c in $cmds; do
	run 0 "$c" --help || continue
	has out "^usage: llmctl $c "
	has out '^options:$'
	has out '^  -h, --help +print this help and exit$'
	# a line saying what the command does, between usage and options
	[ "$(sed -n 3p "$tmp/out")" != "" ] && [ "$(sed -n 2p "$tmp/out")" = "" ] &&
	    ok || fail "$c --help says nothing of what it does"
	awk 'length($0) > 80 && NR > 1 { bad = 1 } END { exit bad }' \
	    "$tmp/out" && ok || fail "$c --help is wider than 80 columns"
	# every option has a line of its own with a text (there, or wrapped
	# under it when the option is long)
	awk '/^options:$/ { on = 1; next }
	    on && /^  -/ && (substr($0, 23, 2) != "  " ||
	        substr($0, 25, 1) == "" || substr($0, 25, 1) == " ") {
		    if ((getline nxt) <= 0 || nxt !~ /^ {24}[^ ]/) {
			    print; bad = 1 } }
	    END { exit bad }' "$tmp/out" >"$tmp/bare" && ok ||
	    fail "$c --help: options without a text: $(cat "$tmp/bare")"
	# every spelling of every option: in the help, in the usage, in the
	# man page (a long name only where there is no short one)
	"$LLMCTL" __complete options "$c" >"$tmp/opts"
	cp "$tmp/out" "$tmp/help"
	short=
	while read -r o k; do
		case $o in
		--*) pat="^  (-., |    )$o( |\$)" ;;
		*) pat="^  $o, " ;;
		esac
		grep -Eq -- "$pat" "$tmp/help" && ok ||
		    fail "$c --help does not list $o"
		case $o in
		-h | --help) continue ;;
		--*) [ -n "$short" ] && { short=; continue; } ;;
		*) short=$o ;;
		esac
		sed -n 1p "$tmp/help" | grep -q -- "[[]$o[] ]" && ok ||
		    fail "$c: the usage lacks $o"
		[ -z "$man" ] || printf '%s\n' "$man" | grep -q -- "$o" ||
		    fail "llmctl(1) does not mention $c $o"
	done <"$tmp/opts"
	# -o on every command that prints data
	case " $no_data " in
	*" $c "*) ;;
	*) grep -qx -- '-o format' "$tmp/opts" && ok ||
	    fail "$c has no -o json|yaml" ;;
	esac
done

# --- exit statuses: 2 for usage, before anything is sent ------------------
before=$(requests)
for c in $cmds; do
	run 2 "$c" --bogus && has err "^llmctl $c: unrecognized option '--bogus'" &&
	    has err "^usage: llmctl $c "
	grep -qx -- '-o format' "$tmp/opts" 2>/dev/null
done
for c in cancel checkpoints events goodput logs status; do
	run 2 "$c" 12x && expect err "llmctl: invalid job id: 12x"
done
for c in cancel checkpoints events logs plan submit validate; do
	run 2 "$c" && has err "^usage: llmctl $c "
done
for c in checkpoints events goodput logs nodes plan status submit validate cancel; do
	case $c in
	plan | submit | validate) a=x.yaml ;;
	nodes | goodput) a= ;;
	status) a= ;;
	*) a=13 ;;
	esac
	run 2 "$c" -o xml $a && has err 'unknown output format: xml'
done
run 2 status --since yesterday && has err '^llmctl: invalid time: yesterday'
run 2 status --since 5x && has err '^llmctl: invalid time: 5x'
run 2 status --since 2026-13-01 && has err '^llmctl: invalid time'
run 2 status --state bogus,running && has err '^llmctl: unknown state: bogus '
run 2 __complete frobnicate
[ "$(requests)" = "$before" ] && ok || fail "a usage error sent a request"
# 1: the operation failed; 0: it did not
for c in "checkpoints 99" "events 99" "goodput 99" "logs 99" "status 99" "cancel 99"; do
	run 1 $c && has err '^llmctl: no such job: 99$'
done
for c in status nodes "events 13" "checkpoints 13" "status 13" "goodput 13" goodput; do
	run 1 --socket "$tmp/none.sock" $c && has err '^llmctl: cannot connect'
	run 0 $c
done
run 1 validate missing.yaml

# --- -o json and -o yaml: the same data, parsed back ----------------------
cp "$top_src/conf/examples/hello.yaml" "$tmp/good.yaml"
printf 'version: 1\nname: x\ncommand: y\nresources:\n  nodes: four\n' \
    >"$tmp/bad.yaml"
mkdir -p "$tmp/logs/13/2"
printf 'step 1\nstep 2: a line longer than one reply\n\tindented\n' \
    >"$tmp/logs/13/2/rank-0.out"
touch "$tmp/logs/13/2/done"
# same RC ARGS...: -o json and -o yaml exit RC and hold the same data
same() {
	want=$1
	shift
	run "$want" "$@" -o json || return
	cp "$tmp/out" "$tmp/json"
	run "$want" "$@" -o yaml || return
	if "$PY" -c "import json, sys, yaml
j = json.load(open('$tmp/json'))
y = yaml.safe_load(open('$tmp/out'))
if j != y:
    sys.exit('json: %r\nyaml: %r' % (j, y))" 2>"$tmp/why"; then ok; else
		fail "llmctl $* -o yaml is not -o json: $(head -c 2000 "$tmp/why")"
	fi
}
same 0 status
same 0 status -a --state running
same 0 status 13
same 0 status 16
same 0 events 13
same 0 checkpoints 13
same 0 checkpoints 12
same 0 goodput 13
same 0 goodput --by day
same 0 plan good.yaml
same 0 submit good.yaml
same 0 submit --dry-run good.yaml
same 0 cancel 13
same 1 cancel 13 12
same 0 logs 13
same 0 logs --tail 1 13
same 0 validate good.yaml
same 1 validate good.yaml bad.yaml missing.yaml
# what the checks above compared is really there
run 0 status 16 -o yaml && "$PY" -c "import yaml
d = yaml.safe_load(open('$tmp/out'))
assert d['strings'][:3] == ['yes', 'no', 'on'], d['strings'][:3]
assert d['numbers'][4] == 0.1 and d['flags'] == [True, False, None]" && ok ||
    fail "status 16 -o yaml lost the awkward strings"
LC_ALL=C grep -q "$(printf '\033')" "$tmp/out" &&
    fail "an escape character reached the terminal in YAML" || ok
run 0 cancel 13 -o json && "$PY" -c "import json
d = json.load(open('$tmp/out'))
assert [j['state'] for j in d['jobs']] == ['CANCELLED']" && ok ||
    fail "cancel -o json is not the jobs"
run 0 logs 13 -o json && "$PY" -c "import json
d = json.load(open('$tmp/out'))
assert d['data'] == open('$tmp/logs/13/2/rank-0.out').read(), d
assert d['job'] == 13 and d['done'] is True and d['attempt'] == 2" && ok ||
    fail "logs -o json is not the whole log"
# -f: a document per piece, JSON a line or YAML after ---, the log whole
run 0 logs -f 13 -o json && "$PY" -c "import json
ds = [json.loads(l) for l in open('$tmp/out')]
assert len(ds) > 2 and all(d['job'] == 13 for d in ds), ds
assert ''.join(d['data'] for d in ds) == open('$tmp/logs/13/2/rank-0.out').read()" &&
    ok || fail "logs -f -o json: $(cat "$tmp/out")"
run 0 logs -f 13 -o yaml && "$PY" -c "import yaml
ds = list(yaml.safe_load_all(open('$tmp/out')))
assert len(ds) > 2 and all(d['job'] == 13 for d in ds), ds
assert ''.join(d['data'] for d in ds) == open('$tmp/logs/13/2/rank-0.out').read()" &&
    ok || fail "logs -f -o yaml: $(cat "$tmp/out")"
run 1 validate good.yaml bad.yaml -o yaml && "$PY" -c "import yaml
d = yaml.safe_load(open('$tmp/out'))['files']
assert [f['valid'] for f in d] == [True, False]
assert d[0]['spec']['resources']['nodes'] == 2, d[0]
assert d[1]['error'].startswith('bad.yaml:5:'), d[1]" && ok ||
    fail "validate -o yaml: $(cat "$tmp/out")"
# nodes -o yaml is the snapshot plan --cluster reads, as before
run 0 nodes -o yaml && "$PY" -c "import json, subprocess, yaml
j = json.loads(subprocess.check_output(['$LLMCTL', '--socket', '$sock',
    'nodes', '-o', 'json']))
assert yaml.safe_load(open('$tmp/out')) == yaml.safe_load(j['snapshot'])" &&
    ok || fail "nodes -o yaml is not the snapshot"

# --- status filters: query parameters for the daemon to apply -------------
me=$(id -u) # llmctl asks for its own jobs by uid: no NSS
now=$(date +%s)
# since=N: N within a few seconds of $1 seconds ago
since_is() {
	tail -n 1 "$log" | "$PY" -c "import json, sys, urllib.parse
r = json.loads(sys.stdin.read())
q = urllib.parse.parse_qs(urllib.parse.urlsplit(r['path']).query)
want = $now - $1
sys.exit(0 if abs(int(q['since'][0]) - want) <= 5 else 1)" && ok ||
	    fail "since is not now - $1: $(tail -n 1 "$log")"
}
run 0 status && since_is 300
LLMCTL_STATUS_SINCE=1h run 0 status && since_is 3600
run 0 status --since 2d && since_is 172800
run 0 status --since 90s && since_is 90
run 0 status --since all &&
    last_request "r['path'] == '/v1/jobs?user=$me&limit=100'"
run 0 status --state RUNNING,queued &&
    last_request "r['path'] == '/v1/jobs?user=$me&state=RUNNING%2Cqueued&limit=100'"
run 0 status --since all --limit 0 &&
    last_request "r['path'] == '/v1/jobs?user=$me&limit=10000'"
run 2 status --limit -3 && has err '^llmctl: --limit: expected a number'
# the fake filters by state as llmctld does: only job 13 runs
run 0 status --state running && has out '^13 +hello' && ! grep -q '^14 ' "$tmp/out" && ok ||
    fail "status --state RUNNING listed other states"
run 0 status --user alice --name 'my job' --since 2026-01-31T12:00 &&
    last_request "r['path'] == '/v1/jobs?user=alice&name=my%20job&since=' +
str(int(__import__('time').mktime((2026, 1, 31, 12, 0, 0, 0, 0, -1)))) +
'&limit=100'"
run 0 status -a --since '2026-01-31 12:00:30' &&
    last_request "r['path'] == '/v1/jobs?since=' +
str(int(__import__('time').mktime((2026, 1, 31, 12, 0, 30, 0, 0, -1)))) +
'&limit=100'"
run 0 status --noheader -a && ! grep -q '^ID ' "$tmp/out" && ok ||
    fail "--noheader printed the header"
[ "$(wc -l <"$tmp/out")" = 3 ] && ok || fail "--noheader: not one line a job"
run 0 status -a && has out '^ID +NAME'

# --- bash completion -------------------------------------------------------
# complete WORDS...: COMPREPLY for the last word, one line, sorted
complete() {
	PATH=$top_build/cli:$PATH LLMCTL_SOCKET=$sock bash -c '
	    cd "$1" && shift && source "$0" &&
	    COMP_WORDS=("$@") && COMP_CWORD=$(($# - 1)) && _llmctl &&
	    for w in "${COMPREPLY[@]}"; do echo "$w"; done | sort |
	    tr "\n" " "' \
	    "$top_src/cli/llmctl.bash-completion" "$tmp" "$@"
}
# compl WANT WORDS...
compl() {
	want=$1
	shift
	got=$(complete "$@")
	[ "$got" = "$want" ] && ok || fail "completing '$*': '$got', want '$want'"
}
compl "status submit " llmctl s
compl "status " llmctl sta
compl "cancel checkpoints " llmctl c
compl "--help --socket --version " llmctl --
compl "--name --noheader " llmctl status --n
compl "--since --state " llmctl status --s
compl "RESTARTING RUNNING " llmctl status --state R
compl "json table yaml " llmctl events -o ""
compl "json " llmctl --socket "$sock" logs --output j
compl "--attempt " llmctl logs --a
mkdir -p "$tmp/specs"
: >"$tmp/a.yaml"
: >"$tmp/b.yml"
: >"$tmp/c.txt"
compl "a.yaml b.yml bad.yaml good.yaml logs specs " llmctl submit ""
compl "a.yaml " llmctl validate -q a
compl "12 13 14 " llmctl status ""
compl "13 " llmctl events 13
# cancel is offered only unfinished jobs: the fake's state filter
compl "13 14 " llmctl cancel ""
last_request "'state=QUEUED,SUBMITTED,RUNNING,RESTARTING' in r['path']"
compl "" llmctl --socket "$tmp/none.sock" status ""
# every command's every option is offered
for c in $cmds; do
	want=$("$LLMCTL" __complete options "$c" | sed -n 's/^\(--[^ ]*\).*/\1/p' |
	    sort | tr '\n' ' ')
	compl "$want" llmctl "$c" --
done

cli_done

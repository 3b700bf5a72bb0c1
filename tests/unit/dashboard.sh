#!/bin/sh
# llmctl dashboard's HTTP, with curl against the fake llmctld: the
# one-time token, the cookie and the bearer, what is refused (another
# Host, POST, paths outside /v1/, a head too long) and what the relay
# passes on (the path and query, llmctld's status, none of the browser's
# headers). The page itself in a browser: tests/e2e/t-dashboard.sh.
. "$(cd "${srcdir:-.}" && pwd)/tests/unit/cli-lib.sh"
command -v curl >/dev/null || { echo "SKIP: no curl"; exit 77; }

dpid=
trap '[ -n "$dpid" ] && kill "$dpid" 2>/dev/null; cleanup' EXIT

# start [ARGS]: llmctl dashboard ARGS on the fake; sets url, port, dpid
start() {
	rm -f "$tmp/url"
	LLMCTL_SOCKET=$sock "$LLMCTL" dashboard "$@" >"$tmp/url" 2>"$tmp/derr" &
	dpid=$!
	i=0
	until grep -qs '^http://127\.0\.0\.1:[0-9]*/?token=[0-9a-f]\{32\}$' "$tmp/url"; do
		i=$((i + 1))
		[ $i -gt 100 ] && { echo "FAIL: no URL: $(cat "$tmp/derr")"; exit 1; }
		sleep 0.1
	done
	url=$(cat "$tmp/url")
	port=$(echo "$url" | sed 's|^http://127.0.0.1:\([0-9]*\)/.*|\1|')
	base=http://127.0.0.1:$port
}
# get WANT_STATUS CURL_ARGS...: the answer's head in $tmp/out, body in
# $tmp/err (so fail shows both)
get() {
	want=$1
	shift
	code=$(curl -s -D "$tmp/out" -o "$tmp/err" -w '%{http_code}' "$@")
	if [ "$code" = "$want" ]; then ok; else
		fail "curl $*: HTTP $code, want $want"; fi
}

start
get 401 "$base/"
has err 'not signed in'
get 401 "$base/v1/jobs"
get 403 "${url%token=*}token=00000000000000000000000000000000"
has err 'wrong token'
# refused before the token is looked at, so it still works afterwards
get 403 -H "Host: attacker.example:$port" "$url"
get 403 -H "Host: 127.0.0.1:1" "$url"
get 405 -X POST "$url"
get 303 "$url"
has out "^Location: /#session=[0-9a-f]{64}"
has out "^Set-Cookie: llmctl_dashboard_$port=[0-9a-f]{64}; Path=/; HttpOnly; SameSite=Strict"
has out '^Referrer-Policy: no-referrer'
cookie=$(sed -n "s/^Set-Cookie: \(llmctl_dashboard_$port=[0-9a-f]*\);.*/\1/p" "$tmp/out")
bearer=$(sed -n 's|^Location: /#session=\([0-9a-f]*\).*|\1|p' "$tmp/out" | tr -d '\r')
get 403 "$url"
has err 'used already'
get 403 -b "$cookie" "$url"

# the page: the cookie is enough; no data in it
get 200 -b "$cookie" "$base/"
has out '^Content-Type: text/html'
has out "^Content-Security-Policy: default-src 'none'; script-src 'self';"
has out '^X-Frame-Options: DENY'
has err '<script src="/app.js"'
get 200 -b "$cookie" "$base/app.js"
has out '^Content-Type: text/javascript'
get 200 -b "$cookie" "$base/style.css"
has out '^Content-Type: text/css'
# anything but the page is data: the bearer first, then 404
get 401 -b "$cookie" "$base/etc/passwd"
get 404 -b "$cookie" -H "Authorization: Bearer $bearer" "$base/etc/passwd"
get 401 -b "llmctl_dashboard_$port=0000" "$base/"

# the data: cookie and bearer both
get 401 -b "$cookie" "$base/v1/jobs"
get 401 -H "Authorization: Bearer $bearer" "$base/v1/jobs"
get 401 -b "$cookie" -H "Authorization: Bearer 00$bearer" "$base/v1/jobs"
: >"$log"
get 200 -b "$cookie" -H "Authorization: Bearer $bearer" -H 'X-Extra: 1' \
    "$base/v1/jobs?state=RUNNING"
has out '^Content-Type: application/json'
has out '^Cache-Control: no-store'
has err '"jobs"'
# one request, this path, and the browser's Authorization not passed on
[ "$(requests)" = 1 ] && ok || fail "$(requests) requests reached llmctld"
last_request "r['method'] == 'GET' and r['path'] == '/v1/jobs?state=RUNNING' and r['auth'] is None"
# llmctld's refusals come through as they are
get 404 -b "$cookie" -H "Authorization: Bearer $bearer" "$base/v1/jobs/99"
has err '"not_found"'
get 405 -b "$cookie" -H "Authorization: Bearer $bearer" -X POST "$base/v1/jobs/13/cancel"
: >"$log"
get 400 -b "$cookie" -H "Authorization: Bearer $bearer" --path-as-is "$base/v1/../v1/jobs"
get 404 -b "$cookie" -H "Authorization: Bearer $bearer" "$base/v2/jobs"
[ "$(requests)" = 0 ] && ok || fail "a refused path reached llmctld"
# a head larger than 8 KiB
get 400 -b "$cookie" -H "X-Big: $(head -c 9000 /dev/zero | tr '\0' a)" "$base/"
kill "$dpid"
wait "$dpid" 2>/dev/null

# --port, a port in use, no daemon, a bad port
p=$("$PY" -c "import socket
s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
start --port "$p"
[ "$port" = "$p" ] && ok || fail "--port $p: listening on $port"
run 1 dashboard --port "$p"
has err "^llmctl: cannot listen on 127.0.0.1:$p: "
kill "$dpid"
wait "$dpid" 2>/dev/null
dpid=
run 2 dashboard --port 70000
run 1 --socket "$tmp/none.sock" dashboard
has err '^llmctl: cannot connect to llmctld'
cli_done

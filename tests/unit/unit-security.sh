#!/bin/sh
# The shipped unit, as an admin would check it: `systemd-analyze verify`
# accepts it and `systemd-analyze security --offline=true` rates its
# exposure at most 2.5. Skipped without systemd-analyze. Runs from the build
# directory (make check), which makes conf/llmctld.service.
MAX=2.5
command -v systemd-analyze >/dev/null ||
    { echo "SKIP: systemd-analyze not found"; exit 77; }
unit=$(pwd)/conf/llmctld.service
[ -f "$unit" ] || { echo "FAIL: $unit not built"; exit 1; }
tmp=$(mktemp -d /tmp/llmctl-unit.XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT
fails=0

# verify checks that ExecStart= exists: point it at this build's daemon.
sed "s|^ExecStart=[^ ]*|ExecStart=$(pwd)/daemon/llmctld|" "$unit" \
    >"$tmp/llmctld.service"
if systemd-analyze verify --man=no "$tmp/llmctld.service" >"$tmp/out" 2>&1 &&
    [ ! -s "$tmp/out" ]; then
	echo "ok: systemd-analyze verify"
else
	echo "FAIL: systemd-analyze verify:"
	sed 's/^/  /' "$tmp/out"
	fails=$((fails + 1))
fi
for d in Type=notify 'ExecReload=/bin/kill -HUP $MAINPID' WatchdogSec= \
    ProtectSystem=strict ReadWritePaths= LimitNOFILE= RuntimeDirectory= \
    StateDirectory= CapabilityBoundingSet=; do
	grep -q "^$d" "$unit" || { echo "FAIL: no $d"; fails=$((fails + 1)); }
done

systemd-analyze security --offline=true "$tmp/llmctld.service" >"$tmp/out" \
    2>&1
score=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p' \
    "$tmp/out")
if [ -z "$score" ]; then
	echo "FAIL: no exposure level in:"
	sed 's/^/  /' "$tmp/out"
	fails=$((fails + 1))
elif awk -v s="$score" -v m="$MAX" 'BEGIN { exit !(s <= m) }'; then
	echo "ok: exposure $score (at most $MAX)"
else
	echo "FAIL: exposure $score, more than $MAX:"
	grep '✗' "$tmp/out" | sed 's/^/  /'
	fails=$((fails + 1))
fi
[ $fails -eq 0 ]

#!/bin/bash
# The Debian package, end to end: build llmctl and llmctld with
# dpkg-buildpackage from a copy of this tree, check them with lintian,
# install them, check where Debian wants each file, run `llmctld -n` and five
# e2e jobs through the installed binaries on the private Slurm cluster
# (tests/e2e/run with BUILD_DIR pointing at /usr; the daemon held to the
# unit's capabilities), purge them and check that
# nothing of theirs is left on the file system. Run as root from the source
# tree; refuses to touch an llmctl that was installed before.
# Ends with "pkg: N passed, N failed"; exit status 0 only if none failed.
TOP=$(cd "$(dirname "$0")/../.." && pwd)
: "${E2E_DIR:=/tmp/llmctl-e2e-pkg}"
PASSED=0
FAILED=0
ok() { echo "  ok: $*"; PASSED=$((PASSED + 1)); }
fail() { echo "  FAIL: $*"; FAILED=$((FAILED + 1)); }
finish() {
	echo "pkg: $PASSED passed, $FAILED failed"
	[ "$FAILED" -eq 0 ]
	exit
}

[ "$(id -u)" = 0 ] || { echo "tests/pkg/run.sh: must run as root" >&2; exit 2; }
command -v dpkg-buildpackage >/dev/null && command -v dh >/dev/null ||
    { echo "SKIP: dpkg-buildpackage/debhelper missing (tests/setup-deps.sh)"; exit 77; }
for p in llmctl llmctld; do
	if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'installed'
	then
		echo "tests/pkg/run.sh: $p is installed already; not touching it" >&2
		exit 2
	fi
done

tmp=$(mktemp -d /tmp/llmctl-pkg.XXXXXX) || exit 1
dpid=
cleanup() {
	[ -n "$dpid" ] && kill "$dpid" 2>/dev/null
	dpkg --purge llmctl llmctld >/dev/null 2>&1
	rm -rf "$tmp"
}
trap cleanup EXIT

# What the file system holds where a package puts things, as names.
snapshot() {
	find /etc /usr /lib/systemd /var/lib /run /srv /opt -xdev \
	    \( -path /var/lib/dpkg -o -path /var/lib/apt -o -path /var/cache \
	    -o -path /run/user -o -path /var/lib/systemd/timers \
	    -o -path /run/netns \) -prune -o \
	    -print 2>/dev/null | LC_ALL=C sort
}

echo "== build (dpkg-buildpackage -us -uc -b)"
mkdir "$tmp/src"
(cd "$TOP" && git ls-files -co --exclude-standard | grep -v '^_build/' |
    tar -cf - -T -) | tar -xf - -C "$tmp/src"
if (cd "$tmp/src" && DEB_BUILD_OPTIONS="nocheck parallel=$(nproc)" \
    dpkg-buildpackage -us -uc -b) >"$tmp/build.log" 2>&1; then
	ok "dpkg-buildpackage built $(cd "$tmp" && echo llmctl*_*.deb)"
else
	tail -30 "$tmp/build.log"
	fail "dpkg-buildpackage"
	finish
fi
echo "== lintian"
lintian -I --pedantic "$tmp"/llmctl_*.changes 2>&1 |
    grep -v '^running with root privileges' | tee "$tmp/lintian.log"
if grep -q '^[EW]:' "$tmp/lintian.log"; then
	fail "lintian has errors or warnings"
else
	ok "lintian: no errors or warnings ($(grep -c '^[IPN]:' \
	    "$tmp/lintian.log") notes)"
fi

echo "== install"
snapshot >"$tmp/before"
if dpkg -i "$tmp"/llmctl_*_*.deb "$tmp"/llmctld_*_*.deb >"$tmp/dpkg.log" 2>&1
then
	ok "dpkg -i"
else
	cat "$tmp/dpkg.log"
	fail "dpkg -i"
	finish
fi
for f in /usr/bin/llmctl /usr/sbin/llmctld /lib/systemd/system/llmctld.service \
    /usr/share/doc/llmctl/examples/hello.yaml \
    /usr/share/doc/llmctl/examples/train_ddp.py \
    /usr/share/doc/llmctl/examples/llmctl_heartbeat.py \
    /usr/share/man/man1/llmctl.1.gz /usr/share/man/man5/llmctl-job.5.gz \
    /usr/share/man/man5/llmctld.conf.5.gz /usr/share/man/man8/llmctld.8.gz; do
	[ -f "$f" ] || fail "$f not installed"
done
if [ -f "$TOP/cli/llmctl.bash-completion" ]; then
	[ -f /usr/share/bash-completion/completions/llmctl ] &&
	    ok "bash completion installed" ||
	    fail "bash completion not in /usr/share/bash-completion/completions"
fi
dpkg-query -W -f='${Conffiles}\n' llmctld | grep -q ' /etc/llmctl/llmctld.conf ' &&
    ok "/etc/llmctl/llmctld.conf is a conffile" ||
    fail "/etc/llmctl/llmctld.conf is not a conffile"
[ "$(stat -c '%a %U %G' /var/lib/llmctl 2>/dev/null)" = "755 root root" ] &&
    ok "/var/lib/llmctl 0755 root:root, as StateDirectoryMode=" ||
    fail "/var/lib/llmctl: $(stat -c '%a %U %G' /var/lib/llmctl 2>&1)"
grep -q '^ExecStart=/usr/sbin/llmctld -d -f /etc/llmctl/llmctld.conf$' \
    /lib/systemd/system/llmctld.service &&
    ok "the unit starts /usr/sbin/llmctld with /etc/llmctl/llmctld.conf" ||
    fail "the unit's ExecStart: $(grep ^ExecStart= /lib/systemd/system/llmctld.service)"
unit=/lib/systemd/system/llmctld.service
if command -v systemd-analyze >/dev/null; then
	out=$(systemd-analyze verify --man=no "$unit" 2>&1) && [ -z "$out" ] &&
	    ok "systemd-analyze verify $unit" ||
	    fail "systemd-analyze verify $unit: $out"
	score=$(systemd-analyze security --offline=true "$unit" 2>&1 |
	    sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
	awk -v s="${score:-99}" 'BEGIN { exit !(s <= 2.5) }' &&
	    ok "installed unit: exposure $score" ||
	    fail "installed unit: exposure ${score:-unknown}, more than 2.5"
fi
[ -L /etc/systemd/system/multi-user.target.wants/llmctld.service ] &&
    ok "llmctld.service enabled (not started: no slurm.conf checked yet)" ||
    fail "llmctld.service not enabled"
out=$(/usr/sbin/llmctld -n 2>&1) && [ "$out" = "/etc/llmctl/llmctld.conf: ok" ] &&
    ok "llmctld -n: $out" || fail "llmctld -n: $out"

echo "== jobs through the installed binaries, with the unit's capabilities"
# tests/e2e/run finds the binaries under BUILD_DIR/daemon and BUILD_DIR/cli.
# The daemon runs as the unit would run it: only the unit's
# CapabilityBoundingSet= and no new privileges (setpriv), so the jobs prove
# those capabilities enough to make log directories for users (test_10),
# read their logs (b5), scan checkpoints as them (c1) and kill a stuck scan
# (98).
caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$unit" | tr 'A-Z ' 'a-z\n' |
    sed -n 's/^cap_\(.*\)/+\1/p' | paste -sd,)
mkdir -p "$tmp/inst/daemon" "$tmp/inst/cli"
chmod 755 "$tmp"	# the test users run $tmp/inst/cli/llmctl
printf '#!/bin/sh\nexec setpriv --bounding-set=-all,%s --inh-caps=-all --no-new-privs /usr/sbin/llmctld "$@"\n' \
    "$caps" >"$tmp/inst/daemon/llmctld"
chmod 755 "$tmp/inst/daemon/llmctld"
ln -s /usr/bin/llmctl "$tmp/inst/cli/llmctl"
E2E_DIR=$E2E_DIR BUILD_DIR=$tmp/inst "$TOP/tests/e2e/run" test_10_env_ranks \
    test_20_exit_code test_b5_logs_follow test_c1_kill_rank_resumes \
    test_98_sec_scan_sigstop >"$tmp/e2e.log" 2>&1
rc=$?
grep -E '^(---|    ok|    FAIL|e2e:)' "$tmp/e2e.log" | sed 's/^/    /'
grep -q "llmctld $(sed -n 's/^llmctl (\([^)]*\)).*/\1/p;q' \
    "$TOP/debian/changelog") listening" "$E2E_DIR/llmctld.log" &&
    grep -q '^e2e: 5 passed, 0 failed$' "$tmp/e2e.log" && [ $rc -eq 0 ] &&
    ok "5 e2e jobs through /usr/sbin/llmctld (capabilities ${caps:-none}) and /usr/bin/llmctl" ||
    fail "jobs through the installed binaries (exit $rc)"

echo "== the installed daemon in its own places (fake backend)"
# What an admin's first start leaves: the database and logs/ under
# /var/lib/llmctl, the socket in /run/llmctl, an edited conffile. Purge must
# take all of it.
sed -e 's/^backend:.*//' -e 's/^heartbeat_listen:.*//' \
    /etc/llmctl/llmctld.conf >"$tmp/conf"
printf 'backend: fake\n' >>"$tmp/conf"
cp "$tmp/conf" /etc/llmctl/llmctld.conf
/usr/sbin/llmctld -d >"$tmp/llmctld.log" 2>&1 &
dpid=$!
for i in $(seq 50); do
	/usr/bin/llmctl status >/dev/null 2>&1 && break
	sleep 0.2
done
/usr/bin/llmctl status >/dev/null 2>&1 && [ -S /run/llmctl/llmctld.sock ] &&
    [ "$(stat -c %a /var/lib/llmctl/llmctld.db 2>/dev/null)" = 600 ] &&
    ok "llmctld from /usr/sbin on /run/llmctl/llmctld.sock, database 0600" ||
    { tail -5 "$tmp/llmctld.log"; fail "the installed daemon in its own places"; }
kill "$dpid" 2>/dev/null
wait "$dpid" 2>/dev/null
dpid=

echo "== purge"
if dpkg --purge llmctl llmctld >"$tmp/dpkg.log" 2>&1; then
	ok "dpkg --purge"
else
	cat "$tmp/dpkg.log"
	fail "dpkg --purge"
fi
snapshot >"$tmp/after"
# Only what appeared counts: other sessions' clusters come and go meanwhile.
comm -13 "$tmp/before" "$tmp/after" >"$tmp/left"
if [ ! -s "$tmp/left" ]; then
	ok "nothing left behind after purge"
else
	sed 's/^/    /' "$tmp/left" | head -20
	fail "purge left $(wc -l <"$tmp/left") paths behind"
fi
finish

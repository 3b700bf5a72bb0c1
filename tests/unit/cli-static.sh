#!/bin/sh
# llmctl as configure built it (configure.ac, --disable-static-cli-libs):
# it never asks NSS for a user (its own jobs go by uid: a static glibc
# could not load a site's sssd or LDAP module), and, when configure made it
# a static PIE, the kernel starts it with no loader and no shared object.
LLMCTL=${LLMCTL:-$(pwd)/cli/llmctl}
rc=0
fail() { echo "FAIL: $*"; rc=1; }
[ -x "$LLMCTL" ] || { echo "FAIL: $LLMCTL not built"; exit 1; }
command -v readelf >/dev/null || { echo "SKIP: no readelf"; exit 77; }
# symbols it defines or takes from a shared libc, either way
syms=$({ nm "$LLMCTL"; nm -D "$LLMCTL"; } 2>/dev/null)
nss=$(echo "$syms" | grep -Eo '\b(getpw|getgr|getlogin|getspnam|initgroups)[a-z_]*' | sort -u)
[ -z "$nss" ] || fail "llmctl looks users up through NSS: $nss"
"$LLMCTL" --version | grep -q '^llmctl ' || fail "llmctl --version"
case " $CLI_LDFLAGS " in
*-static-pie*)
	readelf -lW "$LLMCTL" | grep -q INTERP &&
	    fail "configured static, but llmctl names a loader"
	needed=$(readelf -dW "$LLMCTL" | grep NEEDED)
	[ -z "$needed" ] || fail "configured static, but llmctl needs: $needed"
	readelf -hW "$LLMCTL" | grep -q 'DYN ' ||
	    fail "llmctl is not position independent (no ASLR)"
	;;
*) echo "note: llmctl is dynamically linked (CLI_LDFLAGS='$CLI_LDFLAGS')" ;;
esac
[ $rc = 0 ] && echo "PASS: llmctl links as configured, without NSS user lookups"
exit $rc

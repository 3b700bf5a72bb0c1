#!/bin/sh
# One format, kept by a tool: every C file under cli/, daemon/, lib/ and
# tests/ is as .clang-format (KNF-like) makes it. Fails naming each one not;
# fix with: clang-format -i FILE. Skips (77) without clang-format 14, the
# version Debian 12 ships, since other versions format some lines otherwise.
top=${srcdir:-.}
cf=
for c in clang-format-14 clang-format; do
	if command -v "$c" >/dev/null 2>&1 &&
	    "$c" --version | grep -q 'version 14\.'; then
		cf=$c
		break
	fi
done
if [ -z "$cf" ]; then
	echo "SKIP: no clang-format 14"
	exit 77
fi
rc=0
for f in "$top"/cli/*.[ch] "$top"/daemon/*.[ch] "$top"/lib/*.[ch] \
    "$top"/tests/unit/*.[ch] "$top"/tests/fuzz/*.[ch] "$top"/tests/bench/*.[ch]; do
	if ! "$cf" --style=file:"$top"/.clang-format --dry-run -Werror "$f" \
	    >/dev/null 2>&1; then
		echo "FAIL: $f is not clang-formatted (clang-format -i $f)"
		rc=1
	fi
done
[ $rc = 0 ] && echo "PASS: the C of cli/ daemon/ lib/ tests/ is clang-formatted"
exit $rc

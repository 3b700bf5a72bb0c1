#!/bin/sh
# Each third-party header is included by exactly the module that owns it
# (docs/design.md section 1). Fails, naming the file, when one leaks elsewhere.
top=${srcdir:-.}
rc=0
check() {
	header=$1; shift
	bad=$(grep -l "#include <$header" "$top"/lib/*.[ch] "$top"/daemon/*.[ch] \
	    "$top"/cli/*.[ch] 2>/dev/null | while read -r f; do
		ok=0
		for allowed in "$@"; do
			case $f in */$allowed) ok=1 ;; esac
		done
		[ $ok = 1 ] || echo "$f"
	done)
	if [ -n "$bad" ]; then
		echo "FAIL: <$header> included outside $*: $bad"
		rc=1
	fi
}
check slurm/ daemon/backend-slurm.c
check sqlite3.h daemon/store.c daemon/store-nodes.c daemon/store-int.h
check yaml.h 'lib/spec*.c' lib/topo-yaml.c daemon/conf.c
check event2/ daemon/server.c daemon/server-limit.c daemon/server-tcp.c daemon/llmctld.c daemon/timer.c \
    daemon/pool.c daemon/server-stream.c
check curl/ daemon/notify.c
# the worker thread knows the backend, not what the monitor does with it
if grep -E '#include "(plan|checkpoint|placement|store|launch)\.h"' \
    "$top"/daemon/worker.[ch]; then
	echo "FAIL: daemon/worker.[ch] include a planning or store header"
	rc=1
fi
[ $rc = 0 ] && echo "PASS: dependency boundaries hold"
exit $rc

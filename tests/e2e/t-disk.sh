# t-disk: a full disk on the real cluster (issue 12 sections 2 and 5).
# llmctld runs with its database on a small tmpfs the test mounts and
# fills while a job runs; tests/unit/full-disk.sh is the same with the
# fake backend.

DISK_DIR=$E2E_DIR/disk

# llmctld back on the e2e configuration, the tmpfs gone.
disk_restore() {
	daemon_stop
	rm -f "$DISK_DIR/filler"
	umount "$DISK_DIR" 2>/dev/null || true
	rm -rf "$E2E_DIR/disk-state"
	daemon_start
}

# llmctld on the e2e configuration with its database in DISK_DIR.
disk_daemon_start() {
	local _
	daemon_stop
	daemon_conf
	# a state_dir of its own: a new database numbers jobs from 1 again,
	# and job 1's log directory of the main daemon is another user's
	mkdir -p "$E2E_DIR/disk-state"
	sed -i -e "s|^database: .*|database: $DISK_DIR/llmctld.db|" \
	    -e "s|^state_dir: .*|state_dir: $E2E_DIR/disk-state|" \
	    "$E2E_DIR/llmctld.conf"
	"$LLMCTLD_BIN" -d -f "$E2E_DIR/llmctld.conf" \
	    >>"$E2E_DIR/llmctld.log" 2>&1 &
	echo $! >"$E2E_DIR/llmctld.pid"
	for _ in $(seq 100); do
		[ -S "$SOCK" ] && llmctl status >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	fail "llmctld did not start on the tmpfs"
}

# slurm_jobs TAG [STATE]: how many Slurm jobs carry the attempt's tag
slurm_jobs() {
	squeue -h -t "${2:-all}" -o '%k' | grep -c "llmctl:$1" || true
}

# A job runs while the disk fills: submits fail with the clear error and
# store nothing, status answers, the running job is neither lost nor
# doubled, and it ends while nothing can be written. Once the filler is
# gone the daemon heals by itself (writes work, the WAL is checkpointed and
# truncated) and the job ends COMPLETED, on one attempt and one Slurm job.
test_d1_full_disk() {
	local id tag pid err big refused=0 acked="" mark wal new st
	trap disk_restore EXIT
	daemon_stop
	mkdir -p "$DISK_DIR"
	mount -t tmpfs -o size=4m,mode=0700 llmctl-e2e-disk "$DISK_DIR" ||
	    { fail "cannot mount a tmpfs"; return 1; }
	mark=$(wc -l <"$E2E_DIR/llmctld.log")
	disk_daemon_start
	pid=$(cat "$E2E_DIR/llmctld.pid")
	id=$(usubmit "$(spec d_through 1 1 "sleep 12")")
	wait_state "$id" RUNNING 60
	tag=$(attempt_field "$id" 1 tag)

	dd if=/dev/zero of="$DISK_DIR/filler" bs=4k 2>/dev/null || true
	# specs of ~30 KB, so that what SQLite had allocated fills up too
	big=$(head -c 30000 /dev/zero | tr '\0' x)
	printf '%s\n' "version: 1" "name: d_big" "command: sleep 1" \
	    "workdir: $SHARED" "resources: {nodes: 1, gpus_per_node: 1}" \
	    "recovery: {max_restarts: 0}" "env: {PAD: $big}" \
	    >"$E2E_DIR/d_big.yaml"
	chmod 644 "$E2E_DIR/d_big.yaml"
	err=$E2E_DIR/d_big.err
	for _ in $(seq 10); do
		if new=$(cd "$SHARED" && ullmctl submit "$E2E_DIR/d_big.yaml" \
		    2>"$err"); then
			acked="$acked $new"
			continue
		fi
		grep -q "cannot record the job (is the disk full?); nothing was submitted" \
		    "$err" || fail "unclear error: $(cat "$err")"
		refused=$((refused + 1))
	done
	[ "$refused" -gt 0 ] || fail "no submit failed on a full disk"
	kill -0 "$pid" 2>/dev/null || fail "llmctld died on a full disk"
	[ "$(job_field "$id" state)" = RUNNING ] ||
	    fail "job $id is $(job_field "$id" state) on a full disk"
	[ "$(slurm_jobs "$tag")" = 1 ] ||
	    fail "tag $tag on $(slurm_jobs "$tag") Slurm jobs"

	# the job ends in Slurm while nothing can be written
	for _ in $(seq 120); do
		[ "$(slurm_jobs "$tag" CD)" = 1 ] && break
		sleep 0.25
	done
	[ "$(slurm_jobs "$tag" CD)" = 1 ] || fail "the Slurm job did not complete"
	sleep 3 # a few ticks that cannot record it
	kill -0 "$pid" 2>/dev/null || fail "llmctld died on a full disk"
	# nothing is shown as done that is not stored
	st=$(job_field "$id" state)
	[ "$st" = RUNNING ] || [ "$st" = "$(sqlite3 "$DISK_DIR/llmctld.db" \
	    "SELECT state FROM jobs WHERE id = $id")" ] ||
	    fail "job $id shown $st, not stored so"
	llmctl status >/dev/null || fail "status failed on a full disk"
	[ "$(slurm_jobs "$tag")" = 1 ] ||
	    fail "tag $tag on $(slurm_jobs "$tag") Slurm jobs"

	rm -f "$DISK_DIR/filler"
	for _ in $(seq 120); do
		tail -n +"$mark" "$E2E_DIR/llmctld.log" |
		    grep -q "store: writes work again" && break
		sleep 0.25
	done
	tail -n +"$mark" "$E2E_DIR/llmctld.log" |
	    grep -q "store: writes work again" ||
	    fail "no \"store: writes work again\" within 30 s of freeing space"
	wal=$(stat -c %s "$DISK_DIR/llmctld.db-wal" 2>/dev/null || echo 0)
	[ "$wal" -le 1048576 ] || fail "the WAL kept $wal bytes"
	new=$(usubmit "$(spec d_after 1 1 true)") ||
	    fail "submit failed after space came back"
	acked="$acked $new"

	wait_state "$id" COMPLETED 60
	[ "$(job_field "$id" attempt)" = 1 ] ||
	    fail "job $id: $(job_field "$id" attempt) attempts"
	[ "$(slurm_jobs "$tag")" = 1 ] ||
	    fail "tag $tag on $(slurm_jobs "$tag") Slurm jobs"
	for new in $acked; do
		wait_state "$new" COMPLETED 90
	done
	[ "$(sqlite3 "$DISK_DIR/llmctld.db" "SELECT count(*) FROM jobs \
	    WHERE name IN ('d_big', 'd_after')")" = "$(echo $acked | wc -w)" ] ||
	    fail "the store holds another number of jobs than acknowledged"
	[ "$(sqlite3 "$DISK_DIR/llmctld.db" 'PRAGMA integrity_check')" = ok ] ||
	    fail "integrity_check"
	echo "    $refused of 10 submits refused on the full disk," \
	    "WAL $wal bytes after healing"
}

# Sourced by the benchmarks that run a real llmctld on their cluster.
# bench_daemon DIR BUILD: llmctld of BUILD in DIR (made afresh), polling
# Slurm each second and not re-planning within a run, on SLURM_CONF; its
# pid in $! as for any background job, its socket DIR/sock.
bench_daemon() {
	local D=$1 B=$2
	rm -rf "$D"
	mkdir -p "$D"
	cat >"$D/d.conf" <<CONF
socket: $D/sock
database: $D/state/db
state_dir: $D/state
slurm_conf: $SLURM_CONF
poll_interval: 1
replan_after: 1h
log_level: warn
CONF
	"$B/daemon/llmctld" -d -f "$D/d.conf" 2>"$D/d.log" &
}

#!/bin/sh
# preflight-gpu: llmctl's default preflight for GPU nodes (llmctl-job(5),
# health.preflight; docs/design.md section 8). Run once per node before
# the workers; exit 1 with one line per problem when the node should not
# be used, 0 otherwise. Each check runs only where its tool exists and
# says "skipped" where it does not, so the script is safe on any node.
#
#   GPU count and visibility   nvidia-smi -L: the driver answers, at least
#                              $SLURM_GPUS_ON_NODE GPUs (exactly
#                              $PREFLIGHT_GPUS when set), and every index
#                              in $CUDA_VISIBLE_DEVICES exists
#   ECC                        no uncorrected volatile ECC errors, no
#                              retired pages pending (a reset is due)
#   Xid                        none of $PREFLIGHT_XIDS in dmesg (default:
#                              48 DBE, 63/64 row remap, 74 NVLink, 79 off
#                              the bus, 94/95 ECC, 119/120 GSP)
#
# PREFLIGHT_NVIDIA_SMI and PREFLIGHT_DMESG name the tools (tests).
smi=${PREFLIGHT_NVIDIA_SMI:-nvidia-smi}
dmesg_cmd=${PREFLIGHT_DMESG:-dmesg}
xids=${PREFLIGHT_XIDS:-48 63 64 74 79 94 95 119 120}
host=${SLURMD_NODENAME:-$(hostname)}
bad=0

problem() {
	echo "preflight-gpu: $host: $*" >&2
	bad=1
}

skipped() {
	echo "preflight-gpu: $host: skipped $*"
}

if ! command -v "$smi" >/dev/null 2>&1; then
	skipped "GPU, ECC checks: no $smi"
else
	if ! list=$("$smi" -L 2>&1); then
		problem "$smi -L failed: $(echo "$list" | head -1)"
	else
		count=$(echo "$list" | grep -c '^GPU [0-9]')
		want=${SLURM_GPUS_ON_NODE:-0}
		case $want in *[!0-9]*|'') want=0 ;; esac
		if [ -n "${PREFLIGHT_GPUS:-}" ] && [ "$count" -ne "$PREFLIGHT_GPUS" ]; then
			problem "$count GPUs visible to the driver, expected $PREFLIGHT_GPUS"
		elif [ "$count" -lt "$want" ]; then
			problem "$count GPUs visible to the driver, the job has $want"
		fi
		for i in $(echo "${CUDA_VISIBLE_DEVICES:-}" | tr ',' ' '); do
			case $i in *[!0-9]*) continue ;; esac # UUIDs: not checked
			echo "$list" | grep -q "^GPU $i:" ||
			    problem "CUDA_VISIBLE_DEVICES names GPU $i, which the driver does not list"
		done
		ecc=$("$smi" --query-gpu=index,ecc.errors.uncorrected.volatile.total,retired_pages.pending \
		    --format=csv,noheader,nounits 2>/dev/null) || ecc=""
		[ -n "$ecc" ] || skipped "ECC check: $smi gave no ECC counters"
		echo "$ecc" | while IFS=, read -r idx unc pending; do
			[ -n "$idx" ] || continue
			unc=$(echo "$unc" | tr -d ' ') pending=$(echo "$pending" | tr -d ' ')
			case $unc in ''|*[!0-9]*) ;; 0) ;; *)
				echo "GPU $idx has $unc uncorrected ECC errors" ;;
			esac
			[ "$pending" != Yes ] || echo "GPU $idx has retired pages pending (reset it)"
		done > "${TMPDIR:-/tmp}/preflight-gpu.$$"
		while read -r line; do
			problem "$line"
		done < "${TMPDIR:-/tmp}/preflight-gpu.$$"
		rm -f "${TMPDIR:-/tmp}/preflight-gpu.$$"
	fi
fi

if ! command -v "$dmesg_cmd" >/dev/null 2>&1; then
	skipped "Xid check: no $dmesg_cmd"
elif ! log=$("$dmesg_cmd" 2>/dev/null); then
	skipped "Xid check: $dmesg_cmd not readable here"
else
	for x in $xids; do
		hit=$(echo "$log" | grep -E "NVRM: Xid \([^)]*\): $x," | tail -1)
		[ -z "$hit" ] || problem "Xid $x in the kernel log: $hit"
	done
fi
exit $bad

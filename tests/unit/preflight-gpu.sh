#!/bin/sh
# preflight-gpu.sh against stand-in nvidia-smi and dmesg: a healthy node
# passes, each broken thing fails with its line, missing tools are skipped.
top=$(cd "$(dirname "$0")/../.." && pwd)
script=$top/conf/preflight-gpu.sh
dir=$(mktemp -d) || exit 1
trap 'rm -rf "$dir"' EXIT
fails=0

cat > "$dir/nvidia-smi" <<'SMI'
#!/bin/sh
[ -z "$FAKE_SMI_FAIL" ] || { echo "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver"; exit 9; }
case $1 in
-L)
	i=0
	while [ "$i" -lt "${FAKE_GPUS:-8}" ]; do
		echo "GPU $i: NVIDIA H100 80GB HBM3 (UUID: GPU-$i)"
		i=$((i + 1))
	done ;;
--query-gpu=*)
	i=0
	while [ "$i" -lt "${FAKE_GPUS:-8}" ]; do
		unc=0 pend=No
		[ "$i" != "${FAKE_ECC_GPU:-x}" ] || unc=3
		[ "$i" != "${FAKE_PENDING_GPU:-x}" ] || pend=Yes
		echo "$i, $unc, $pend"
		i=$((i + 1))
	done ;;
esac
SMI
cat > "$dir/dmesg" <<'DM'
#!/bin/sh
[ -z "$FAKE_DMESG_DENIED" ] || { echo "dmesg: read kernel buffer failed: Operation not permitted" >&2; exit 1; }
echo "[    1.0] Linux version 6.1"
[ -z "$FAKE_XID" ] || echo "[ 4242.1] NVRM: Xid (PCI:0000:3b:00): $FAKE_XID, pid=1234, name=python, Ch 00000008"
DM
chmod 755 "$dir/nvidia-smi" "$dir/dmesg"

# check NAME WANT_STATUS PATTERN [VAR=VALUE...]
check() {
	name=$1 want=$2 pat=$3
	shift 3
	out=$(env PREFLIGHT_NVIDIA_SMI="$dir/nvidia-smi" PREFLIGHT_DMESG="$dir/dmesg" \
	    SLURMD_NODENAME=gpu7 "$@" /bin/sh "$script" 2>&1)
	rc=$?
	if [ "$rc" != "$want" ] || ! echo "$out" | grep -qE -- "$pat"; then
		echo "FAIL $name: exit $rc (want $want), output:"
		echo "$out" | sed 's/^/    /'
		fails=$((fails + 1))
	else
		echo "ok $name"
	fi
}

check healthy 0 '^$' SLURM_GPUS_ON_NODE=8 CUDA_VISIBLE_DEVICES=0,1,2,3,4,5,6,7
check "gpu missing" 1 'gpu7: 7 GPUs visible to the driver, the job has 8' FAKE_GPUS=7 SLURM_GPUS_ON_NODE=8
check "count expected" 1 '7 GPUs visible to the driver, expected 8' FAKE_GPUS=7 PREFLIGHT_GPUS=8
check "invisible index" 1 'CUDA_VISIBLE_DEVICES names GPU 9' CUDA_VISIBLE_DEVICES=1,9
check "driver down" 1 'nvidia-smi -L failed: NVIDIA-SMI has failed' FAKE_SMI_FAIL=1
check ecc 1 'GPU 5 has 3 uncorrected ECC errors' FAKE_ECC_GPU=5
check "pages pending" 1 'GPU 2 has retired pages pending' FAKE_PENDING_GPU=2
check "xid 79" 1 'Xid 79 in the kernel log: .*NVRM: Xid \(PCI:0000:3b:00\): 79,' FAKE_XID=79
check "xid 13 is not fatal" 0 '^$' FAKE_XID=13
check "dmesg denied" 0 'skipped Xid check: .* not readable here' FAKE_DMESG_DENIED=1 FAKE_XID=79
check "no tools" 0 'skipped GPU, ECC checks: no /nonexistent/nvidia-smi' \
    PREFLIGHT_NVIDIA_SMI=/nonexistent/nvidia-smi PREFLIGHT_DMESG=/nonexistent/dmesg
check "no tools: xid skipped" 0 'skipped Xid check: no /nonexistent/dmesg' \
    PREFLIGHT_NVIDIA_SMI=/nonexistent/nvidia-smi PREFLIGHT_DMESG=/nonexistent/dmesg
[ "$fails" = 0 ]

#!/bin/sh
# plan-bench.sh: the planner's speed and switch counts on fragmented
# clusters, next to Slurm's own choice (topology/tree, sbatch --test-only)
# on the same fragmentation when this host can run a private cluster.
#
# usage: tests/bench/plan-bench.sh [BUILDDIR]
# env: SEEDS (10) fragmentations, REPS (20) timed runs each, BUSY (0.9)
# the most a leaf is busy, SIZES (8,...,512) job sizes in nodes, SLURM=0
# skips Slurm, BIG=0 skips the 16,384-node cluster.
set -eu

top=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$top}" && pwd)
SEEDS=${SEEDS:-10}
REPS=${REPS:-20}
BUSY=${BUSY:-0.9}
SIZES=${SIZES:-8,16,32,64,128,256,512}
cluster=$top/tests/cluster/slurm-cluster

make -C "$build" tests/bench/plan-bench >/dev/null
bench=$build/tests/bench/plan-bench

dir=
cleanup() {
	if [ -n "$dir" ]; then
		"$cluster" stop "$dir" >/dev/null 2>&1 || :
		rm -rf "$dir"
	fi
}
trap cleanup EXIT INT TERM

conf=
choices=
if [ "${SLURM:-1}" = 1 ] && [ "$(id -u)" = 0 ] && [ -x "$cluster" ] &&
    command -v sbatch >/dev/null 2>&1; then
	dir=$(mktemp -d /tmp/plan-bench.XXXXXX)
	"$cluster" start "$dir" --nodes 0 --cloud 2048 --nodes-per-leaf 32 \
	    --leaves-per-spine 8 >/dev/null 2>&1
	export SLURM_CONF="$dir/etc/slurm.conf"
	conf=$dir/etc/topology.conf
	choices=$dir/choices
	: >"$choices"
	seed=1
	while [ "$seed" -le "$SEEDS" ]; do
		scontrol update NodeName='c[1-2048]' State=UNDRAIN
		busy=$("$bench" frag "$conf" "$seed" "$BUSY")
		if [ -n "$busy" ]; then
			scontrol update NodeName="$busy" State=DRAIN \
			    Reason=plan-bench
		fi
		for n in $(echo "$SIZES" | tr , ' '); do
			out=$(sbatch --test-only -N "$n" --exclusive \
			    --wrap true 2>&1 || :)
			list=$(echo "$out" |
			    sed -n 's/.* on nodes \([^ ]*\) in partition.*/\1/p')
			echo "$seed $n ${list:--}" >>"$choices"
		done
		seed=$((seed + 1))
	done
else
	echo "(Slurm's choice skipped: needs root, sbatch and" \
	    "tests/cluster/slurm-cluster)"
fi

echo "## 2,048 nodes: 64 leaves x 32 nodes, 8 spines, core"
echo
"$bench" run ${conf:+-c "$conf"} -g 64:32:8 -s "$SEEDS" -r "$REPS" \
    -b "$BUSY" -j "$SIZES" ${choices:+-S "$choices"}
if [ "${BIG:-1}" = 1 ]; then
	echo
	echo "## 16,384 nodes: 512 leaves x 32 nodes, 64 spines, core"
	echo
	"$bench" run -g 512:32:64 -s "$SEEDS" -r "$REPS" -b "$BUSY" \
	    -j "$SIZES,1024,2048"
fi

#!/bin/sh
# llmctl plan --cluster on a snapshot whose switches and nodes are named with
# several bracket groups, as Slurm's topology.conf allows
# ("rack[1-2]-n[01-02]", "r[3-4]n[1-2]"): the planner sees the whole switch
# tree and places by it. No daemon; runs from the build directory.
LLMCTL=${LLMCTL:-$(pwd)/cli/llmctl}
[ -x "$LLMCTL" ] || { echo "FAIL: $LLMCTL not built"; exit 1; }
tmp=$(mktemp -d /tmp/llmctl-plan-hl.XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1
fails=0

# leaf0 has three free nodes, leaf1 two: a 2-node job fits leaf1 exactly.
cat >snap.yaml <<'YAML'
version: 1
switches:
  - { name: spine0, switches: "leaf[0-1]" }
  - { name: leaf0, nodes: "rack[1-2]-n[01-02]" }
  - { name: leaf1, nodes: "r[3-4]n[1-2]" }
nodes:
  - { names: "rack[1-2]-n[01-02],r[3-4]n[1-2]", gpus: 4 }
  - { names: "rack1-n01", state: allocated }
  - { names: "r3n[1-2]", free_gpus: 0 }
YAML
cat >tp.yaml <<'YAML'
version: 1
name: tp
command: ./train
resources:
  nodes: 2
  gpus_per_node: 4
parallel:
  tensor: 2
  pipeline: 2
YAML
sed 's/nodes: 2/nodes: 4/' tp.yaml >tp4.yaml

# check NAME SPEC WANT: plan --cluster prints exactly WANT and exits 0.
check() {
	"$LLMCTL" --socket "$tmp/none.sock" plan --cluster snap.yaml "$2" \
	    >out 2>err
	rc=$?
	if [ $rc -ne 0 ] || [ "$(cat out)" != "$3" ]; then
		echo "FAIL: $1 (exit $rc)"
		echo "  stdout: $(cat out)"
		echo "  stderr: $(cat err)"
		fails=$((fails + 1))
	else
		echo "ok: $1"
	fi
}
check "2 nodes on the leaf of r[3-4]n[1-2]" tp.yaml "$(cat <<'OUT'
world size 8 (tp 2, pp 2, dp 2), 2 nodes x 4 ranks, policy pack
spine0
  leaf1
    r4n1   ranks 0-3   gpus 0-3   tp 0-1 pp 0-1 dp 0
    r4n2   ranks 4-7   gpus 0-3   tp 0-1 pp 0-1 dp 1
levels spanned 1, leaf switches 1, ring leaf crossings 0
OUT
)"
check "4 nodes: rack[1-2]-n[01-02] less rack1-n01, then leaf1" tp4.yaml \
    "$(cat <<'OUT'
world size 16 (tp 2, pp 2, dp 4), 4 nodes x 4 ranks, policy pack
spine0
  leaf0
    rack1-n02   ranks 0-3     gpus 0-3   tp 0-1 pp 0-1 dp 0
    rack2-n01   ranks 4-7     gpus 0-3   tp 0-1 pp 0-1 dp 1
    rack2-n02   ranks 8-11    gpus 0-3   tp 0-1 pp 0-1 dp 2
  leaf1
    r4n1        ranks 12-15   gpus 0-3   tp 0-1 pp 0-1 dp 3
levels spanned 2, leaf switches 2, ring leaf crossings 2
OUT
)"
# A bad group still gets its file:line:col.
sed 's/r\[3-4\]n\[1-2\]"/r[3-4]n[2-1]"/' snap.yaml >bad.yaml
if "$LLMCTL" --socket "$tmp/none.sock" plan --cluster bad.yaml tp.yaml \
    >out 2>err; then
	echo "FAIL: a backwards range was accepted"
	fails=$((fails + 1))
elif ! grep -q '^bad.yaml:5:[0-9]*: switches\[2\]: range 2-1 goes backwards' err
then
	echo "FAIL: backwards range: $(cat err)"
	fails=$((fails + 1))
else
	echo "ok: a backwards range in the second group is refused with its line"
fi
[ $fails -eq 0 ]

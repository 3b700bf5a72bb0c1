#!/bin/bash
# demo.sh: on a fresh Debian 12 machine, as root: install what is missing,
# build, start a private 4-node Slurm cluster and llmctld on loopback,
# submit conf/examples/hello.yaml and follow it to the end. The cluster and
# the daemon stay up afterwards; the last lines say how to use and stop them.
set -euo pipefail
cd "$(dirname "$0")"
TOP=$(pwd)
DEMO=${LLMCTL_DEMO_DIR:-/var/tmp/llmctl-demo}

tests/setup-deps.sh
[ -x configure ] && [ configure -nt configure.ac ] || autoreconf -fi
mkdir -p _build
(cd _build && { [ -f Makefile ] || ../configure; } && make -j"$(nproc)" >/dev/null)

mkdir -p "$DEMO"
echo "== starting the private Slurm cluster in $DEMO/cluster"
line=$(tests/cluster/slurm-cluster start "$DEMO/cluster" --nodes 4 --gpus 8 --nodes-per-leaf 2)
export "${line?}"

echo "== starting llmctld"
if [ -f "$DEMO/llmctld.pid" ] && kill "$(cat "$DEMO/llmctld.pid")" 2>/dev/null; then
	sleep 1
fi
cat > "$DEMO/llmctld.conf" <<CONF
socket: $DEMO/llmctld.sock
database: $DEMO/state/llmctld.db
state_dir: $DEMO/state
slurm_conf: $SLURM_CONF
poll_interval: 1
heartbeat_listen: 127.0.0.1:6826
CONF
"$TOP/_build/daemon/llmctld" -d -f "$DEMO/llmctld.conf" >> "$DEMO/llmctld.log" 2>&1 &
echo $! > "$DEMO/llmctld.pid"
export LLMCTL_SOCKET=$DEMO/llmctld.sock
llmctl() { "$TOP/_build/cli/llmctl" "$@"; }
for _ in $(seq 50); do llmctl status >/dev/null 2>&1 && break; sleep 0.1; done

echo "== llmctl submit conf/examples/hello.yaml"
id=$(llmctl submit conf/examples/hello.yaml)
echo "job $id"
state=""
for _ in $(seq 240); do
	state=$(llmctl status -o json "$id" | sed -n 's/^  "state": "\(.*\)",$/\1/p')
	case $state in COMPLETED|FAILED|CANCELLED) break ;; esac
	sleep 0.5
done
echo "== llmctl status $id"
llmctl status "$id"
echo "== rank output"
for f in "$DEMO"/state/logs/"$id"/1/rank-*.out; do
	sed "s|^|$(basename "$f" .out): |" "$f"
done
[ "$state" = COMPLETED ] || { echo "hello ended $state" >&2; exit 1; }

# The DDP example, as an ordinary user: PyTorch DistributedDataParallel on
# 2 nodes x 2 (fake) GPUs with gloo, checkpoints in a directory that user owns.
id -u llmdemo >/dev/null 2>&1 || useradd --system --no-create-home --shell /bin/sh llmdemo
work=$DEMO/ddp
rm -rf "$work"
mkdir -p "$work"
cp conf/examples/train_ddp.py conf/examples/llmctl_heartbeat.py "$work/"
sed -e "s|^command: .*|command: /usr/bin/python3 train_ddp.py --steps 40 --checkpoint-every 10|" \
    -e "s|^  dir: .*|  dir: $work/checkpoints|" conf/examples/ddp.yaml > "$work/ddp.yaml"
chown -R llmdemo "$work"
as_user() { (cd "$work" && runuser -u llmdemo -- "$TOP/_build/cli/llmctl" "$@"); }
echo
echo "== llmctl plan ddp.yaml (as llmdemo: where the ranks would go now)"
as_user plan ddp.yaml
echo "== llmctl submit ddp.yaml"
ddp=$(as_user submit ddp.yaml)
echo "job $ddp"
for _ in $(seq 600); do
	state=$(llmctl status -o json "$ddp" | sed -n 's/^  "state": "\(.*\)",$/\1/p')
	case $state in COMPLETED|FAILED|CANCELLED) break ;; esac
	sleep 0.5
done
echo "== llmctl status $ddp"
as_user status "$ddp"
echo "== llmctl checkpoints $ddp"
as_user checkpoints "$ddp"
echo "== llmctl logs --tail 4 (rank 0 and rank 3)"
as_user logs --tail 4 "$ddp"
as_user logs --tail 4 --rank 3 "$ddp"
echo
echo "The cluster and llmctld are still running. To use them:"
echo "  export SLURM_CONF=$SLURM_CONF LLMCTL_SOCKET=$LLMCTL_SOCKET"
echo "  $TOP/_build/cli/llmctl status"
echo "To stop them:"
echo "  kill \$(cat $DEMO/llmctld.pid); $TOP/tests/cluster/slurm-cluster stop $DEMO/cluster"
[ "$state" = COMPLETED ]

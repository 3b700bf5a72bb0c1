#!/usr/bin/env python3
"""train_ddp.py: a small, real DistributedDataParallel job for llmctl.

It is also documentation: it shows everything a trainer does to cooperate
with llmctld (see llmctl-job(5) and docs/design.md sections 3 and 8).

  * Rendezvous through the PyTorch variables MASTER_ADDR, MASTER_PORT, RANK,
    WORLD_SIZE, LOCAL_RANK.  llmctl sets them for `launcher: srun`; torchrun
    sets them itself for `launcher: torchrun`.  Run alone, it is one rank.
  * Checkpoints into $LLMCTL_CHECKPOINT_DIR as step_<N>/ holding model.pt and
    MANIFEST.sha256, built in .step_<N>.tmp, renamed into place, and then the
    COMPLETE marker, written last.
  * Resumes from $LLMCTL_RESUME_FROM (a step_<N> directory) at step N+1.
  * One heartbeat per step to $LLMCTL_HEARTBEAT_URL (if set), from a thread
    over one kept-alive connection (llmctl_heartbeat.py, next to this file),
    so a slow or missing endpoint never slows or stops training.
  * Mixed precision (autocast: bfloat16 on CPU, float16 with a GradScaler on
    CUDA), gradient accumulation over --accum micro-batches (DDP all-reduces
    only on the last, no_sync() before), and a learning-rate schedule (linear
    warm-up, then cosine decay); the checkpoint holds the optimizer, scaler
    and scheduler state, so a resumed run continues exactly where it was.
  * SIGUSR1 (the time-limit warning, if the spec asks for it with
    `warning: {signal: USR1}`): checkpoint after the current step and go
    on.  SIGTERM: stop after the current step and exit 143; if a peer is hung
    and this rank is stuck in a collective, exit anyway after --term-grace s.

The model: a 2-layer MLP fitted to a synthetic regression problem drawn from a
fixed seed.  Every rank builds the same data and the same initial weights; at
step s each rank takes its slice of that step's global batch, so a resumed run
follows exactly the trajectory of an uninterrupted one (same final checksum).
loss_first/loss_last are the held-out loss before this run's first step and
after its last one, identical on every rank.  Gloo on CPU.

  torchrun --standalone --nproc_per_node 4 train_ddp.py --steps 60
"""
import argparse, contextlib, hashlib, json, math, os, shutil, signal, socket
import sys, threading
import time

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel as DDP

# one kept-alive connection to llmctld (next to this file)
from llmctl_heartbeat import Heartbeat

SEED, N_TRAIN, N_EVAL, D_IN, HIDDEN, BATCH_PER_RANK = 1234, 4096, 512, 16, 64, 32


def log(msg):
    sys.stdout.write(msg + "\n")       # one write: lines of ranks sharing a
    sys.stdout.flush()                  # pipe never interleave


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, default=60, help="last step to run")
    p.add_argument("--checkpoint-every", type=int, default=10, metavar="K",
                   help="checkpoint every K steps and at the end (0: only at the end)")
    p.add_argument("--sleep", type=float, default=0.0, metavar="S",
                   help="sleep S seconds per step (makes tests last long enough)")
    p.add_argument("--lr", type=float, default=0.01, help="peak learning rate")
    p.add_argument("--warmup", type=int, default=5, metavar="N",
                   help="steps of linear warm-up before the cosine decay")
    p.add_argument("--accum", type=int, default=2, metavar="K",
                   help="micro-batches per step (gradient accumulation)")
    p.add_argument("--precision", choices=("bf16", "fp16", "fp32"), default="bf16",
                   help="autocast dtype (fp16 needs CUDA and uses a GradScaler)")
    p.add_argument("--fail-at-step", type=int, default=0, metavar="N",
                   help="rank 0 exits 1 when it reaches step N (not when resumed past N)")
    p.add_argument("--fail-attempt", type=int, default=0, metavar="A",
                   help="with --fail-at-step: fail only in LLMCTL_ATTEMPT A (0: every attempt)")
    p.add_argument("--term-grace", type=float, default=15.0, metavar="S",
                   help="after SIGTERM, exit 143 within S seconds even if stuck in a collective")
    return p.parse_args()


# ---------------------------------------------------------------- signals
class Signals:
    """SIGUSR1 and SIGTERM, noticed even while the main thread is blocked.

    Python runs signal handlers only between bytecodes of the main thread, so a
    rank stuck in a gloo collective (because a peer hangs) would never see them.
    set_wakeup_fd makes the C-level handler write the signal number to a socket
    that a helper thread reads; that thread sets the flags, and after SIGTERM
    arms a timer that ends the process if the step does not finish in time."""

    def __init__(self, grace):
        self.checkpoint = False     # SIGUSR1 seen: checkpoint after this step
        self.stop = False           # SIGTERM seen: stop after this step
        self.grace = grace
        rd, wr = socket.socketpair()
        wr.setblocking(False)
        self._keep = (rd, wr)
        for sig in (signal.SIGUSR1, signal.SIGTERM):
            signal.signal(sig, lambda signum, frame: None)   # flags set below
        signal.set_wakeup_fd(wr.fileno(), warn_on_full_buffer=False)
        threading.Thread(target=self._watch, args=(rd,), daemon=True).start()

    def _watch(self, rd):
        while True:
            for signum in rd.recv(64):
                if signum == signal.SIGUSR1:
                    log("got SIGUSR1: checkpoint after this step")
                    self.checkpoint = True
                elif signum == signal.SIGTERM and not self.stop:
                    log("got SIGTERM: stopping after this step")
                    self.stop = True
                    t = threading.Timer(self.grace, self._force_exit)
                    t.daemon = True
                    t.start()

    def _force_exit(self):
        log("still running %.0fs after SIGTERM (stuck in a collective?): exit 143"
            % self.grace)
        os._exit(143)


# ---------------------------------------------------------------- checkpoints
def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fsync_path(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def save_checkpoint(ckdir, step, model, opt, sched, scaler, rank):
    """Rank 0 writes step_<step>/ (DDP keeps every replica identical); the
    others wait at the barrier so nobody runs ahead of a checkpoint."""
    if rank == 0:
        final = os.path.join(ckdir, "step_%d" % step)
        tmp = os.path.join(ckdir, ".step_%d.tmp" % step)
        shutil.rmtree(tmp, ignore_errors=True)
        os.makedirs(tmp)
        torch.save({"step": step, "model": model.state_dict(),
                    "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                    "scaler": scaler.state_dict()}, os.path.join(tmp, "model.pt"))
        with open(os.path.join(tmp, "MANIFEST.sha256"), "w") as f:
            f.write("%s  model.pt\n" % sha256(os.path.join(tmp, "model.pt")))
        for name in ("model.pt", "MANIFEST.sha256"):
            fsync_path(os.path.join(tmp, name))
        if os.path.exists(final):       # e.g. a corrupt one we resumed behind
            old = os.path.join(ckdir, ".step_%d.old" % step)
            shutil.rmtree(old, ignore_errors=True)
            os.rename(final, old)
            shutil.rmtree(old, ignore_errors=True)
            log("replacing existing step_%d" % step)
        os.rename(tmp, final)
        with open(os.path.join(final, "COMPLETE"), "w") as f:   # last
            f.write("step %d\n" % step)
            f.flush()
            os.fsync(f.fileno())
        fsync_path(final)
        fsync_path(ckdir)
        log("checkpoint step=%d path=%s" % (step, final))
    dist.barrier()


def load_checkpoint(path, model, opt, sched, scaler):
    """Every rank reads the checkpoint (it must be on a shared filesystem) and
    checks the manifest first: a damaged checkpoint is an error, not a guess."""
    with open(os.path.join(path, "MANIFEST.sha256")) as f:
        for line in f:
            digest, name = line.rstrip("\n").split("  ", 1)
            if sha256(os.path.join(path, name)) != digest:
                sys.exit("train_ddp: %s/%s does not match MANIFEST.sha256" % (path, name))
    state = torch.load(os.path.join(path, "model.pt"))
    model.load_state_dict(state["model"])
    opt.load_state_dict(state["optimizer"])
    if "scheduler" in state:            # checkpoints of older versions lack them
        sched.load_state_dict(state["scheduler"])
        scaler.load_state_dict(state["scaler"])
    return state["step"]


def lr_lambda(warmup, steps):
    """Linear warm-up to the peak, then cosine decay to a tenth of it."""
    def f(i):                           # i: optimizer steps taken so far
        if i < warmup:
            return (i + 1) / warmup
        t = min(1.0, (i - warmup) / max(1, steps - warmup))
        return 0.1 + 0.45 * (1 + math.cos(math.pi * t))
    return f


# ---------------------------------------------------------------- data, model
def make_data():
    """The same synthetic problem on every rank: y = sin(x A) b + noise."""
    g = torch.Generator().manual_seed(SEED)
    a = torch.randn(D_IN, 8, generator=g) / D_IN ** 0.5   # smooth enough to learn
    b = torch.randn(8, 1, generator=g)
    x = torch.randn(N_TRAIN + N_EVAL, D_IN, generator=g)
    y = torch.sin(x @ a) @ b + 0.05 * torch.randn(N_TRAIN + N_EVAL, 1, generator=g)
    return x[:N_TRAIN], y[:N_TRAIN], x[N_TRAIN:], y[N_TRAIN:]


def rank_batch(step, rank, world, x, y):
    """Step s's global batch is a seeded draw; rank r takes slice r of it."""
    g = torch.Generator().manual_seed(SEED + step)
    idx = torch.randint(0, N_TRAIN, (BATCH_PER_RANK * world,), generator=g)
    mine = idx[rank * BATCH_PER_RANK:(rank + 1) * BATCH_PER_RANK]
    return x[mine], y[mine]


def main():
    args = parse_args()
    # Alone (no launcher): a world of one on a free local port.
    if "WORLD_SIZE" not in os.environ:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        os.environ.update(RANK="0", WORLD_SIZE="1", MASTER_ADDR="127.0.0.1",
                          MASTER_PORT=str(port))
    if "OMP_NUM_THREADS" not in os.environ:
        torch.set_num_threads(1)        # many ranks share few cores
    sig = Signals(args.term_grace)
    dist.init_process_group("gloo", init_method="env://")
    rank, world = dist.get_rank(), dist.get_world_size()
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    host = os.environ.get("SLURMD_NODENAME") or socket.gethostname()
    sizes = "/".join(os.environ.get("LLMCTL_%s_SIZE" % k, d)
                     for k, d in (("TP", "1"), ("PP", "1"), ("DP", str(world))))

    torch.manual_seed(SEED)             # identical initial weights everywhere
    net = torch.nn.Sequential(torch.nn.Linear(D_IN, HIDDEN), torch.nn.Tanh(),
                              torch.nn.Linear(HIDDEN, 1))
    opt = torch.optim.Adam(net.parameters(), lr=args.lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda(args.warmup, args.steps))
    device = "cuda" if args.precision == "fp16" else "cpu"
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(args.precision)
    scaler = torch.cuda.amp.GradScaler(enabled=args.precision == "fp16")
    start = 1
    resume = os.environ.get("LLMCTL_RESUME_FROM")
    if resume:
        start = load_checkpoint(resume, net, opt, sched, scaler) + 1
    model = DDP(net)                    # also broadcasts rank 0's weights
    log("rank %d/%d host=%s local_rank=%d tp/pp/dp=%s start_step=%d pid=%d"
        % (rank, world, host, local_rank, sizes, start, os.getpid()))
    if resume:
        log("resumed from step %d (%s)" % (start - 1, resume))
    ckdir = os.environ.get("LLMCTL_CHECKPOINT_DIR")
    if ckdir and rank == 0:
        os.makedirs(ckdir, exist_ok=True)
    hb = Heartbeat(rank)
    hb.beat(start - 1)
    x, y, x_eval, y_eval = make_data()

    def eval_loss():                    # held-out loss; same on every rank
        with torch.no_grad():
            return torch.nn.functional.mse_loss(net(x_eval), y_eval).item()

    loss_first = eval_loss()
    attempt = int(os.environ.get("LLMCTL_ATTEMPT", "1"))
    step = start - 1
    for step in range(start, args.steps + 1):
        if (rank == 0 and step == args.fail_at_step
                and args.fail_attempt in (0, attempt)):
            log("failing on purpose at step %d (--fail-at-step)" % step)
            os._exit(1)
        xb, yb = rank_batch(step, rank, world, x, y)
        opt.zero_grad()
        loss = 0.0
        for k, (xm, ym) in enumerate(zip(xb.chunk(args.accum), yb.chunk(args.accum))):
            # DDP all-reduces (averages) gradients on the last micro-batch only
            last = k == args.accum - 1
            with (contextlib.nullcontext() if last else model.no_sync()), \
                    torch.autocast(device, dtype=dtype, enabled=dtype is not None):
                micro = torch.nn.functional.mse_loss(model(xm).float(), ym) / args.accum
            scaler.scale(micro).backward()
            loss += micro.item()
        scaler.step(opt)
        scaler.update()
        sched.step()
        # One small all-reduce per step: the mean loss, and whether any rank
        # got SIGUSR1/SIGTERM, so that all ranks act on it at the same step.
        ctl = torch.tensor([loss, float(sig.checkpoint), float(sig.stop)],
                           dtype=torch.float64)
        dist.all_reduce(ctl)
        log("rank %d step %d loss %.6f" % (rank, step, ctl[0].item() / world))
        if ckdir and (ctl[1] > 0 or step == args.steps or
                      (args.checkpoint_every and step % args.checkpoint_every == 0)):
            sig.checkpoint = False
            save_checkpoint(ckdir, step, net, opt, sched, scaler, rank)
        hb.beat(step)
        if ctl[2] > 0:
            log("rank %d stopped at step %d (SIGTERM)" % (rank, step))
            sys.stdout.flush()
            os._exit(143)
        if args.sleep:
            time.sleep(args.sleep)

    checksum = sum(p.detach().double().sum().item() for p in net.parameters())
    log("rank %d lr=%.6g (the schedule's, after step %d)"
        % (rank, sched.get_last_lr()[0], step))
    log("final rank=%d checksum=%.6f loss_first=%.6f loss_last=%.6f"
        % (rank, checksum, loss_first, eval_loss()))
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main()

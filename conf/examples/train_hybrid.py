#!/usr/bin/env python3
"""train_hybrid.py: tensor x pipeline x data parallelism, by hand, for llmctl.

It is documentation for the rank layout llmctl gives a job (docs/design.md
section 3): with TP tensor-parallel ranks, PP pipeline stages and DP data
replicas, tensor varies fastest, then pipeline, then data:

    rank = (dp * PP + pp) * TP + tp

It builds the TP, PP and DP process groups from that rule, proves them with
collectives, and trains a toy model sharded over them (gloo on CPU):

  * check tp_allreduce   all-reduce of the ranks inside each TP group
  * check tp_one_node    every member of a TP group runs on the same host
  * check pp_chain       a tensor sent stage 0 -> 1 -> ... accumulating ids
  * check dp_allreduce   all-reduce of the replica ids across each DP group
  * training             pipeline stage p holds layer p; its weight's input
                         columns are split over the TP group (partial products
                         all-reduced); activations go forward and gradients
                         back with send/recv; gradients are averaged over DP.

Sizes come from --tp/--pp/--dp or LLMCTL_TP_SIZE/PP_SIZE/DP_SIZE; DP defaults
to WORLD_SIZE / (TP * PP).  Coordinates are computed from RANK; with
`launcher: srun` the LLMCTL_TP_RANK/PP_RANK/DP_RANK that llmctl sets must
agree (exit 2 if not).  Under torchrun they describe the node, not the
process, so there they are only reported.

  LLMCTL_TP_SIZE=2 LLMCTL_PP_SIZE=2 LLMCTL_DP_SIZE=2 \\
      torchrun --standalone --nproc_per_node 8 train_hybrid.py
"""
import argparse, os, socket, sys

import torch
import torch.distributed as dist

SEED, D_IN, HIDDEN, SAMPLES_PER_REPLICA = 4321, 16, 32, 256


def log(msg):
    sys.stdout.write(msg + "\n")       # one write per line: ranks share pipes
    sys.stdout.flush()


def die(msg):
    log("train_hybrid: error: " + msg)
    sys.exit(2)


def size_arg(args, name, default=None):
    v = getattr(args, name) or os.environ.get("LLMCTL_%s_SIZE" % name.upper())
    return int(v) if v else default


# --------------------------------------------------- tensor-parallel autograd
class CopyToTP(torch.autograd.Function):
    """Identity forward; backward all-reduces the gradient over the TP group
    (every TP rank used only its slice of the replicated input)."""
    @staticmethod
    def forward(ctx, x, group):
        ctx.group = group
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        grad = grad.clone()
        dist.all_reduce(grad, group=ctx.group)
        return grad, None


class ReduceFromTP(torch.autograd.Function):
    """Forward all-reduces the partial products; backward is the identity."""
    @staticmethod
    def forward(ctx, x, group):
        x = x.clone()
        dist.all_reduce(x, group=group)
        return x

    @staticmethod
    def backward(ctx, grad):
        return grad, None


class Stage(torch.nn.Module):
    """One pipeline stage: y = act(x W^T + b), W's input columns split over TP.

    The full weight is drawn from a seed that depends only on the stage, so
    every TP rank slices the same matrix and every DP replica starts equal."""

    def __init__(self, stage, n_stages, tp, tp_size, tp_group):
        super().__init__()
        d_in = D_IN if stage == 0 else HIDDEN
        d_out = 1 if stage == n_stages - 1 else HIDDEN
        if d_in % tp_size:
            die("stage %d: %d input features do not split over TP=%d" % (stage, d_in, tp_size))
        g = torch.Generator().manual_seed(SEED + stage)
        full = torch.randn(d_out, d_in, generator=g) / d_in ** 0.5
        self.cols = slice(tp * d_in // tp_size, (tp + 1) * d_in // tp_size)
        self.weight = torch.nn.Parameter(full[:, self.cols].clone())
        self.bias = torch.nn.Parameter(torch.zeros(d_out))   # replicated in TP
        self.last, self.tp_group = stage == n_stages - 1, tp_group

    def forward(self, x):
        x = CopyToTP.apply(x, self.tp_group)[:, self.cols]
        y = ReduceFromTP.apply(x @ self.weight.t(), self.tp_group) + self.bias
        return y if self.last else torch.tanh(y)


def make_batch(dp):
    """Replica dp's fixed shard of a synthetic regression problem."""
    g = torch.Generator().manual_seed(SEED)
    w = torch.randn(D_IN, 1, generator=g) / D_IN ** 0.5
    g.manual_seed(SEED + 1000 + dp)
    x = torch.randn(SAMPLES_PER_REPLICA, D_IN, generator=g)
    return x, torch.tanh(x @ w) + 0.5 * x[:, :1]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--tp", type=int, help="tensor-parallel size (LLMCTL_TP_SIZE)")
    p.add_argument("--pp", type=int, help="pipeline stages (LLMCTL_PP_SIZE)")
    p.add_argument("--dp", type=int, help="data replicas (LLMCTL_DP_SIZE)")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--lr", type=float, default=0.1)
    args = p.parse_args()
    if "OMP_NUM_THREADS" not in os.environ:
        torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method="env://")
    rank, world = dist.get_rank(), dist.get_world_size()
    host = os.environ.get("SLURMD_NODENAME") or socket.gethostname()

    # ---- sizes and coordinates: rank = (dp * PP + pp) * TP + tp
    TP, PP = size_arg(args, "tp", 1), size_arg(args, "pp", 1)
    DP = size_arg(args, "dp", world // (TP * PP) if world % (TP * PP) == 0 else 0)
    if TP * PP * DP != world:
        die("TP=%d x PP=%d x DP=%d does not make WORLD_SIZE=%d" % (TP, PP, DP, world))
    tp, pp, dp = rank % TP, (rank // TP) % PP, rank // (TP * PP)
    assert rank == (dp * PP + pp) * TP + tp
    env = [os.environ.get("LLMCTL_%s_RANK" % k) for k in ("TP", "PP", "DP")]
    if None in env:
        source = "RANK (no LLMCTL_*_RANK)"
    elif [int(v) for v in env] == [tp, pp, dp]:
        source = "RANK, LLMCTL_*_RANK agree"
    elif "TORCHELASTIC_RUN_ID" in os.environ:  # torchrun: one env per node
        source = "RANK (LLMCTL_*_RANK=%s ignored under torchrun)" % "/".join(env)
    else:
        die("rank %d: LLMCTL_TP/PP/DP_RANK=%s but RANK=%d with TP=%d PP=%d gives "
            "tp=%d pp=%d dp=%d (rank = (dp*PP + pp)*TP + tp)"
            % (rank, "/".join(env), rank, TP, PP, tp, pp, dp))

    # ---- groups: every rank creates every group, in the same order
    def rk(d, p_, t):
        return (d * PP + p_) * TP + t
    tp_group = pp_group = dp_group = None
    for d in range(DP):
        for p_ in range(PP):
            ranks = [rk(d, p_, t) for t in range(TP)]
            g = dist.new_group(ranks)
            if rank in ranks:
                tp_group, tp_ranks = g, ranks
    for d in range(DP):
        for t in range(TP):
            ranks = [rk(d, p_, t) for p_ in range(PP)]
            g = dist.new_group(ranks)
            if rank in ranks:
                pp_group, pp_ranks = g, ranks
    for p_ in range(PP):
        for t in range(TP):
            ranks = [rk(d, p_, t) for d in range(DP)]
            g = dist.new_group(ranks)
            if rank in ranks:
                dp_group, dp_ranks = g, ranks
    log("coords rank=%d tp=%d pp=%d dp=%d host=%s tp_group=%s pp_group=%s dp_group=%s"
        % (rank, tp, pp, dp, host, *(str(r).replace(" ", "")
                                       for r in (tp_ranks, pp_ranks, dp_ranks))))
    log("rank %d/%d sizes tp=%d pp=%d dp=%d source=%s" % (rank, world, TP, PP, DP, source))

    def check(name, ok, detail):
        log("check %s %s%s" % (name, "ok" if ok else "FAILED ", "" if ok else detail))
        if not ok:
            sys.exit(1)

    # ---- tp_allreduce: the sum of the ranks in my TP group
    t = torch.tensor([float(rank), 1.0])
    dist.all_reduce(t, group=tp_group)
    check("tp_allreduce", t.tolist() == [float(sum(tp_ranks)), float(TP)],
          "got %s, want [%d, %d]" % (t.tolist(), sum(tp_ranks), TP))

    # ---- tp_one_node: gather host names (as fixed-size byte tensors)
    name = torch.zeros(64, dtype=torch.uint8)
    raw = host.encode()[:64]
    name[:len(raw)] = torch.tensor(list(raw), dtype=torch.uint8)
    names = [torch.zeros_like(name) for _ in range(TP)]
    dist.all_gather(names, name, group=tp_group)
    hosts = [bytes(n.tolist()).rstrip(b"\0").decode() for n in names]
    check("tp_one_node", len(set(hosts)) == 1, "TP group %s on hosts %s" % (tp_ranks, hosts))

    # ---- pp_chain: stage 0 -> 1 -> ... -> last, adding stage id and rank
    chain = torch.zeros(2)
    if pp > 0:
        dist.recv(chain, src=pp_ranks[pp - 1], group=pp_group)
    chain += torch.tensor([float(pp), float(rank)])
    if pp < PP - 1:
        dist.send(chain, dst=pp_ranks[pp + 1], group=pp_group)
    # the last stage tells the whole pipeline what arrived (others add zeros)
    result = chain if pp == PP - 1 else torch.zeros(2)
    dist.all_reduce(result, group=pp_group)
    want = [float(sum(range(PP))), float(sum(pp_ranks))]
    check("pp_chain", result.tolist() == want, "got %s, want %s" % (result.tolist(), want))

    # ---- dp_allreduce: replica ids and ranks across my DP group
    t = torch.tensor([float(dp), float(rank)])
    dist.all_reduce(t, group=dp_group)
    want = [float(sum(range(DP))), float(sum(dp_ranks))]
    check("dp_allreduce", t.tolist() == want, "got %s, want %s" % (t.tolist(), want))

    # ---- training: forward through the pipeline, backward in reverse
    stage = Stage(pp, PP, tp, TP, tp_group)
    opt = torch.optim.SGD(stage.parameters(), lr=args.lr)
    x, y = make_batch(dp)
    prev = pp_ranks[pp - 1] if pp > 0 else None
    nxt = pp_ranks[pp + 1] if pp < PP - 1 else None
    losses = []
    for step in range(1, args.steps + 1):
        opt.zero_grad()
        if prev is None:
            inp = x
        else:                           # activations from the previous stage
            inp = torch.empty(SAMPLES_PER_REPLICA, HIDDEN)
            dist.recv(inp, src=prev, group=pp_group)
            inp.requires_grad_()
        out = stage(inp)
        if nxt is not None:
            dist.send(out.detach(), dst=nxt, group=pp_group)
            grad = torch.empty_like(out)  # d loss / d out, from the next stage
            dist.recv(grad, src=nxt, group=pp_group)
            out.backward(grad)
            loss = torch.zeros(1)
        else:
            loss_t = torch.nn.functional.mse_loss(out, y)
            loss_t.backward()
            loss = loss_t.detach().reshape(1)
        if prev is not None:
            dist.send(inp.grad, dst=prev, group=pp_group)
        for prm in stage.parameters():  # data parallel: average the gradients
            dist.all_reduce(prm.grad, group=dp_group)
            prm.grad /= DP
        opt.step()
        # everyone learns the step's loss: last stage -> pipeline, mean over DP
        dist.all_reduce(loss, group=pp_group)
        dist.all_reduce(loss, group=dp_group)
        losses.append(loss.item() / DP)
        if rank == 0:
            log("step %d loss %.6f" % (step, losses[-1]))

    # replicas must still be identical: compare parameter sums across DP
    s = torch.tensor([sum(prm.detach().double().sum().item() for prm in stage.parameters())],
                     dtype=torch.float64)
    lo, hi = s.clone(), s.clone()
    dist.all_reduce(lo, op=dist.ReduceOp.MIN, group=dp_group)
    dist.all_reduce(hi, op=dist.ReduceOp.MAX, group=dp_group)
    check("dp_in_sync", lo.item() == hi.item(), "parameter sums %r..%r" % (lo.item(), hi.item()))
    log("final rank=%d loss_first=%.6f loss_last=%.6f" % (rank, losses[0], losses[-1]))
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main()

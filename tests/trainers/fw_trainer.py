#!/usr/bin/python3
"""A stand-in for a real trainer of one framework, for the e2e tests.

It knows nothing of llmctl: like the framework it imitates, it saves its
checkpoints under the file names and in the write order that framework
uses, and resumes from the path its own resume option is given (empty: from
the start). Ranks come from the usual RANK and WORLD_SIZE variables; a
collective (what torch.distributed would do) is a barrier of files in /tmp,
as all ranks of these tests share one host.

    fw_trainer.py LAYOUT [framework options] --steps N --every K

LAYOUT and the options each takes, as the framework spells them:
    dcp        --save DIR --resume=STEP_DIR       (torch.distributed.checkpoint)
    megatron   --save DIR --load DIR              (reads its own tracker)
    deepspeed  --save DIR --load DIR              (reads "latest")
    hf         --output_dir DIR --resume_from_checkpoint=CHECKPOINT_DIR
    lightning  --default_root_dir DIR --ckpt_path=FILE
    file       --snapshot_path FILE --resume=FILE (torch.save, os.replace)

Each save writes its first torch.save file in two halves with --pause
seconds between them, as a big save takes time; a kill then leaves the save
cut short on disk. Prints "saving step=S", "saved step=S" and, at the
start, "resumed from PATH step=S" or "starting from step 0".
"""

import argparse
import io
import json
import os
import sys
import time
import zipfile
import zlib

RANK = int(os.environ.get("RANK", "0"))
WORLD = int(os.environ.get("WORLD_SIZE", "1"))


def log(msg):
    print(msg, flush=True)


def torch_bytes(state):
    """What torch.save writes: a zip archive ending in its directory."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("archive/data.pkl", json.dumps(state))
        z.writestr("archive/data/0", os.urandom(4096))
    return buf.getvalue()


def torch_load(path):
    with zipfile.ZipFile(path) as z:
        return json.loads(z.read("archive/data.pkl"))


class Saver:
    def __init__(self, args):
        self.args = args
        self.paused = False

    def write(self, path, data):
        """Write data in place, pausing once per save half way."""
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            half = len(data) // 2
            f.write(data[:half])
            f.flush()
            if not self.paused:
                self.paused = True
                time.sleep(self.args.pause)
            f.write(data[half:])

    def barrier(self, step):
        tag = zlib.crc32(self.args.root.encode())
        d = "/tmp/fwsync-%s-%s-%08x-%d" % (
            os.environ.get("SLURM_JOB_ID", "0"),
            os.environ.get("MASTER_PORT", "0"), tag, step)
        os.makedirs(d, exist_ok=True)
        open(os.path.join(d, str(RANK)), "w").close()
        while len(os.listdir(d)) < WORLD:
            time.sleep(0.02)


def save_dcp(sv, step, state):
    d = os.path.join(sv.args.save, "step-%d" % step)
    sv.write(os.path.join(d, "__%d_0.distcp" % RANK),
             json.dumps(state).encode())
    sv.barrier(step)
    if RANK == 0:       # the coordinator, once every rank has written
        with open(os.path.join(d, ".metadata"), "w") as f:
            json.dump({"step": step, "world": WORLD}, f)


def load_dcp(path):
    with open(os.path.join(path, ".metadata")) as f:
        meta = json.load(f)
    with open(os.path.join(path, "__%d_0.distcp" % RANK)) as f:
        return meta["step"], json.load(f)


def save_megatron(sv, step, state):
    d = os.path.join(sv.args.save, "iter_%07d" % step)
    sv.write(os.path.join(d, "mp_rank_%02d" % RANK, "model_optim_rng.pt"),
             torch_bytes(state))
    sv.barrier(step)
    if RANK == 0:
        with open(os.path.join(sv.args.save,
                               "latest_checkpointed_iteration.txt"), "w") as f:
            f.write(str(step))


def load_megatron(load):
    tracker = os.path.join(load, "latest_checkpointed_iteration.txt")
    if not os.path.exists(tracker):
        return None
    with open(tracker) as f:
        it = int(f.read().strip())
    d = os.path.join(load, "iter_%07d" % it)
    return d, it, torch_load(os.path.join(d, "mp_rank_%02d" % RANK,
                                          "model_optim_rng.pt"))


def save_deepspeed(sv, step, state):
    tag = "global_step%d" % step
    d = os.path.join(sv.args.save, tag)
    if RANK == 0:
        sv.write(os.path.join(d, "mp_rank_00_model_states.pt"),
                 torch_bytes(state))
    sv.write(os.path.join(
        d, "zero_pp_rank_%d_mp_rank_00_optim_states.pt" % RANK),
        torch_bytes(state))
    sv.barrier(step)
    if RANK == 0:
        with open(os.path.join(sv.args.save, "latest"), "w") as f:
            f.write(tag)


def load_deepspeed(load):
    latest = os.path.join(load, "latest")
    if not os.path.exists(latest):
        return None
    with open(latest) as f:
        tag = f.read().strip()
    d = os.path.join(load, tag)
    state = torch_load(os.path.join(
        d, "zero_pp_rank_%d_mp_rank_00_optim_states.pt" % RANK))
    return d, state["step"], state


def save_hf(sv, step, state):
    d = os.path.join(sv.args.output_dir, "checkpoint-%d" % step)
    sv.barrier(step)
    if RANK == 0:       # should_save: the main process writes the rest
        sv.write(os.path.join(d, "model.safetensors"),
                 json.dumps(state).encode() * 64)
        sv.write(os.path.join(d, "optimizer.pt"), torch_bytes(state))
        sv.write(os.path.join(d, "scheduler.pt"), torch_bytes({}))
    sv.write(os.path.join(d, "rng_state_%d.pth" % RANK), torch_bytes({}))
    sv.barrier(-step)
    if RANK == 0:
        with open(os.path.join(d, "trainer_state.json"), "w") as f:
            f.write(json.dumps({"epoch": step / 3.0, "global_step": step,
                                "log_history": []}, indent=2,
                               sort_keys=True) + "\n")


def load_hf(path):
    with open(os.path.join(path, "trainer_state.json")) as f:
        step = json.load(f)["global_step"]
    return step, torch_load(os.path.join(path, "optimizer.pt"))


def save_lightning(sv, step, state):
    sv.barrier(step)
    if RANK != 0:
        return
    root = os.path.join(sv.args.default_root_dir)
    data = torch_bytes(dict(state, global_step=step))
    sv.write(os.path.join(root, "epoch=%d-step=%d.ckpt" % (step // 3, step)),
             data)
    sv.write(os.path.join(root, "last.ckpt"), data)


def save_file(sv, step, state):
    sv.barrier(step)
    if RANK == 0:
        tmp = sv.args.snapshot_path + ".tmp"
        sv.write(tmp, torch_bytes(dict(state, global_step=step)))
        os.replace(tmp, sv.args.snapshot_path)


def resume(args):
    """(path, step, state) to continue from, or None."""
    if args.layout == "dcp" and args.resume:
        step, state = load_dcp(args.resume)
        return args.resume, step, state
    if args.layout == "megatron":
        return load_megatron(args.load)
    if args.layout == "deepspeed":
        return load_deepspeed(args.load)
    if args.layout == "hf" and args.resume_from_checkpoint:
        step, state = load_hf(args.resume_from_checkpoint)
        return args.resume_from_checkpoint, step, state
    if args.layout == "lightning" and args.ckpt_path:
        state = torch_load(args.ckpt_path)
        return args.ckpt_path, state["global_step"], state
    if args.layout == "file" and args.resume:
        state = torch_load(args.resume)
        return args.resume, state["global_step"], state
    return None


SAVE = {"dcp": save_dcp, "megatron": save_megatron,
        "deepspeed": save_deepspeed, "hf": save_hf,
        "lightning": save_lightning, "file": save_file}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("layout", choices=sorted(SAVE))
    for opt in ("--save", "--load", "--resume", "--output_dir",
                "--resume_from_checkpoint", "--default_root_dir",
                "--ckpt_path", "--snapshot_path"):
        p.add_argument(opt, default="")
    p.add_argument("--steps", type=int, default=9)
    p.add_argument("--every", type=int, default=3)
    p.add_argument("--sleep", type=float, default=0.2)
    p.add_argument("--pause", type=float, default=2.0)
    args = p.parse_args()
    args.root = (args.save or args.output_dir or args.default_root_dir or
                 args.snapshot_path)
    log("rank=%d world=%d pid=%d" % (RANK, WORLD, os.getpid()))

    got = resume(args)
    if got is None:
        step, state = 0, {"step": 0, "loss": 1.0}
        log("starting from step 0")
    else:
        path, step, state = got
        log("resumed from %s step=%d" % (path, step))
    sv = Saver(args)
    while step < args.steps:
        time.sleep(args.sleep)
        step += 1
        state = {"step": step, "loss": state["loss"] * 0.9}
        if step % args.every == 0:
            log("saving step=%d" % step)
            sv.paused = False
            SAVE[args.layout](sv, step, state)
            log("saved step=%d" % step)
    log("done step=%d" % step)


if __name__ == "__main__":
    sys.exit(main())

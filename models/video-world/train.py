"""
Trains Causeway's video-world model (model.py) on episodes rendered by gen-data.mjs, and exports
step.onnx + step.json + offline.onnx:

    /usr/bin/python3 models/video-world/train.py <trainDir> <evalDir> <outDir> [steps 4500] [threads 2] [size small|tiny]

The schedule is counted in optimizer steps, not time: AdamW (weight decay 1e-4, gradient norm
clipped at 1), the learning rate warming up over 200 steps to 1e-3, then a cosine down to 2% of
it; batches of 8 random 16-frame windows (twice the cache's 8 frames, so half the frames are
predicted with the ring full and rolling: train long, test long; 24-frame windows cost 1.5x the
time a step); seeds fixed. The model is exported every 1000 steps and at the end.

The loss is the squared error of the predicted next frame, weighted 1 + 20 on the pixels that
change between the input and the target frame (the object is 3% of the frame; unweighted, a
model that leaves the object behind loses little).

Rollouts over its own outputs: in half of the batches, the inputs after the first frame are
replaced by the model's own predictions (made without gradient, 1-3 passes: pass k feeds the
predictions of pass k - 1, so drift over up to 3 generated frames is seen), while the targets stay
the true frames: the model learns to pull a drifting frame back to the world (self-forcing, in
its cheapest form). Generation at run time is the same step over its own outputs, for ever.

Noise on the inputs: every window's inputs (true or generated) get Gaussian noise of a standard
deviation drawn from [0, 0.2], the targets stay clean, so the model learns to draw a clean frame
from a slightly wrong one. Together with predicting the frame whole (model.py), this is what keeps
long rollouts in the world: the first recipe (residual output, no noise, 24-frame windows) had
held-out loss 0.054 after 2000 of 6000 steps and still dissolved into noise within 30 generated
frames, because what its head could not see of the input's error passed through for ever.
"""
import json
import math
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from model import Config, Net, distance_matrix, export, patchify, self_test  # noqa: E402

PEAK_LR = 1e-3
WARMUP = 200
EXPORT_EVERY = int(os.environ.get("EXPORT_EVERY", "1000"))
WINDOW = 16
BATCH = 8
CHANGE_WEIGHT = 20.0
# Inputs get Gaussian noise of a standard deviation drawn per window from [0, NOISE_MAX] (targets
# stay clean): the model learns to draw clean frames from slightly wrong ones.
NOISE_MAX = 0.2


def load(d):
    meta = json.load(open(os.path.join(d, "meta.json")))
    e, f, size, c = meta["episodes"], meta["frames"], meta["size"], meta["cond_dim"]
    video = np.fromfile(os.path.join(d, "frames.u8"), dtype=np.uint8).reshape(e, f + 1, size, size, 3)
    cond = np.fromfile(os.path.join(d, "cond.f32"), dtype=np.float32).reshape(e, f, c)
    return video, cond, meta


def batch(video, cond, c, gen, n=BATCH, window=WINDOW):
    e, f1 = video.shape[:2]
    ei = torch.randint(0, e, (n,), generator=gen)
    si = torch.randint(0, f1 - 1 - window + 1, (n,), generator=gen)
    x = np.stack([video[a, b:b + window + 1] for a, b in zip(ei.tolist(), si.tolist())])
    k = np.stack([cond[a, b:b + window] for a, b in zip(ei.tolist(), si.tolist())])
    frames = torch.from_numpy(x).float() / 127.5 - 1  # [n, window + 1, size, size, 3]
    tokens = patchify(frames, c)  # [n, window + 1, T, P]
    return tokens[:, :-1], torch.from_numpy(k), tokens[:, 1:]


def loss_of(pred, inputs, target):
    """inputs: the clean input frames (what changed is judged on them, not on noisy ones)."""
    changed = ((target - inputs).abs() > 0.05).float()
    w = 1 + CHANGE_WEIGHT * changed
    return (w * (pred - target) ** 2).sum() / w.sum()


def lr_at(step, steps):
    if step < WARMUP:
        return PEAK_LR * (step + 1) / WARMUP
    p = (step - WARMUP) / max(1, steps - WARMUP)
    return PEAK_LR * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * p)))


def main():
    train_dir, eval_dir, out = sys.argv[1], sys.argv[2], sys.argv[3]
    steps = int(sys.argv[4]) if len(sys.argv) > 4 else 4500
    threads = int(sys.argv[5]) if len(sys.argv) > 5 else 2
    size = sys.argv[6] if len(sys.argv) > 6 else "small"
    torch.set_num_threads(threads)
    torch.manual_seed(11)
    gen = torch.Generator().manual_seed(11)
    c = Config() if size == "small" else Config(d=64, heads=2, layers=2, ffn=128)
    net = Net(c)
    video, cond, meta = load(train_dir)
    ev_video, ev_cond, _ = load(eval_dir)
    ev_gen = torch.Generator().manual_seed(1)
    ev = [batch(ev_video, ev_cond, c, ev_gen) for _ in range(4)]
    dist = distance_matrix(WINDOW, c.sink, c.window)
    opt = torch.optim.AdamW(net.parameters(), lr=PEAK_LR, weight_decay=1e-4)
    n_params = sum(p.numel() for p in net.parameters())
    print(f"{n_params} parameters, {meta['episodes']} training episodes of {meta['frames']} frames, {steps} steps", flush=True)

    def held_out():
        net.eval()
        with torch.no_grad():
            total = sum(loss_of(net.offline(x, k, dist)[0], x, y).item() for x, k, y in ev)
        net.train()
        return total / len(ev)

    print(f"held-out loss before training {held_out():.5f}", flush=True)
    t0 = time.time()
    for step in range(steps):
        for g in opt.param_groups:
            g["lr"] = lr_at(step, steps)
        x, k, y = batch(video, cond, c, gen)
        clean = x
        if torch.rand(1, generator=gen).item() < 0.5:
            passes = int(torch.randint(1, 4, (1,), generator=gen).item())
            with torch.no_grad():
                for _ in range(passes):
                    p = net.offline(x, k, dist)[0]
                    x = torch.cat([x[:, :1], p[:, :-1].clamp(-1, 1)], dim=1)
        sigma = torch.rand(x.shape[0], 1, 1, 1, generator=gen) * NOISE_MAX
        x = x + sigma * torch.randn(x.shape, generator=gen)
        pred = net.offline(x, k, dist)[0]
        loss = loss_of(pred, clean, y)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        if (step + 1) % 50 == 0:
            print(f"step {step + 1}: loss {loss.item():.5f}, lr {lr_at(step, steps):.2e}, {time.time() - t0:.0f} s", flush=True)
        if (step + 1) % EXPORT_EVERY == 0 or step + 1 == steps:
            h = held_out()
            print(f"step {step + 1}: held-out loss {h:.5f}", flush=True)
            net.eval()
            diff, scale = self_test(net)
            print(f"python stream vs offline: max abs diff {diff:.2e} (output scale {scale:.2e})", flush=True)
            export(net, out, {"training_steps": step + 1, "held_out_loss": round(h, 6)})
            torch.save(net.state_dict(), os.path.join(train_dir, "video-world.pt"))
            net.train()


if __name__ == "__main__":
    main()

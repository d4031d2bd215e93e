"""
Trains Causeway's neural binaural renderer (model.py) with conditional flow matching on pairs
made by gen-data.mjs (Causeway's hrtf engine + image sources + a diffuse tail), and exports
step.onnx + step.json + offline.onnx:

    /usr/bin/python3 models/binaural-flow/train.py <trainDirs,comma-separated> <evalDir> <outDir> [minutes] [threads] [init.pt [lr]]

init.pt continues from saved weights (the run saves binaural-flow.pt beside the first training
folder at every export), with peak learning rate lr (default 2e-3).

Training runs for a wall-clock budget (default 35 minutes; the learning rate follows a cosine
over it) and exports every 10 minutes, so a usable model exists early. Each batch: 8 random
examples, a random 80-frame window (0.43 s; the receptive field is 16) of their STFTs (nFft 512, hop 256, periodic Hann, left-padded
by 256: Causeway's StreamingStft framing), a random common gain (0.3-3x) on input and target,
flow time t drawn half uniformly in [0, 1) and half from the solver's evaluation times, then
z = [X, X] + sigma eps, phi_t = t Y + (1 - t) z and the loss |Y_hat(phi_t, t) - Y|^2 over the
compressed spectra (model.py says why this is the flow-matching loss), plus the same squared
error on the compressed magnitudes (weight BFLOW_MAG_WEIGHT from the environment, default 1): without it, where the phase is still uncertain
the complex loss shrinks magnitudes toward zero.
"""
import copy
import json
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from model import Config, Net, compress, export, self_test  # noqa: E402

N = 59904
FRAMES = 234
MAG_WEIGHT = float(os.environ.get("BFLOW_MAG_WEIGHT", "1"))


def load(dirs):
    audio, cond = [], []
    for d in dirs.split(","):
        a = np.fromfile(os.path.join(d, "audio.f32"), dtype=np.float32)
        n = a.size // (3 * N)
        audio.append(a[: n * 3 * N].reshape(n, 3, N))
        cond.append(np.fromfile(os.path.join(d, "cond.f32"), dtype=np.float32)[: n * FRAMES * 6].reshape(n, FRAMES, 6))
    return torch.from_numpy(np.concatenate(audio)), torch.from_numpy(np.concatenate(cond)).transpose(1, 2).contiguous()


def stft(x, c):
    """x [..., N] -> [..., 2, 257, FRAMES] (re, im), Causeway's framing."""
    shape = x.shape[:-1]
    x = torch.nn.functional.pad(x.reshape(-1, x.shape[-1]), (c.n_fft - c.hop, 0))
    s = torch.stft(x, c.n_fft, c.hop, window=torch.hann_window(c.n_fft, periodic=True), center=False, return_complex=True)
    return torch.stack([s.real, s.imag], dim=1).reshape(*shape, 2, s.shape[-2], s.shape[-1])


def batch_loss(net, audio, cond, idx, c, gen, crop=80):
    B = len(idx)
    spec = stft(audio[idx], c)  # [B, 3, 2, 257, T]
    start = int(torch.randint(0, FRAMES - crop + 1, (1,), generator=gen))
    spec = spec[..., start:start + crop]
    cd = cond[idx][..., start:start + crop]
    gain = torch.exp(torch.empty(B, 1, 1, 1, 1).uniform_(np.log(0.3), np.log(3.0), generator=gen))
    spec = spec * gain
    nb = c.bins
    mono = spec[:, 0]
    yr, yi = compress(spec[:, 1:, 0, :nb], spec[:, 1:, 1, :nb], c.power)  # [B, 2, nb, T]
    Y = torch.stack([yr[:, 0], yi[:, 0], yr[:, 1], yi[:, 1]], dim=1)
    xr, xi, mr, mi = net.inputs(mono, cd)
    z = torch.cat([xr, xi, xr, xi], dim=1) + c.sigma * torch.randn(Y.shape, generator=gen)
    evals = torch.tensor([t for i in range(c.steps) for t in (c.schedule[i], (c.schedule[i] + c.schedule[i + 1]) / 2)])
    t = torch.where(torch.rand(B, generator=gen) < 0.5, torch.rand(B, generator=gen), evals[torch.randint(0, len(evals), (B,), generator=gen)])
    tt = t.view(B, 1, 1, 1)
    phi = tt * Y + (1 - tt) * z
    yhat, _ = net.predict(phi, t, xr, xi, mr, mi, net.embed(t, cd))
    # The flow-matching loss, plus the same comparison on magnitudes: where the phase is not yet
    # right, the complex loss alone pulls the magnitude toward zero (it averages over phases), and
    # the interaural level differences with it.
    mag = lambda v: torch.sqrt(v[:, 0::2] ** 2 + v[:, 1::2] ** 2 + 1e-8)
    return ((yhat - Y) ** 2).mean() + MAG_WEIGHT * ((mag(yhat) - mag(Y)) ** 2).mean()


def main():
    train_dirs, eval_dir, out = sys.argv[1:4]
    minutes = float(sys.argv[4]) if len(sys.argv) > 4 else 35
    torch.set_num_threads(int(sys.argv[5]) if len(sys.argv) > 5 else 2)
    torch.manual_seed(7)
    gen = torch.Generator().manual_seed(7)
    c = Config()
    if "BFLOW_HEAD_DELAY" in os.environ:  # 0: no spherical-head delay in M_cond (the first stages of the shipped model)
        c.head_delay = float(os.environ["BFLOW_HEAD_DELAY"])
    net = Net(c)
    if len(sys.argv) > 6:
        net.load_state_dict(torch.load(sys.argv[6]))
        print(f"continuing from {sys.argv[6]}", flush=True)
    peak = float(sys.argv[7]) if len(sys.argv) > 7 else 2e-3
    audio, cond = load(train_dirs)
    eaudio, econd = load(eval_dir)
    params = sum(p.numel() for p in net.parameters())
    print(f"{params} parameters, {audio.shape[0]} training examples, {eaudio.shape[0]} held out", flush=True)
    opt = torch.optim.AdamW(net.parameters(), lr=peak, weight_decay=1e-4)
    budget = minutes * 60
    # BFLOW_STOP_AFTER (minutes): stop early, the schedule still laid out over `minutes`.
    stop_after = float(os.environ.get("BFLOW_STOP_AFTER", "inf")) * 60
    t0 = time.time()
    last_export = t0
    step = 0
    running = None
    log = []

    def evaluate():
        net.eval()
        g = torch.Generator().manual_seed(1)
        with torch.no_grad():
            losses = [batch_loss(net, eaudio, econd, list(range(i, min(i + 8, eaudio.shape[0]))), c, g).item() for i in range(0, eaudio.shape[0], 8)]
        net.train()
        return float(np.mean(losses))

    def do_export(tag):
        m = copy.deepcopy(net).eval()
        diff, _ = self_test(m)
        meta = export(m, out, {"comment": "Causeway neural binaural renderer (models/binaural-flow)", "trained_minutes": round((time.time() - t0) / 60, 1),
                               "train_steps": step, "continued_from": os.path.basename(sys.argv[6]) if len(sys.argv) > 6 else None, "held_out_loss": round(evaluate(), 5), "python_step_vs_offline": diff})
        torch.save(net.state_dict(), os.path.join(os.path.dirname(os.path.abspath(train_dirs.split(",")[0])), "binaural-flow.pt"))
        print(f"[{tag}] exported to {out}: held-out loss {meta['held_out_loss']:.5f}, step vs offline {diff:.1e}", flush=True)

    print(f"held-out loss before training {evaluate():.5f}", flush=True)
    while True:
        elapsed = time.time() - t0
        if elapsed > min(budget, stop_after):
            break
        lr = peak * (0.02 + 0.98 * 0.5 * (1 + np.cos(np.pi * min(1.0, elapsed / budget))))
        for g in opt.param_groups:
            g["lr"] = lr
        idx = torch.randint(0, audio.shape[0], (8,), generator=gen).tolist()
        loss = batch_loss(net, audio, cond, idx, c, gen)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        step += 1
        running = loss.item() if running is None else 0.98 * running + 0.02 * loss.item()
        if step % 50 == 0:
            print(f"step {step}: loss {running:.5f}, lr {lr:.2e}, {elapsed:.0f} s", flush=True)
            log.append((step, running))
        if time.time() - last_export > 600:
            do_export(f"{(time.time() - t0) / 60:.0f} min")
            last_export = time.time()
    do_export("final")


if __name__ == "__main__":
    main()

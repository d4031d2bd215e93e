"""
Trains Causeway's neural binaural renderer (model.py) with conditional flow matching on pairs
made by gen-data.mjs (Causeway's hrtf engine + image sources + a diffuse tail), and exports
step.onnx + step.json + offline.onnx:

    /usr/bin/python3 models/binaural-flow/train.py <trainDirs,comma-separated> <evalDir> <outDir> [steps] [threads]

The schedule is counted in optimizer steps (default 12000), not in time, so a run is the same on
any machine: the learning rate warms up linearly over the first 300 steps to 2e-3, then follows a
cosine down to 2% of that at the last step; the model is exported every 2000 steps (so a usable
one exists early) and at the end, and the weights are saved as binaural-flow.pt beside the first
training folder. Seeds are fixed (torch 7, batches 7, held-out batches 1).

Each batch: 8 random examples, a random 80-frame window (0.43 s; the receptive field is 16) of
their STFTs (nFft 512, hop 256, periodic Hann, left-padded by 256: Causeway's StreamingStft
framing), a random common gain (0.3-3x) on input and target, flow time t drawn half uniformly in
[0, 1) and half from the solver's evaluation times, then z = [X, X] + sigma eps,
phi_t = t Y + (1 - t) z and the loss is the sum of
  - |Y_hat(phi_t, t) - Y|^2 over the compressed spectra (the flow-matching loss: model.py says why),
  - the same squared error on the compressed magnitudes (weight 1): where the phase is still
    uncertain the complex loss alone pulls magnitudes toward zero (it averages over phases),
  - the mean absolute log-ratio of band energies per ear and frame (21 log-spaced bands, floored
    30 dB under the example's mean band energy; weight 0.05): the two squared errors are ruled by
    the loud low bands and the near ear, so without it the far ear at the sides and the bands over
    4 kHz come out a few dB too quiet, and the interaural level difference too large.
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
MAG_WEIGHT = 1.0
BAND_WEIGHT = 0.05
BANDS = 24
PEAK_LR = 2e-3
WARMUP = 300
EXPORT_EVERY = 2000


def band_matrix(nb, bands=BANDS):
    """0/1 rows summing log-spaced groups of bins: 24 bands asked for, 21 distinct at nb 256 (the lowest one bin each)."""
    edges = sorted(set(int(round(e)) for e in np.geomspace(1, nb, bands + 1)))
    edges[0] = 0
    m = torch.zeros(len(edges) - 1, nb)
    for i in range(len(edges) - 1):
        m[i, edges[i]:edges[i + 1]] = 1
    return m


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
    mag = lambda v: torch.sqrt(v[:, 0::2] ** 2 + v[:, 1::2] ** 2 + 1e-8)  # [B, 2 ears, nb, T], compressed
    mh, my = mag(yhat), mag(Y)
    # Band energies per ear and frame: the compressed magnitude to the power 2 / p is the power.
    bm = band_matrix(nb)
    ph = torch.einsum("kn,bent->bekt", bm, mh ** (2 / c.power))
    py = torch.einsum("kn,bent->bekt", bm, my ** (2 / c.power))
    floor = 1e-3 * py.mean(dim=(1, 2, 3), keepdim=True) + 1e-10
    band = (torch.log(ph + floor) - torch.log(py + floor)).abs().mean()
    return ((yhat - Y) ** 2).mean() + MAG_WEIGHT * ((mh - my) ** 2).mean() + BAND_WEIGHT * band


def main():
    train_dirs, eval_dir, out = sys.argv[1:4]
    steps = int(sys.argv[4]) if len(sys.argv) > 4 else 12000
    torch.set_num_threads(int(sys.argv[5]) if len(sys.argv) > 5 else 2)
    torch.manual_seed(7)
    gen = torch.Generator().manual_seed(7)
    c = Config()
    net = Net(c)
    audio, cond = load(train_dirs)
    # The level the targets were rendered at, against the hrtf engine's default (gen-data.mjs).
    gen_meta = json.load(open(os.path.join(train_dirs.split(",")[0], "meta.json")))
    target_scale = {"output_gain": gen_meta["output_gain"],
                    "output_gain_note": "the binaural operator's gain on this model's output: the hrtf engine's default HRTF scaling over the one the targets were rendered with"}
    eaudio, econd = load(eval_dir)
    params = sum(p.numel() for p in net.parameters())
    print(f"{params} parameters, {audio.shape[0]} training examples, {eaudio.shape[0]} held out, {steps} steps", flush=True)
    opt = torch.optim.AdamW(net.parameters(), lr=PEAK_LR, weight_decay=1e-4)
    t0 = time.time()
    running = None

    def evaluate():
        net.eval()
        g = torch.Generator().manual_seed(1)
        with torch.no_grad():
            losses = [batch_loss(net, eaudio, econd, list(range(i, min(i + 8, eaudio.shape[0]))), c, g).item() for i in range(0, eaudio.shape[0], 8)]
        net.train()
        return float(np.mean(losses))

    def do_export(step):
        m = copy.deepcopy(net).eval()
        diff, _ = self_test(m)
        meta = export(m, out, {"comment": "Causeway neural binaural renderer (models/binaural-flow)", "recipe": "models/binaural-flow/make.sh",
                               "train_steps": step, "schedule_steps": steps, "trained_minutes": round((time.time() - t0) / 60, 1),
                               "held_out_loss": round(evaluate(), 5), "python_step_vs_offline": diff, **target_scale})
        torch.save(net.state_dict(), os.path.join(os.path.dirname(os.path.abspath(train_dirs.split(",")[0])), "binaural-flow.pt"))
        print(f"[step {step}] exported to {out}: held-out loss {meta['held_out_loss']:.5f}, step vs offline {diff:.1e}", flush=True)

    print(f"held-out loss before training {evaluate():.5f}", flush=True)
    for step in range(1, steps + 1):
        if step <= WARMUP:
            lr = PEAK_LR * step / WARMUP
        else:
            lr = PEAK_LR * (0.02 + 0.98 * 0.5 * (1 + np.cos(np.pi * (step - WARMUP) / (steps - WARMUP))))
        for g in opt.param_groups:
            g["lr"] = lr
        idx = torch.randint(0, audio.shape[0], (8,), generator=gen).tolist()
        loss = batch_loss(net, audio, cond, idx, c, gen)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        running = loss.item() if running is None else 0.98 * running + 0.02 * loss.item()
        if step % 50 == 0:
            print(f"step {step}: loss {running:.5f}, lr {lr:.2e}, {time.time() - t0:.0f} s", flush=True)
        if step % EXPORT_EVERY == 0 or step == steps:
            do_export(step)


if __name__ == "__main__":
    main()

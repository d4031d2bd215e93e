"""
Causeway's neural binaural renderer: a small BinauralFlow-style causal U-Net over the streaming
complex STFT of a mono voice, trained with conditional flow matching, run with a midpoint ODE
solver on a short "early-skip" schedule. Shared by train.py (training, export) and make_tiny.py
(a random-weight model for the contract tests).

Signal domain. STFT nFft 512, hop 256, periodic Hann, at 48 kHz (Causeway's StreamingStft
convention: left-padded by nFft - hop, frame k ends on the last sample of hop k). The flow runs
on power-law compressed spectra, c(z) = z |z|^(p - 1) with p = 0.5 (magnitude compressed, phase
kept): a filter H acts per bin as c(H x) = c(H) c(x), so the direct path stays a per-bin complex
product, while loud and quiet bins get comparable weight in the loss. The U-Net sees bins 0..255;
the Nyquist bin (24 kHz) of the output is 0.

Flow (after BinauralFlow): X = c(STFT(mono)), duplicated to both ears, plus a little Gaussian
noise is the start, z = [X, X] + sigma eps; the path is phi_t = t Y + (1 - t) z, whose velocity
is Y - z. The network predicts the clean binaural spectrum Y_hat(phi_t, t, X, cond) and the
velocity is v = (Y_hat - phi_t) / (1 - t) (the "x-prediction" form of the same field; training
minimises |Y_hat - Y|^2, i.e. the velocity loss weighted by (1 - t)^2). Y_hat is a per-bin
complex filter on the mono input plus a residual: Y_hat = (M_cond + dM) X + R, where M_cond comes
from the conditioning alone (an MLP: per-ear complex gains times a per-ear pure delay, a
spherical-head (Woodworth) interaural delay plus a learned correction) and dM, R from the U-Net.

Conditioning per frame: cos az, sin az, cos el, sin el, ln(distance), room (0 anechoic .. 1 the
most reverberant training room). Directions are the source's relative to the listener's head, in
SOFA's convention (azimuth counter-clockwise from ahead, 90 = left; elevation up).

Causality. Every convolution has kernel 2 (or 3, dilated) in time and sees only the current and
past frames; frequency kernels are centred (within one frame). Streaming, each conv meets every
input frame once, when it comes: its time taps applied to that frame give this frame's output
(the current tap) and what the frame owes the outputs of the next P frames (the earlier taps),
and the conv keeps those partial sums, P slots of its own output's size ([Cout, bins'], smaller
than its input's [Cin, bins] for every layer here). The step graph runs one STFT frame with
every conv's slots as explicit state. The solver evaluates the U-Net E = 2 * steps times per
frame (midpoint: at t_i and at t_i + h/2), each on a different input, so each evaluation has its
own slots: the bank is per layer AND per evaluation, packed into one tensor bank [B, E, S]
(layout: for each layer in LAYERS order, its [P, Cout, bins'] slots flattened, C order, the
next frame's slot first). offline() runs the same weights over a whole sequence, each conv
left-padded with P zero frames (= the initial bank of zeros: a zero frame owes nothing).

Step layout. The step graph works on [1, C, B, bins]: the B streams of a batch sit on an axis of
their own (where offline has frequency and time, the step has streams and frequency: freq axis
fa = 3 instead of 2), and each conv becomes a (1 x freq kernel) conv of this frame with its time
taps stacked as output channels. A batch is then one GEMM per conv (onnxruntime's CPU Conv runs
one GEMM per image, so [B, C, bins, T] gave a batch no GEMM width), a slot is updated by whole
[C, B, bins] slabs instead of one float per (stream, channel, bin), and moving the bank between
[B, ...] and the step layout moves whole rows of bins. Same weights; the sums only add in another
order.
"""
import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class Config:
    sample_rate: int = 48000
    n_fft: int = 512
    hop: int = 256
    ch: tuple = (8, 12, 16, 24)  # U-Net channels per level (bins 256, 128, 64, 32)
    mid_dilation: int = 4  # dilation in time of the bottleneck conv (kernel 3)
    emb: int = 48
    mask_hidden: int = 128
    cond_dim: int = 6
    power: float = 0.5
    sigma: float = 0.05
    schedule: tuple = (0.0, 0.6, 1.0)  # solver times: one midpoint step per interval
    max_delay: float = 48.0  # samples: tanh-bounded per-ear delay correction of M_cond (1 ms at 48 kHz)
    head_delay: float = 0.0875 / 343 * 48000  # head radius / speed of sound, in samples (Woodworth)

    @property
    def bins(self):
        return self.n_fft // 2  # U-Net bins (Nyquist dropped)

    @property
    def steps(self):
        return len(self.schedule) - 1

    @property
    def evals(self):
        return 2 * self.steps


EPS = 1e-8


def compress(re, im, p):
    mag = torch.sqrt(re * re + im * im + EPS)
    g = mag ** (p - 1)
    return re * g, im * g


def decompress(re, im, p):
    mag = torch.sqrt(re * re + im * im + EPS)
    g = mag ** (1 / p - 1)
    return re * g, im * g


class CausalConv(nn.Module):
    """Conv2d over [B, C, bins, T]: kernel kf x kt in (freq, time), causal in time (P past frames)."""

    def __init__(self, cin, cout, kf=3, kt=2, stride_f=1, dil_t=1):
        super().__init__()
        self.cin, self.cout, self.stride_f = cin, cout, stride_f
        self.conv = nn.Conv2d(cin, cout, (kf, kt), stride=(stride_f, 1), padding=(kf // 2, 0), dilation=(1, dil_t))
        self.past = (kt - 1) * dil_t

    def offline(self, x):
        return self.conv(F.pad(x, (self.past, 0, 0, 0)))

    def step(self, x, pend):
        """Step layout: x [1, C, B, bins] (this frame of B streams), pend [P, Cout, B, bins'] (the
        sums already owed to the outputs of the next P frames, this one first) -> y [1, Cout, B,
        bins'], the next pend. Each tap's weights meet a frame once, when it comes: tap j of
        frame t belongs to the output of frame t + (kt - 1 - j) * dil, so the state is the partial
        sums of the conv's (smaller) output instead of its input's last P frames."""
        w, cout = self.conv.weight, self.conv.weight.shape[0]  # [Cout, C, kf, kt]
        kt, dil = w.shape[3], self.conv.dilation[1]
        # Taps latest first: tap kt - 1 (this frame's own output), then those owed 1 dil, 2 dil... ahead.
        w_taps = torch.cat([w[..., j] for j in reversed(range(kt))], dim=0).unsqueeze(2)  # [kt Cout, C, 1, kf]
        bias = torch.cat([self.conv.bias, torch.zeros((kt - 1) * cout)])
        a = F.conv2d(x, w_taps, bias, stride=(1, self.conv.stride[0]), padding=(0, self.conv.padding[0]))
        owed = {(i + 1) * dil - 1: a[:, (i + 1) * cout:(i + 2) * cout] for i in range(kt - 1)}  # slot of frame t+1.. -> sum
        y = pend[0:1] + a[:, :cout]
        rows, k = [], 0
        while k < self.past:
            if k in owed:
                rows.append(owed[k] if k + 1 >= self.past else pend[k + 1:k + 2] + owed[k])
                k += 1
                continue
            end = min([j for j in owed if j > k] + [self.past - 1])  # copy the owed sums up to the next tap's slot
            rows.append(pend[k + 1:end + 1])
            k = end
        return y, rows[0] if len(rows) == 1 else torch.cat(rows, dim=0)


class Net(nn.Module):
    def __init__(self, c: Config):
        super().__init__()
        self.c = c
        c0, c1, c2, c3 = c.ch
        nb = c.bins
        # inputs: phi (4), X (2), M_cond X (4), bin position (1)
        self.layers = nn.ModuleList([
            CausalConv(11, c0),  # 0: bins 256
            CausalConv(c0, c1, stride_f=2),  # 1: 256 -> 128
            CausalConv(c1, c2, stride_f=2),  # 2: 128 -> 64
            CausalConv(c2, c3, stride_f=2),  # 3: 64 -> 32
            CausalConv(c3, c3, kt=3, dil_t=c.mid_dilation),  # 4: bottleneck, 32
            CausalConv(c3 + c2, c2),  # 5: up to 64, skip from 2
            CausalConv(c2 + c1, c1),  # 6: up to 128, skip from 1
            CausalConv(c1 + c0, c0),  # 7: up to 256, skip from 0
        ])
        self.in_bins = [nb, nb, nb // 2, nb // 4, nb // 8, nb // 4, nb // 2, nb]
        outs = [c0, c1, c2, c3, c3, c2, c1, c0]
        self.head = nn.Conv2d(c0, 8, 1)
        with torch.no_grad():
            self.head.weight.mul_(0.1)
            self.head.bias.zero_()
        self.t_freqs = torch.arange(1, 5, dtype=torch.float32) * math.pi
        self.emb = nn.Sequential(nn.Linear(9 + c.cond_dim, c.emb), nn.SiLU())
        self.film = nn.ModuleList([nn.Linear(c.emb, 2 * o) for o in outs])
        for f in self.film:
            with torch.no_grad():
                f.weight.mul_(0.1)
                f.bias.zero_()
        self.mask = nn.Sequential(nn.Linear(c.cond_dim, c.mask_hidden), nn.SiLU(), nn.Linear(c.mask_hidden, c.mask_hidden), nn.SiLU(),
                                  nn.Linear(c.mask_hidden, 4 * nb + 2))
        with torch.no_grad():
            self.mask[-1].weight.mul_(0.1)
            self.mask[-1].bias.zero_()
            self.mask[-1].bias[0:nb] = 1.0  # left real gain 1
            self.mask[-1].bias[2 * nb:3 * nb] = 1.0  # right real gain 1
        self.register_buffer("omega", (2 * math.pi / c.n_fft) * torch.arange(nb, dtype=torch.float32).view(1, nb, 1), persistent=False)
        self.register_buffer("binpos", (torch.arange(nb, dtype=torch.float32) / nb).view(1, 1, nb, 1), persistent=False)

    # ---- pieces shared by training, offline and step ----

    def cond_mask(self, cond, fa=2):
        """cond [B, 6, T] -> M_cond as (re, im) each [B, 2, bins, T] (fa 2), or in the step layout
        (fa 3) cond [1, 6, B] -> [1, 2, B, bins]."""
        nb = self.c.bins
        h = self.mask(cond.transpose(1, 2))  # [B, T, 4 nb + 2]
        B, T = h.shape[0], h.shape[1]
        a = h[..., :4 * nb].reshape(B, T, 2, 2, nb).permute((0, 2, 3, 4, 1) if fa == 2 else (0, 2, 3, 1, 4))  # [B, ear, re/im, nb, T]
        # Per-ear delay: a spherical-head (Woodworth) interaural delay from the lateral angle, split
        # between the ears, plus a learned correction. Learning the delay from scratch through the
        # phase of a per-bin product gets stuck (the loss in tau has a local minimum every period).
        lat = torch.asin(torch.clamp(cond[:, 1] * cond[:, 2], -1.0, 1.0)).unsqueeze(2)  # [B, T, 1], > 0 left
        itd = self.c.head_delay * (lat + torch.sin(lat))  # samples the right ear lags the left
        tau = torch.cat([-itd / 2, itd / 2], dim=2) + self.c.max_delay * torch.tanh(h[..., 4 * nb:] / 8)  # [B, T, 2] samples
        if fa == 2:
            ph = -self.omega.unsqueeze(0) * tau.transpose(1, 2).unsqueeze(2)  # [B, 2, nb, T]
        else:
            ph = -self.omega.reshape(1, 1, 1, nb) * tau.transpose(1, 2).unsqueeze(3)  # [1, 2, B, nb]
        cr, ci = torch.cos(ph), torch.sin(ph)
        ar, ai = a[:, :, 0], a[:, :, 1]
        return ar * cr - ai * ci, ar * ci + ai * cr

    def embed(self, t, cond):
        """t [B] (or a scalar tensor), cond [B, 6, T] -> [B, T, emb]."""
        B, T = cond.shape[0], cond.shape[2]
        tf = t.reshape(-1, 1) * self.t_freqs.view(1, 4)
        tfe = torch.cat([t.reshape(-1, 1), torch.sin(tf), torch.cos(tf)], dim=1)  # [B or 1, 9]
        tfe = tfe.unsqueeze(1).expand(B, T, 9)
        return self.emb(torch.cat([tfe, cond.transpose(1, 2)], dim=2))

    def predict(self, phi, t, xr, xi, mr, mi, emb, bufs=None, fa=2):
        """One U-Net evaluation. phi [B, 4, nb, T] (L re, L im, R re, R im), X = (xr, xi) [B, 1, nb, T],
        M_cond (mr, mi) [B, 2, nb, T]. bufs: None (offline) or the list of per-layer buffers.
        Returns Y_hat [B, 4, nb, T] and the new buffers. fa 3: the same in the step layout ([1, C, B, nb]).
        """
        pos = self.binpos if fa == 2 else self.binpos.transpose(2, 3)
        pr, pi = mr * xr - mi * xi, mr * xi + mi * xr  # [B, 2, nb, T]
        prior = torch.stack([pr[:, 0], pi[:, 0], pr[:, 1], pi[:, 1]], dim=1)
        h = torch.cat([phi, xr, xi, prior, pos.expand(phi.shape[0], 1, phi.shape[2], phi.shape[3])], dim=1)
        new = []
        skips = []

        def run(k, x):
            layer = self.layers[k]
            if bufs is None:
                y = layer.offline(x)
            else:
                y, nbuf = layer.step(x, bufs[k])
                new.append(nbuf)
            s, b = self.film[k](emb).transpose(1, 2).unsqueeze(fa).chunk(2, dim=1)  # [B, C, 1, T]
            return F.silu(y * (1 + s) + b)

        h = run(0, h)
        skips.append(h)
        h = run(1, h)
        skips.append(h)
        h = run(2, h)
        skips.append(h)
        h = run(3, h)
        h = run(4, h)
        for k, skip in zip((5, 6, 7), (skips[2], skips[1], skips[0])):
            h = F.interpolate(h, scale_factor=(2.0, 1.0) if fa == 2 else (1.0, 2.0), mode="nearest")
            h = run(k, torch.cat([h, skip], dim=1))
        o = self.head(h)  # [B, 8, nb, T]
        dmr = torch.stack([o[:, 0], o[:, 2]], dim=1)
        dmi = torch.stack([o[:, 1], o[:, 3]], dim=1)
        m_r, m_i = mr + dmr, mi + dmi
        yr = m_r * xr - m_i * xi + torch.stack([o[:, 4], o[:, 6]], dim=1)
        yi = m_r * xi + m_i * xr + torch.stack([o[:, 5], o[:, 7]], dim=1)
        y = torch.stack([yr[:, 0], yi[:, 0], yr[:, 1], yi[:, 1]], dim=1)
        return y, new

    def inputs(self, mono, cond, fa=2):
        """mono [B, 2, nb + 1, T] raw STFT -> compressed X (xr, xi) [B, 1, nb, T] and M_cond."""
        nb = self.c.bins
        xr, xi = compress(mono[:, 0:1].narrow(fa, 0, nb), mono[:, 1:2].narrow(fa, 0, nb), self.c.power)
        mr, mi = self.cond_mask(cond, fa)
        return xr, xi, mr, mi

    def output(self, phi, fa=2):
        """Compressed binaural estimate [B, 4, nb, T] -> raw STFT [B, 4, nb + 1, T] (Nyquist 0)."""
        lr, li = decompress(phi[:, 0], phi[:, 1], self.c.power)
        rr, ri = decompress(phi[:, 2], phi[:, 3], self.c.power)
        y = torch.stack([lr, li, rr, ri], dim=1)
        return F.pad(y, (0, 0, 0, 1) if fa == 2 else (0, 1))

    # ---- the solver ----

    def solve(self, mono, cond, noise, bank=None):
        """Midpoint ODE solve from [X, X] + sigma noise along the schedule. With bank (a list of
        E per-evaluation buffer lists) it is the one-frame step, in the step layout; without, the
        whole sequence."""
        fa = 2 if bank is None else 3
        c = self.c
        xr, xi, mr, mi = self.inputs(mono, cond, fa)
        phi = torch.cat([xr, xi, xr, xi], dim=1) + c.sigma * noise
        new_bank = []
        e = 0
        for i in range(c.steps):
            t0, t1 = c.schedule[i], c.schedule[i + 1]
            h = t1 - t0
            for tt, half in ((t0, True), (t0 + h / 2, False)):
                t = torch.full((1,), tt, dtype=torch.float32)
                emb = self.embed(t, cond)
                y, nb_ = self.predict(phi if half else phi_mid, t, xr, xi, mr, mi, emb, None if bank is None else bank[e], fa)
                new_bank.append(nb_)
                e += 1
                if half:
                    phi_mid = phi + (h / 2) * (y - phi) / (1 - tt)
                else:
                    phi = phi + h * (y - phi_mid) / (1 - tt)
        return self.output(phi, fa), new_bank

    # ---- bank packing ----

    def bank_layout(self):
        """Per layer: (channels, bins, P) of the partial sums it owes the next P frames' outputs."""
        return [(layer.cout, nb // layer.stride_f, layer.past) for layer, nb in zip(self.layers, self.in_bins)]

    def bank_size(self):
        return sum(cin * nb * p for cin, nb, p in self.bank_layout())

    def unpack(self, bank):
        """bank [B, E, S] -> E lists of per-layer buffers [P, cin, B, nb] (step layout); each
        transpose moves whole rows of bins."""
        E, S = self.c.evals, self.bank_size()
        flat = bank.reshape(-1, E * S)
        out, off = [], 0
        for e in range(E):
            bufs = []
            for cin, nb, p in self.bank_layout():
                # One Slice per buffer, not one Split: WebGPU binds every output of a node as a
                # storage buffer, at most 16 per shader.
                piece = flat.narrow(1, off, p * cin * nb)
                bufs.append(piece.reshape(-1, p * cin, nb).transpose(0, 1).reshape(p, cin, -1, nb))
                off += p * cin * nb
            out.append(bufs)
        return out

    def pack(self, new_bank):
        """E lists of per-layer buffers [P, cin, B, nb] -> bank [B, E, S]."""
        # Concat per evaluation, then of the evaluations: at most 16 inputs a node (WebGPU).
        per_eval = [torch.cat([b.reshape(p * cin, -1, nb).transpose(0, 1).reshape(-1, p * cin * nb)
                               for b, (cin, nb, p) in zip(bufs, self.bank_layout())], dim=1) for bufs in new_bank]
        return torch.stack(per_eval, dim=1)


class Step(nn.Module):
    """One STFT frame of B streams: mono [B, 2, 257], cond [B, 6], noise [B, 4, 256], bank [B, E, S] ->
    binaural [B, 4, 257] (L re, L im, R re, R im), bank_next [B, E, S]. B is free in the export,
    so many streams' steps run as one batch; inside, the graph works in the step layout (see the
    top of this file)."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, mono, cond, noise, bank):
        y, new = self.net.solve(mono.transpose(0, 1).unsqueeze(0), cond.transpose(0, 1).unsqueeze(0),
                                noise.transpose(0, 1).unsqueeze(0), self.net.unpack(bank))
        return y[0].transpose(0, 1), self.net.pack(new)


class Offline(nn.Module):
    """A whole sequence: mono [1, 2, 257, T], cond [1, 6, T], noise [1, 4, 256, T] -> binaural [1, 4, 257, T]."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, mono, cond, noise):
        return self.net.solve(mono, cond, noise)[0]


def receptive_field(net):
    """Frames (current included) that reach one output frame through one U-Net evaluation."""
    return 1 + sum(layer.past for layer in net.layers)


def export(net, out, meta_extra=None):
    import json
    import os

    import onnx

    c = net.c
    net.eval()
    os.makedirs(out, exist_ok=True)
    nb, E, S = c.bins, c.evals, net.bank_size()
    ex = (torch.randn(1, 2, nb + 1), torch.randn(1, c.cond_dim), torch.randn(1, 4, nb), torch.zeros(1, E, S))
    with torch.no_grad():
        torch.onnx.export(Step(net), ex, f"{out}/step.onnx", opset_version=17,
                          input_names=["mono", "cond", "noise", "bank"], output_names=["binaural", "bank_next"],
                          dynamic_axes={n: {0: "B"} for n in ("mono", "cond", "noise", "bank", "binaural", "bank_next")})
        T = 12
        torch.onnx.export(Offline(net), (torch.randn(1, 2, nb + 1, T), torch.randn(1, c.cond_dim, T), torch.randn(1, 4, nb, T)),
                          f"{out}/offline.onnx", opset_version=17, input_names=["mono", "cond", "noise"], output_names=["binaural"],
                          dynamic_axes={"mono": {3: "T"}, "cond": {2: "T"}, "noise": {3: "T"}, "binaural": {3: "T"}})
    meta = {
        "model_type": "causeway-binaural-flow",
        "sample_rate": c.sample_rate, "n_fft": c.n_fft, "hop": c.hop, "window": "hann",
        "bins": nb + 1, "unet_bins": nb,
        "cond": ["cos_azimuth", "sin_azimuth", "cos_elevation", "sin_elevation", "ln_distance", "room"],
        "power": c.power, "sigma": c.sigma, "schedule": list(c.schedule), "solver": "midpoint",
        "evaluations": E, "bank_size": S,
        "bank_layout": [{"layer": i, "channels": cin, "bins": b, "frames": p} for i, (cin, b, p) in enumerate(net.bank_layout())],
        "receptive_field_frames": receptive_field(net),
        "parameters": sum(p.numel() for p in net.parameters()),
    }
    meta.update(meta_extra or {})
    json.dump(meta, open(f"{out}/step.json", "w"), indent=2)
    m = onnx.load(f"{out}/step.onnx")
    onnx.checker.check_model(m)
    return meta


def self_test(net, frames=20, seed=0, batch=1):
    """Python-side check: the step run frame by frame equals offline (max abs diff), for `batch`
    streams stepped together."""
    g = torch.Generator().manual_seed(seed)
    c = net.c
    nb = c.bins
    mono = torch.randn(batch, 2, nb + 1, frames, generator=g) * 3
    cond = torch.randn(batch, c.cond_dim, frames, generator=g)
    noise = torch.randn(batch, 4, nb, frames, generator=g)
    with torch.no_grad():
        ref = Offline(net)(mono, cond, noise)
        bank = torch.zeros(batch, c.evals, net.bank_size())
        outs = []
        for k in range(frames):
            y, bank = Step(net)(mono[..., k], cond[..., k], noise[..., k], bank)
            outs.append(y)
        got = torch.stack(outs, dim=3)
    return (got - ref).abs().max().item(), ref.abs().max().item()

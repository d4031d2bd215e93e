"""
Causeway's autoregressive world model: a causal transformer over video frames that predicts the
next frame from the current one, the conditioning (scene and command) and a fixed-shape rolling
KV cache of past frames with sink frames (StreamingLLM, LongLive's frame sink).

Frames are patch tokens: a size x size RGB frame in [-1, 1] is cut into (size/patch)^2 patches
of patch*patch*3 values (row-major over patches; inside a patch, rows, then columns, then RGB).
Every token gets a linear embedding of its patch, a learned spatial embedding and a linear
embedding of its frame's conditioning. Each layer is pre-norm attention + MLP. Tokens of a frame
attend to every token of their own frame and of the frames the cache holds: the first S frames
(sinks) and the W most recent. Time enters only through a learned attention bias per layer and
head, indexed by the distance, in cache order, between the query's frame and the key's frame:
the query frame sits at position P (the number of frames held, S + W once full), a held frame at
its place p in the order sinks-then-window, distance P - p (0 for the frame itself). So positions
are relative to the cache, never absolute frame numbers: frame 1,000,000 is computed exactly as
frame S + W. The output is the input frame plus a predicted change, per patch.

Two graphs with the same weights:
- step.onnx (one frame per stream, B streams): in `frame` [B, T, P], `cond` [B, C], `past_k` and
  `past_v` [B, L, S+W, T, D] (the cache, held by the runner: kernels/sink-kv-cache.ts) and
  `slot_distance` [B, S+W] int64 (each slot's distance from the query frame, -1 for an empty
  slot); out `next_frame` [B, T, P] and the frame's own `new_k`, `new_v` [B, L, T, D], which the
  runner writes into the cache's next slot.
- offline.onnx (a whole sequence, no cache): in `frames` [B, N, T, P], `cond` [B, N, C] and
  `distance` [N, N] int64 (frame n's distance to frame f under the same sink + window rule, -1
  where f is not visible to n); out `next_frames` [B, N, T, P], `all_k`, `all_v` [B, N, L, T, D].
  Streaming == offline is the core test; the same graph re-caches the held frames when the
  conditioning changes (LongLive's KV re-cache).
"""
import json
import math
import os
from dataclasses import dataclass, asdict

import torch
import torch.nn as nn
import torch.nn.functional as F

from ring_step import ring_step


@dataclass
class Config:
    size: int = 64
    patch: int = 16
    channels: int = 3
    d: int = 128
    heads: int = 4
    layers: int = 4
    ffn: int = 384
    sink: int = 1
    window: int = 7
    cond_dim: int = 6

    @property
    def tokens(self):
        return (self.size // self.patch) ** 2

    @property
    def patch_dim(self):
        return self.patch * self.patch * self.channels

    @property
    def slots(self):
        return self.sink + self.window


def patchify(frames, c):
    """[..., size, size, 3] -> [..., T, P]."""
    g = c.size // c.patch
    lead = frames.shape[:-3]
    x = frames.reshape(*lead, g, c.patch, g, c.patch, c.channels)
    x = x.transpose(-4, -3)  # [..., gy, gx, py, px, ch]
    return x.reshape(*lead, g * g, c.patch_dim)


def unpatchify(tokens, c):
    g = c.size // c.patch
    lead = tokens.shape[:-2]
    x = tokens.reshape(*lead, g, g, c.patch, c.patch, c.channels).transpose(-4, -3)
    return x.reshape(*lead, c.size, c.size, c.channels)


def sink_window_frames(n, sink, window):
    return list(range(min(n, sink))) + list(range(max(sink, n - window), n))


def distance_matrix(n_frames, sink, window, start=0):
    """[N, N] int64: distance of frame n's key frame f in cache order, -1 where f is not visible to n."""
    d = torch.full((n_frames, n_frames), -1, dtype=torch.long)
    for n in range(n_frames):
        seen = sink_window_frames(n, sink, window)
        for p, f in enumerate(seen):
            d[n, f] = len(seen) - p
        d[n, n] = 0
    return d


class Layer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.norm1 = nn.LayerNorm(c.d)
        self.qkv = nn.Linear(c.d, 3 * c.d)
        self.proj = nn.Linear(c.d, c.d)
        self.norm2 = nn.LayerNorm(c.d)
        self.ff1 = nn.Linear(c.d, c.ffn)
        self.ff2 = nn.Linear(c.ffn, c.d)

    def qkv_of(self, x):
        q, k, v = self.qkv(self.norm1(x)).chunk(3, dim=-1)
        return q, k, v

    def attend(self, x, q, keys, values, bias):
        """x, q [B, N, d]; keys, values [B, M, d]; bias [B or 1, heads, N, M] (-inf: not visible)."""
        c = self.c
        B, N, _ = q.shape
        M = keys.shape[1]
        dh = c.d // c.heads
        qh = q.reshape(B, N, c.heads, dh).transpose(1, 2)
        kh = keys.reshape(B, M, c.heads, dh).transpose(1, 2)
        vh = values.reshape(B, M, c.heads, dh).transpose(1, 2)
        a = torch.matmul(qh, kh.transpose(2, 3)) / math.sqrt(dh) + bias
        a = torch.softmax(a, dim=-1)
        o = torch.matmul(a, vh).transpose(1, 2).reshape(B, N, c.d)
        x = x + self.proj(o)
        return x + self.ff2(F.gelu(self.ff1(self.norm2(x))))


class Net(nn.Module):
    def __init__(self, c: Config):
        super().__init__()
        self.c = c
        self.embed = nn.Linear(c.patch_dim, c.d)
        self.pos = nn.Parameter(torch.randn(c.tokens, c.d) * 0.02)
        self.cond = nn.Linear(c.cond_dim, c.d)
        self.layers = nn.ModuleList([Layer(c) for _ in range(c.layers)])
        # One bias per layer, head and distance 0 .. S + W (the query frame at S + W, the first sink at 0).
        self.dist_bias = nn.Parameter(torch.zeros(c.layers, c.heads, c.slots + 1))
        self.norm = nn.LayerNorm(c.d)
        # The next frame is predicted whole, not as a change to the input: every output lies in
        # what the decoder can draw, so errors cannot pile up outside it frame after frame (with
        # `frame + head(h)`, noise the low-rank head cannot see stayed in the frame for ever).
        self.head = nn.Sequential(nn.Linear(c.d, 2 * c.d), nn.GELU(), nn.Linear(2 * c.d, c.patch_dim))

    def tokens_in(self, frame, cond):
        """frame [..., T, P], cond [..., C] -> [..., T, d]."""
        return self.embed(frame) + self.pos + self.cond(cond).unsqueeze(-2)

    def frame_out(self, frame, h):
        return self.head(self.norm(h))

    def bias_of(self, layer, dist):
        """dist [..., Q, K] int64 (-1: not visible) -> [..., heads, Q, K] additive bias."""
        table = self.dist_bias[layer]  # [heads, S+W+1]
        b = table[:, dist.clamp(min=0)]  # [heads, ..., Q, K]
        b = b.movedim(0, -3)
        return b.masked_fill((dist < 0).unsqueeze(-3), float("-inf"))

    def step(self, frame, cond, past_k, past_v, slot_distance):
        c = self.c
        B = frame.shape[0]
        x = self.tokens_in(frame, cond)  # [B, T, d]
        T = c.tokens
        # Key distances: every token of slot s at slot_distance[s], then the frame's own T tokens at 0.
        own = torch.zeros(B, 1, dtype=torch.long)
        dist = torch.cat([slot_distance, own], dim=1)  # [B, S+W+1]
        # (expand + reshape rather than repeat_interleave, which exports with the sizes frozen)
        dist = dist.unsqueeze(2).expand(B, c.slots + 1, T).reshape(B, 1, (c.slots + 1) * T).expand(B, T, (c.slots + 1) * T)  # [B, Tq, M]
        new_k, new_v = [], []
        for i, layer in enumerate(self.layers):
            q, k, v = layer.qkv_of(x)
            keys = torch.cat([past_k[:, i].reshape(B, c.slots * T, c.d), k], dim=1)
            values = torch.cat([past_v[:, i].reshape(B, c.slots * T, c.d), v], dim=1)
            x = layer.attend(x, q, keys, values, self.bias_of(i, dist))
            new_k.append(k)
            new_v.append(v)
        return self.frame_out(frame, x), torch.stack(new_k, 1), torch.stack(new_v, 1)

    def offline(self, frames, cond, distance):
        c = self.c
        B, N = frames.shape[:2]
        T = c.tokens
        x = self.tokens_in(frames, cond).reshape(B, N * T, c.d)
        dist = distance.unsqueeze(1).unsqueeze(3).expand(N, T, N, T).reshape(N * T, N * T)
        ks, vs = [], []
        for i, layer in enumerate(self.layers):
            q, k, v = layer.qkv_of(x)
            x = layer.attend(x, q, k, v, self.bias_of(i, dist).unsqueeze(0))
            ks.append(k.reshape(B, N, T, c.d))
            vs.append(v.reshape(B, N, T, c.d))
        out = self.frame_out(frames, x.reshape(B, N, T, c.d))
        return out, torch.stack(ks, 2), torch.stack(vs, 2)


class Step(nn.Module):
    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, frame, cond, past_k, past_v, slot_distance):
        return self.net.step(frame, cond, past_k, past_v, slot_distance)


class Offline(nn.Module):
    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, frames, cond, distance):
        return self.net.offline(frames, cond, distance)


def stream(net, frames, cond):
    """Runs the step over a sequence with a Python copy of the ring (the reference the TS runner mirrors)."""
    c = net.c
    B, N = frames.shape[:2]
    pk = torch.zeros(B, c.layers, c.slots, c.tokens, c.d)
    pv = torch.zeros_like(pk)
    pos = [-1] * c.slots
    held = 0
    outs = []
    for n in range(N):
        qpos = min(n, c.slots)
        sd = torch.tensor([[qpos - p if p >= 0 else -1 for p in pos]] * B, dtype=torch.long)
        out, k, v = net.step(frames[:, n], cond[:, n], pk, pv, sd)
        outs.append(out)
        slot = n if n < c.sink else c.sink + (n - c.sink) % c.window
        pk[:, :, slot] = k
        pv[:, :, slot] = v
        held = n + 1
        pos = [-1] * c.slots
        for s in range(min(c.sink, held)):
            pos[s] = s
        after = held - c.sink
        oldest = max(0, after - c.window)
        for w in range(oldest, max(after, 0)):
            pos[c.sink + w % c.window] = c.sink + w - oldest
    return torch.stack(outs, 1)


def self_test(net, frames=None, batch=1):
    """Streaming (the step over the ring) vs offline (the sequence graph), in PyTorch."""
    c = net.c
    torch.manual_seed(0)
    N = c.slots * 3 + 2
    if frames is None:
        frames = torch.rand(batch, N, c.tokens, c.patch_dim) * 2 - 1
    cond = torch.randn(batch, N, c.cond_dim)
    with torch.no_grad():
        a = stream(net, frames, cond)
        b, _, _ = net.offline(frames, cond, distance_matrix(N, c.sink, c.window))
    return (a - b).abs().max().item(), b.abs().max().item()


def export_step(net, path):
    """The step graph (the cache as state, the new frame's slot written: ring_step.py) to path."""
    c = net.c
    net.eval()
    with torch.no_grad():
        B = 1
        ex = (torch.randn(B, c.tokens, c.patch_dim), torch.randn(B, c.cond_dim),
              torch.randn(B, c.layers, c.slots, c.tokens, c.d), torch.randn(B, c.layers, c.slots, c.tokens, c.d),
              torch.zeros(B, c.slots, dtype=torch.long))
        names = ["frame", "cond", "past_k", "past_v", "slot_distance"]
        outs = ["next_frame", "new_k", "new_v"]
        torch.onnx.export(Step(net), ex, path, opset_version=17, input_names=names, output_names=outs,
                          dynamic_axes={n: {0: "B"} for n in names + outs})
    # The shipped step takes the cache as state and returns it with the new slot written.
    ring_step(path)


def step_meta(net, extra=None):
    """step.json's contents."""
    c = net.c
    meta = {
        "model_type": "causeway-video-world",
        "size": c.size, "patch": c.patch, "channels": c.channels, "tokens": c.tokens, "patch_dim": c.patch_dim,
        "d": c.d, "heads": c.heads, "layers": c.layers, "ffn": c.ffn,
        "sink_frames": c.sink, "window_frames": c.window, "cond_dim": c.cond_dim,
        "parameters": sum(p.numel() for p in net.parameters()),
    }
    meta.update(extra or {})
    return meta


def export(net, out, extra=None):
    c = net.c
    os.makedirs(out, exist_ok=True)
    export_step(net, f"{out}/step.onnx")
    with torch.no_grad():
        N = c.slots + 3
        torch.onnx.export(Offline(net), (torch.randn(1, N, c.tokens, c.patch_dim), torch.randn(1, N, c.cond_dim),
                                         distance_matrix(N, c.sink, c.window)),
                          f"{out}/offline.onnx", opset_version=17, input_names=["frames", "cond", "distance"],
                          output_names=["next_frames", "all_k", "all_v"],
                          dynamic_axes={"frames": {0: "B", 1: "N"}, "cond": {0: "B", 1: "N"}, "distance": {0: "N", 1: "N"},
                                        "next_frames": {0: "B", 1: "N"}, "all_k": {0: "B", 1: "N"}, "all_v": {0: "B", 1: "N"}})
    meta = step_meta(net, extra)
    with open(f"{out}/step.json", "w") as f:
        json.dump(meta, f, indent=2)
    return meta


def config_dict(c):
    return asdict(c)

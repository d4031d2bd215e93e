"""
The cache-aware streaming encoder + CTC head Causeway authors, shared by the tiny contract test
model and the trained command recogniser. All causal: per layer x + FFN/2, x + limited-left-
context self-attention over [cache | chunk] with a learned bias per distance (independent of
absolute time), x + causal depthwise conv over [cache | chunk], x + FFN/2. `step` is the
streaming graph in NeMo's export contract; `offline` runs a whole utterance with the same mask.
"""
from dataclasses import dataclass

import torch
import torch.nn as nn


@dataclass
class Config:
    n_mels: int
    d: int
    layers: int
    left: int  # attention left context (frames)
    kernel: int  # depthwise conv kernel
    heads: int
    vocab: int  # CTC outputs, blank last
    chunk: int  # mel frames per step
    pre: int  # pre-encode cache frames (front-end conv kernel - stride)
    blank_bias: float = 0.0
    stride: int = 1  # front-end subsampling: mel frames per encoder frame (chunk is a multiple)


class Layer(nn.Module):
    def __init__(self, c):
        super().__init__()
        D, LEFT, KERNEL, HEADS = c.d, c.left, c.kernel, c.heads
        self.c = c
        self.ff1 = nn.Sequential(nn.LayerNorm(D), nn.Linear(D, 2 * D), nn.SiLU(), nn.Linear(2 * D, D))
        self.ff2 = nn.Sequential(nn.LayerNorm(D), nn.Linear(D, 2 * D), nn.SiLU(), nn.Linear(2 * D, D))
        self.norm_att = nn.LayerNorm(D)
        self.qkv = nn.Linear(D, 3 * D)
        self.out = nn.Linear(D, D)
        # Relative position bias per head and distance 0..LEFT: independent of absolute time.
        self.rel = nn.Parameter(torch.randn(HEADS, LEFT + 1) * 0.5)
        self.norm_conv = nn.LayerNorm(D)
        self.dw = nn.Conv1d(D, D, KERNEL, groups=D)
        self.pw = nn.Linear(D, D)

    def attend(self, x, ctx, valid):
        D, LEFT, HEADS = self.c.d, self.c.left, self.c.heads
        # x: [B, T, D] queries; ctx: [B, S, D] keys/values (S = cache + T); valid: [B, S] bool
        B, T, _ = x.shape
        S = ctx.shape[1]
        q = self.qkv(self.norm_att(x))[..., :D]
        kv = self.qkv(self.norm_att(ctx))
        k, v = kv[..., D:2 * D], kv[..., 2 * D:]
        dh = D // HEADS
        q = q.view(B, T, HEADS, dh).transpose(1, 2)
        k = k.view(B, S, HEADS, dh).transpose(1, 2)
        v = v.view(B, S, HEADS, dh).transpose(1, 2)
        scores = q @ k.transpose(-1, -2) / dh ** 0.5  # [B, H, T, S]
        # query i sits at context position S - T + i; key j at j; distance = (S - T + i) - j
        qi = torch.arange(T).view(T, 1) + (S - T)
        kj = torch.arange(S).view(1, S)
        dist = qi - kj
        allowed = (dist >= 0) & (dist <= LEFT)
        bias = self.rel[:, dist.clamp(0, LEFT)]  # [H, T, S]
        scores = scores + bias.unsqueeze(0)
        mask = allowed.unsqueeze(0).unsqueeze(0) & valid.view(B, 1, 1, S)
        scores = scores.masked_fill(~mask, -1e4)
        att = torch.softmax(scores, dim=-1) @ v
        return self.out(att.transpose(1, 2).reshape(B, T, D))

    def conv(self, x, past):
        KERNEL = self.c.kernel
        # x: [B, T, D]; past: [B, D, K-1] -> output [B, T, D], new past
        y = torch.cat([past, self.norm_conv(x).transpose(1, 2)], dim=2)  # [B, D, K-1+T]
        out = self.pw(self.dw(y).transpose(1, 2))
        return out, y[:, :, -(KERNEL - 1):]

    def forward(self, x, cache_ch, cache_t, valid):
        LEFT = self.c.left
        x = x + 0.5 * self.ff1(x)
        ctx = torch.cat([cache_ch, x], dim=1)
        x = x + self.attend(x, ctx, valid)
        c, new_t = self.conv(x, cache_t)
        x = x + c
        x = x + 0.5 * self.ff2(x)
        return x, ctx[:, -LEFT:, :], new_t


class Model(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        assert c.chunk % c.stride == 0, "chunk must be a whole number of encoder frames"
        # Kernel pre + stride over [pre cached frames | chunk] gives exactly chunk / stride outputs,
        # the same ones the offline run computes over the zero-left-padded utterance.
        self.pre = nn.Conv1d(c.n_mels, c.d, c.pre + c.stride, stride=c.stride)
        self.layers = nn.ModuleList([Layer(c) for _ in range(c.layers)])
        self.head = nn.Linear(c.d, c.vocab)
        # Blank (the last id, as in NeMo) favoured, so quiet input decodes to blanks and the
        # decoder's endpointing has something to find even with random weights.
        with torch.no_grad():
            self.head.bias[c.vocab - 1] += c.blank_bias

    def step(self, audio_signal, length, cache_last_channel, cache_last_time, cache_last_channel_len):
        LEFT, PRE = self.c.left, self.c.pre
        # audio_signal [B, n_mels, PRE + T]: the first PRE frames are the pre-encode cache.
        x = self.pre(audio_signal).transpose(1, 2)  # [B, T, D]
        B, T, _ = x.shape
        # Cache slot j of LEFT is valid when j >= LEFT - len; new frames are always valid.
        slots = torch.arange(LEFT).view(1, LEFT)
        cache_valid = slots >= (LEFT - cache_last_channel_len.view(B, 1))
        valid = torch.cat([cache_valid, torch.ones(B, T, dtype=torch.bool)], dim=1)
        chans, times = [], []
        for i, layer in enumerate(self.layers):
            x, c, t = layer(x, cache_last_channel[:, i], cache_last_time[:, i], valid)
            chans.append(c)
            times.append(t)
        logprobs = torch.log_softmax(self.head(x), dim=-1)
        new_len = torch.clamp(cache_last_channel_len + T, max=LEFT)
        encoded = length - PRE if self.c.stride == 1 else torch.div(length - PRE, self.c.stride, rounding_mode="floor")
        return logprobs, encoded, torch.stack(chans, 1), torch.stack(times, 1), new_len

    def offline(self, audio_signal):
        N_MELS, PRE, D, KERNEL = self.c.n_mels, self.c.pre, self.c.d, self.c.kernel
        # The whole utterance, left-padded by PRE zero frames (the pre-encode cache starts at zero).
        B = audio_signal.shape[0]
        padded = torch.cat([torch.zeros(B, N_MELS, PRE), audio_signal], dim=2)
        x = self.pre(padded).transpose(1, 2)
        T = x.shape[1]
        valid = torch.ones(B, T, dtype=torch.bool)
        for layer in self.layers:
            x = x + 0.5 * layer.ff1(x)
            x = x + layer.attend(x, x, valid)  # same distance mask: attends to [t - LEFT, t]
            c, _ = layer.conv(x, torch.zeros(B, D, KERNEL - 1))
            x = x + c
            x = x + 0.5 * layer.ff2(x)
        return torch.log_softmax(self.head(x), dim=-1)




class Step(nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, *a):
        return self.m.step(*a)


class Offline(nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, a):
        return self.m.offline(a)

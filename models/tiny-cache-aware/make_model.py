"""
Builds a tiny, randomly initialised cache-aware streaming encoder + CTC head in the NeMo export
contract, for Causeway's contract and streaming==offline tests (not a recogniser: the trained
model is built by its own recipe). Run with Debian's python3-torch and python3-onnx:

    /usr/bin/python3 models/tiny-cache-aware/make_model.py models/tiny-cache-aware

It writes
  step.onnx     the streaming step graph, NeMo names:
                inputs  audio_signal [B, n_mels, T], length [B] (int64),
                        cache_last_channel [B, L, left, d], cache_last_time [B, L, d, k-1],
                        cache_last_channel_len [B] (int64)
                outputs logprobs [B, T', vocab], encoded_lengths [B],
                        cache_last_channel_next, cache_last_time_next, cache_last_channel_next_len
                with metadata (window_size, chunk_shift, pre_encode_cache_size, ...) as in
                sherpa-onnx's NeMo CTC models;
  offline.onnx  the same weights over a whole utterance with the same limited-context mask:
                audio_signal [1, n_mels, T] -> logprobs [1, T, vocab]: the reference.

Architecture per layer (all causal): x + FFN/2, x + limited-left-context self-attention over
[cache | chunk] with relative positions that do not depend on absolute time (a learned bias per
distance), x + causal depthwise conv over [cache | chunk], x + FFN/2. The front end is a causal
conv over mel frames (kernel 3, stride 1), so each chunk is preceded by 2 cached mel frames.
"""
import json
import sys

import onnx
import torch
import torch.nn as nn

N_MELS, D, LAYERS, LEFT, KERNEL, HEADS, VOCAB = 16, 32, 2, 8, 5, 2, 11
CHUNK, PRE = 4, 2
BLANK_BIAS = 6.0  # mel frames per step, and mel frames of pre-encode cache fed ahead of each chunk

torch.manual_seed(1234)


class Layer(nn.Module):
    def __init__(self):
        super().__init__()
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
        # x: [B, T, D]; past: [B, D, K-1] -> output [B, T, D], new past
        y = torch.cat([past, self.norm_conv(x).transpose(1, 2)], dim=2)  # [B, D, K-1+T]
        out = self.pw(self.dw(y).transpose(1, 2))
        return out, y[:, :, -(KERNEL - 1):]

    def forward(self, x, cache_ch, cache_t, valid):
        x = x + 0.5 * self.ff1(x)
        ctx = torch.cat([cache_ch, x], dim=1)
        x = x + self.attend(x, ctx, valid)
        c, new_t = self.conv(x, cache_t)
        x = x + c
        x = x + 0.5 * self.ff2(x)
        return x, ctx[:, -LEFT:, :], new_t


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.pre = nn.Conv1d(N_MELS, D, PRE + 1)
        self.layers = nn.ModuleList([Layer() for _ in range(LAYERS)])
        self.head = nn.Linear(D, VOCAB)
        # Blank (the last id, as in NeMo) favoured, so quiet input decodes to blanks and the
        # decoder's endpointing has something to find even with random weights.
        with torch.no_grad():
            self.head.bias[VOCAB - 1] += BLANK_BIAS

    def step(self, audio_signal, length, cache_last_channel, cache_last_time, cache_last_channel_len):
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
        return logprobs, length - PRE, torch.stack(chans, 1), torch.stack(times, 1), new_len

    def offline(self, audio_signal):
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


def add_metadata(path, meta):
    model = onnx.load(path)
    for k, v in meta.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = k, str(v)
    onnx.save(model, path)


def main(out):
    m = Model().eval()
    ex = (
        torch.randn(1, N_MELS, PRE + CHUNK),
        torch.tensor([PRE + CHUNK], dtype=torch.int64),
        torch.zeros(1, LAYERS, LEFT, D),
        torch.zeros(1, LAYERS, D, KERNEL - 1),
        torch.zeros(1, dtype=torch.int64),
    )
    torch.onnx.export(
        Step(m), ex, f"{out}/step.onnx", opset_version=17,
        input_names=["audio_signal", "length", "cache_last_channel", "cache_last_time", "cache_last_channel_len"],
        output_names=["logprobs", "encoded_lengths", "cache_last_channel_next", "cache_last_time_next", "cache_last_channel_next_len"],
        dynamic_axes={"audio_signal": {0: "B", 2: "T"}, "length": {0: "B"}, "cache_last_channel": {0: "B"}, "cache_last_time": {0: "B"},
                      "cache_last_channel_len": {0: "B"}, "logprobs": {0: "B", 1: "T_out"}},
    )
    meta = {
        "model_type": "EncDecCTCModelBPE", "vocab_size": VOCAB - 1, "subsampling_factor": 1,
        "window_size": PRE + CHUNK, "chunk_shift": CHUNK, "pre_encode_cache_size": PRE,
        "cache_last_channel_dim1": LAYERS, "cache_last_channel_dim2": LEFT, "cache_last_channel_dim3": D,
        "cache_last_time_dim1": LAYERS, "cache_last_time_dim2": D, "cache_last_time_dim3": KERNEL - 1,
        "feat_dim": N_MELS, "normalize_type": "", "comment": "Causeway tiny cache-aware test model (random weights)",
    }
    add_metadata(f"{out}/step.onnx", meta)
    torch.onnx.export(
        Offline(m), (torch.randn(1, N_MELS, 20),), f"{out}/offline.onnx", opset_version=17,
        input_names=["audio_signal"], output_names=["logprobs"], dynamic_axes={"audio_signal": {2: "T"}, "logprobs": {1: "T"}},
    )
    with open(f"{out}/step.json", "w") as f:
        json.dump(meta, f, indent=2)
    print(json.dumps(meta))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else ".")

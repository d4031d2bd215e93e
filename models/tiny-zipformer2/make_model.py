"""
Builds a tiny, randomly initialised streaming transducer in the icefall/sherpa-onnx zipformer2
export contract, for Causeway's contract, streaming==offline and search tests. It is not a
recogniser and not a zipformer: the body is a small chunk-causal stand-in. What it shares with a
real export (icefall egs/librispeech/ASR/zipformer/export-onnx-streaming.py) is everything a
runtime sees: file split, tensor names, state kinds, order, shapes and dtypes, metadata keys, the
window geometry (T = decode_chunk_len + 13, hop decode_chunk_len, 4x subsampling) and blank = 0
with the decoder's [-1, ..., -1, blank] start context. Run with Debian's python3-torch and
python3-onnx:

    /usr/bin/python3 models/tiny-zipformer2/make_model.py models/tiny-zipformer2

It writes
  encoder.onnx  the streaming encoder:
                inputs  x [N, T, 80], then per layer i (all stacks, in order)
                        cached_key_i [left_s, N, query_head_dim_s*num_heads_s],
                        cached_nonlin_attn_i [1, N, left_s, 3*encoder_dim_s/4],
                        cached_val1_i, cached_val2_i [left_s, N, value_head_dim_s*num_heads_s],
                        cached_conv1_i, cached_conv2_i [N, encoder_dim_s, cnn_kernel_s/2],
                        then embed_states [N, 128, 3, 19] and processed_lens [N] (int64)
                outputs encoder_out [N, decode_chunk_len/4, joiner_dim], then new_<state> for each
                with metadata model_type=zipformer2, T, decode_chunk_len, num_encoder_layers,
                encoder_dims, cnn_module_kernels, left_context_len, query_head_dims,
                value_head_dims, num_heads (comma-separated per stack);
  decoder.onnx  y [N, context_size] int64 -> decoder_out [N, joiner_dim]; metadata context_size,
                vocab_size; y < 0 embeds to zeros (the start context is [-1, blank]);
  joiner.onnx   encoder_out [N, joiner_dim], decoder_out [N, joiner_dim] -> logit [N, vocab]
                (raw, not log-softmax); metadata joiner_dim;
  offline.onnx  the same encoder weights over a whole utterance: x [1, n*decode_chunk_len + 13, 80]
                -> encoder_out [1, n*decode_chunk_len/4, joiner_dim], with the chunk masks and zero
                left padding the streaming caches stand for: the streaming reference;
  tokens.txt    icefall layout: <blk> 0, <sos/eos> 1, <unk> 2, then word pieces.

The stand-in body, per window: the feature frames go through a frequency projection (80 -> 19
bins) and a time conv (kernel 9, stride 2, 128 channels): (T - 9)//2 + 1 = decode_chunk_len/2 + 3
frames at 50 Hz, of which the last 3 are look-ahead for a centred depthwise conv (kernel 7) whose
3 left frames are `embed_states`; consecutive windows overlap by T - decode_chunk_len = 13 frames,
which is the time conv's own context. Two stacks (1 and 2 layers, the second at half rate). Each
layer: one set of attention weights over [left cache | chunk] (keys cached, cache slots not yet
filled masked by processed_lens), used for a first value projection (val1), a tanh "non-linear
attention" on head 0 (nonlin_attn) and a second value projection (val2), with two causal
depthwise convs (conv1, conv2) between them and a feed-forward. The output is averaged to 25 Hz
and projected to joiner_dim. The joiner's blank logit has a bias so that random features decode
to a mix of blanks and tokens.
"""
import os
import sys

import torch
import torch.nn as nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from onnx_metadata import add_metadata  # noqa: E402

F = 80  # feature bins, as real exports
CHUNK = 16  # decode_chunk_len: feature frames per step (chunk_size 8 at 50 Hz)
PAD = 13  # 7 + 2*3, as icefall's pad_length
T = CHUNK + PAD
LEFT_FRAMES = 16  # left context at 50 Hz
LAYERS = [1, 2]
DS = [1, 2]
DIMS = [16, 24]
HEADS = [2, 2]
QDIM = [4, 4]
VDIM = [4, 4]
KERNELS = [5, 3]
JOINER = 16
DECODER = 16
CONTEXT = 2
EMBED_CH = 128
EMBED_LEFT = 3
FREQ = ((F - 1) // 2 - 1) // 2  # 19, the embed_states freq axis of a real export
TOKENS = ["<blk>", "<sos/eos>", "<unk>", "\u2581the", "\u2581a", "s", "\u2581go", "\u2581stop", "ing",
          "\u2581on", "\u2581off", "\u2581yes", "\u2581no", "e", "d", "\u2581up"]
VOCAB = len(TOKENS)
# Gains and blank bias chosen so that random features decode to about half blanks with a few
# distinct tokens, digital silence (FBANK_SILENCE frames) to blanks only, and the joiner's best
# token has a probability near 0.3 (so beam search has alternatives worth keeping).
ENC_GAIN, DEC_GAIN, JOINER_GAIN, BLANK_BIAS = 4.0, 3.0, 3.0, 2.5

torch.manual_seed(20240617)


class Layer(nn.Module):
    def __init__(self, d, heads, qd, vd, left, kernel, chunk):
        super().__init__()
        self.d, self.h, self.qd, self.vd, self.left, self.chunk = d, heads, qd, vd, left, chunk
        self.cache_conv = kernel // 2
        self.q = nn.Linear(d, heads * qd)
        self.k = nn.Linear(d, heads * qd)
        self.v1 = nn.Linear(d, heads * vd)
        self.o1 = nn.Linear(heads * vd, d)
        self.n_in = nn.Linear(d, 3 * d // 4)
        self.n_out = nn.Linear(3 * d // 4, d)
        self.conv1 = nn.Conv1d(d, d, self.cache_conv + 1, groups=d)
        self.v2 = nn.Linear(d, heads * vd)
        self.o2 = nn.Linear(heads * vd, d)
        self.conv2 = nn.Conv1d(d, d, self.cache_conv + 1, groups=d)
        self.ff = nn.Sequential(nn.Linear(d, 2 * d), nn.Tanh(), nn.Linear(2 * d, d))

    def weights(self, x, keys, mask):
        # x [N, Tq, d] queries; keys [N, S, h*qd]; mask [N or 1, Tq, S] True where allowed
        # -1 for time axes: the offline export keeps them symbolic
        N = x.shape[0]
        q = self.q(x).view(N, -1, self.h, self.qd).transpose(1, 2)
        k = keys.view(N, -1, self.h, self.qd).transpose(1, 2)
        s = q @ k.transpose(-1, -2) / self.qd ** 0.5
        s = s.masked_fill(~mask.unsqueeze(1), -1e4)
        return torch.softmax(s, dim=-1)  # [N, h, Tq, S]

    def apply(self, a, vals, heads_dim):
        # a [N, h, Tq, S]; vals [N, S, h*heads_dim] -> [N, Tq, h*heads_dim]
        N = vals.shape[0]
        v = vals.view(N, -1, self.h, heads_dim).transpose(1, 2)
        return (a @ v).transpose(1, 2).reshape(N, -1, self.h * heads_dim)

    @staticmethod
    def conv(conv, x, past):
        # x [N, Tq, d]; past [N, d, k-1] (zeros = the sequence's zero left padding)
        y = torch.cat([past, x.transpose(1, 2)], dim=2)
        return torch.tanh(conv(y)).transpose(1, 2), y[:, :, -past.shape[2]:]

    def forward(self, x, mask, key, nonlin, val1, val2, conv1, conv2):
        """Batch-first caches: key/val [N, L, .], nonlin [N, L, 3d/4], conv [N, d, k-1]; the
        offline graph passes zero-length key/value caches and a full chunk mask."""
        keys = torch.cat([key, self.k(x)], dim=1)
        a = self.weights(x, keys, mask)
        vals1 = torch.cat([val1, self.v1(x)], dim=1)
        x = x + 0.5 * self.o1(self.apply(a, vals1, self.vd))
        s = torch.cat([nonlin, torch.tanh(self.n_in(x))], dim=1)
        x = x + 0.5 * self.n_out(a[:, 0] @ s)
        c1, new_conv1 = self.conv(self.conv1, x, conv1)
        x = x + 0.5 * c1
        vals2 = torch.cat([val2, self.v2(x)], dim=1)
        x = x + 0.5 * self.o2(self.apply(a, vals2, self.vd))
        c2, new_conv2 = self.conv(self.conv2, x, conv2)
        x = x + 0.5 * c2
        x = x + 0.5 * self.ff(x)
        L = self.left
        return x, keys[:, -L:], s[:, -L:], vals1[:, -L:], vals2[:, -L:], new_conv1, new_conv2


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.freq = nn.Linear(F, FREQ)
        self.time = nn.Conv2d(1, EMBED_CH, (9, 1), stride=(2, 1))
        self.dw = nn.Conv2d(EMBED_CH, EMBED_CH, (2 * EMBED_LEFT + 1, 1), groups=EMBED_CH)
        self.embed_out = nn.Linear(EMBED_CH * FREQ, DIMS[0])
        self.between = nn.Linear(DIMS[0], DIMS[1])
        self.layers = nn.ModuleList()
        for s, n in enumerate(LAYERS):
            for _ in range(n):
                self.layers.append(Layer(DIMS[s], HEADS[s], QDIM[s], VDIM[s], LEFT_FRAMES // DS[s], KERNELS[s], CHUNK // 2 // DS[s]))
        self.stack_of = [s for s, n in enumerate(LAYERS) for _ in range(n)]
        self.proj = nn.Linear(DIMS[-1], JOINER)
        with torch.no_grad():
            self.proj.weight.mul_(ENC_GAIN)
            self.proj.bias.zero_()

    def embed(self, x, left):
        # x [N, frames, F]; left [N, 128, 3, FREQ] -> [N, (frames-9)//2+1-3, DIMS[0]], new left
        e = torch.tanh(self.time(self.freq(x).unsqueeze(1)))  # [N, 128, J, FREQ]
        y = torch.cat([left, e], dim=2)
        z = torch.tanh(e[:, :, :-EMBED_LEFT] + self.dw(y))  # centred: output j sees e[j-3 .. j+3]
        out = self.embed_out(z.permute(0, 2, 1, 3).reshape(x.shape[0], -1, EMBED_CH * FREQ))
        # the next window's left frames: the 3 before its first output, i.e. this window's last 3 outputs' e
        return out, y[:, :, -2 * EMBED_LEFT:-EMBED_LEFT]

    def body(self, x, masks, caches):
        """x [N, frames at 50 Hz, DIMS[0]]; masks[s] for stack s; caches: per layer the 6
        batch-first caches. Returns the 25 Hz output and the new caches."""
        new = []
        li = 0
        for s, n in enumerate(LAYERS):
            if s > 0:
                bypass = self.between(x)
                x = bypass.view(bypass.shape[0], -1, DS[s], bypass.shape[2]).mean(2)
            for _ in range(n):
                out = self.layers[li](x, masks[s], *caches[li])
                x = out[0]
                new.append(list(out[1:]))
                li += 1
            if s > 0:
                # upsample by repeating each frame (expand, not repeat_interleave: that exports as a Loop)
                x = bypass + x.unsqueeze(2).expand(-1, -1, DS[s], -1).reshape(x.shape[0], -1, x.shape[2])
        x = x.view(x.shape[0], -1, 2, x.shape[2]).mean(2)
        return self.proj(x), new


class Step(nn.Module):
    """The streaming graph: one window of T frames with all states in and out."""

    def __init__(self, enc):
        super().__init__()
        self.enc = enc

    def forward(self, x, *states):
        enc = self.enc
        processed = states[-1]
        x, new_left = enc.embed(x, states[-2])
        N = x.shape[0]
        masks = []
        for s in range(len(LAYERS)):
            L, C = LEFT_FRAMES // DS[s], CHUNK // 2 // DS[s]
            done = torch.div(processed, DS[s], rounding_mode="floor")
            # cache slot i holds the frame L - i before the chunk: valid once that many were processed
            valid = torch.arange(L).view(1, L) >= (L - done).view(-1, 1)
            m = torch.cat([valid, torch.ones(N, C, dtype=torch.bool)], dim=1)
            masks.append(m.unsqueeze(1).expand(N, C, L + C))
        caches = []
        for i in range(len(enc.layers)):
            key, nonlin, val1, val2, conv1, conv2 = states[6 * i:6 * i + 6]
            # export layout (as icefall): time-first key/val, [1, N, L, .] nonlin; batch-first here
            caches.append([key.transpose(0, 1), nonlin[0], val1.transpose(0, 1), val2.transpose(0, 1), conv1, conv2])
        out, new = enc.body(x, masks, caches)
        flat = []
        for key, nonlin, val1, val2, conv1, conv2 in new:
            flat += [key.transpose(0, 1), nonlin.unsqueeze(0), val1.transpose(0, 1), val2.transpose(0, 1), conv1, conv2]
        return (out, *flat, new_left, processed + CHUNK // 2)


class Offline(nn.Module):
    """The same weights over a whole utterance (n windows' worth of frames)."""

    def __init__(self, enc):
        super().__init__()
        self.enc = enc

    def forward(self, x):
        enc = self.enc
        N = x.shape[0]
        x, _ = enc.embed(x, torch.zeros(N, EMBED_CH, EMBED_LEFT, FREQ))
        masks = []
        for s in range(len(LAYERS)):
            L, C = LEFT_FRAMES // DS[s], CHUNK // 2 // DS[s]
            # positions at the stack's rate (x.shape[1] stays symbolic in the export)
            pos = torch.div(torch.arange(x.shape[1])[::DS[s]], DS[s], rounding_mode="floor")
            i, j = pos.view(-1, 1), pos.view(1, -1)
            start = torch.div(i, C, rounding_mode="floor") * C
            masks.append(((j < start + C) & (j >= start - L)).unsqueeze(0))
        caches = []
        for layer in enc.layers:
            d, kq, kv = layer.d, layer.h * layer.qd, layer.h * layer.vd
            caches.append([torch.zeros(N, 0, kq), torch.zeros(N, 0, 3 * d // 4), torch.zeros(N, 0, kv),
                           torch.zeros(N, 0, kv), torch.zeros(N, d, layer.cache_conv), torch.zeros(N, d, layer.cache_conv)])
        out, _ = enc.body(x, masks, caches)
        return out


class Decoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(VOCAB, DECODER)
        self.ctx = nn.Linear(CONTEXT * DECODER, DECODER)
        self.proj = nn.Linear(DECODER, JOINER)
        with torch.no_grad():
            self.proj.weight.mul_(DEC_GAIN)

    def forward(self, y):
        e = self.emb(y.clamp(min=0)) * (y >= 0).unsqueeze(-1).float()
        return self.proj(torch.relu(self.ctx(e.reshape(y.shape[0], CONTEXT * DECODER))))


class Joiner(nn.Module):
    def __init__(self):
        super().__init__()
        self.out = nn.Linear(JOINER, VOCAB)
        with torch.no_grad():
            self.out.weight.mul_(JOINER_GAIN)
            self.out.bias[0] += BLANK_BIAS

    def forward(self, encoder_out, decoder_out):
        return self.out(torch.tanh(encoder_out + decoder_out))


def init_states(enc, N=1):
    states = []
    for s, n in enumerate(LAYERS):
        L = LEFT_FRAMES // DS[s]
        for _ in range(n):
            d = DIMS[s]
            states += [torch.zeros(L, N, QDIM[s] * HEADS[s]), torch.zeros(1, N, L, 3 * d // 4),
                       torch.zeros(L, N, VDIM[s] * HEADS[s]), torch.zeros(L, N, VDIM[s] * HEADS[s]),
                       torch.zeros(N, d, KERNELS[s] // 2), torch.zeros(N, d, KERNELS[s] // 2)]
    return states + [torch.zeros(N, EMBED_CH, EMBED_LEFT, FREQ), torch.zeros(N, dtype=torch.int64)]


def state_names():
    names = []
    for i in range(sum(LAYERS)):
        names += [f"cached_key_{i}", f"cached_nonlin_attn_{i}", f"cached_val1_{i}", f"cached_val2_{i}",
                  f"cached_conv1_{i}", f"cached_conv2_{i}"]
    return names + ["embed_states", "processed_lens"]


def csv(v):
    return ",".join(map(str, v))


def main(out):
    enc = Encoder().eval()
    dec, join = Decoder().eval(), Joiner().eval()
    names = state_names()
    batch_axis = {n: ({1: "N"} if n.startswith(("cached_key", "cached_nonlin", "cached_val")) else {0: "N"}) for n in names}
    with torch.no_grad():
        torch.onnx.export(
            Step(enc), (torch.randn(1, T, F), *init_states(enc)), f"{out}/encoder.onnx", opset_version=13,
            input_names=["x", *names], output_names=["encoder_out", *[f"new_{n}" for n in names]],
            dynamic_axes={"x": {0: "N"}, "encoder_out": {0: "N"}, **batch_axis, **{f"new_{n}": a for n, a in batch_axis.items()}},
        )
        add_metadata(f"{out}/encoder.onnx", {
            "model_type": "zipformer2", "version": "1", "model_author": "causeway",
            "comment": "Causeway tiny zipformer2-contract test model (random weights, not a recogniser)",
            "decode_chunk_len": CHUNK, "T": T, "num_encoder_layers": csv(LAYERS), "encoder_dims": csv(DIMS),
            "cnn_module_kernels": csv(KERNELS), "left_context_len": csv([LEFT_FRAMES // d for d in DS]),
            "query_head_dims": csv(QDIM), "value_head_dims": csv(VDIM), "num_heads": csv(HEADS),
        })
        torch.onnx.export(
            Offline(enc), (torch.randn(1, 3 * CHUNK + PAD, F),), f"{out}/offline.onnx", opset_version=13,
            input_names=["x"], output_names=["encoder_out"], dynamic_axes={"x": {1: "T"}, "encoder_out": {1: "T_out"}},
        )
        torch.onnx.export(
            dec, (torch.zeros(3, CONTEXT, dtype=torch.int64),), f"{out}/decoder.onnx", opset_version=13,
            input_names=["y"], output_names=["decoder_out"], dynamic_axes={"y": {0: "N"}, "decoder_out": {0: "N"}},
        )
        add_metadata(f"{out}/decoder.onnx", {"context_size": CONTEXT, "vocab_size": VOCAB})
        torch.onnx.export(
            join, (torch.rand(3, JOINER), torch.rand(3, JOINER)), f"{out}/joiner.onnx", opset_version=13,
            input_names=["encoder_out", "decoder_out"], output_names=["logit"],
            dynamic_axes={"encoder_out": {0: "N"}, "decoder_out": {0: "N"}, "logit": {0: "N"}},
        )
        add_metadata(f"{out}/joiner.onnx", {"joiner_dim": JOINER})
    with open(f"{out}/tokens.txt", "w") as f:
        for i, t in enumerate(TOKENS):
            f.write(f"{t} {i}\n")
    check(enc)


@torch.no_grad()
def check(enc):
    """Streaming windows with states == the offline graph, in torch, before anyone relies on it."""
    n = 5
    x = torch.randn(1, n * CHUNK + PAD, F) * 3
    ref = Offline(enc)(x)
    states = init_states(enc)
    got = []
    for w in range(n):
        out = Step(enc)(x[:, w * CHUNK:w * CHUNK + T], *states)
        got.append(out[0])
        states = list(out[1:])
    diff = (torch.cat(got, dim=1) - ref).abs().max().item()
    print(f"encoder_out {tuple(ref.shape)}: streaming vs offline max abs diff {diff:.2e}")
    assert diff < 1e-5, diff


if __name__ == "__main__":
    out = sys.argv[1] if len(sys.argv) > 1 else "."
    os.makedirs(out, exist_ok=True)
    main(out)

"""
Trains Causeway's command recogniser: the cache-aware encoder of models/cache_aware.py with a
CTC head over whole-word tokens (words.txt, blank last), on features made by gen-features.mjs
(Causeway's own streaming log-mel, so training and run time see the same numbers). Exports the
NeMo contract the `asr` operator runs: step.onnx + step.json + tokens.txt, and offline.onnx.

    /usr/bin/python3 models/command-asr/train.py <trainDirs> <evalDir> <outDir> [epochs] [size] [init.pt|-] [warp]

size: "full" (the shipped model) or "smoke" (a minute, to check the recipe end to end).
init.pt: continue from a checkpoint this script saved (a second stage on more data, at a lower
peak learning rate); without it (or "-"), training starts from random weights.
warp: the vocal-tract-length warping range (factors 1 +- warp; default WARP, 0 for none).
Every run saves its weights (normalisation folded in, as exported) to <first trainDir>/../command-asr.pt.
Training pads batches on the right: the model is causal, so padding never reaches the frames
before it, and CTC is told each utterance's true length.
"""
import copy
import json
import os
import sys
import time

import numpy as np
import onnx
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from cache_aware import Config, Model, Offline, Step  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
WORDS = open(os.path.join(HERE, "words.txt")).read().split()
BLANK = len(WORDS)
# Vocal-tract-length perturbation: warp factors 1 +- WARP, drawn per utterance (80% of them).
WARP = 0.12
SIZES = {
    # stride 4: 40 ms encoder frames; chunk 8 mel frames = 2 encoder frames (80 ms) per step.
    "full": Config(n_mels=80, d=128, layers=6, left=24, kernel=9, heads=4, vocab=len(WORDS) + 1, chunk=8, pre=4, stride=4),
    "small": Config(n_mels=80, d=64, layers=4, left=24, kernel=9, heads=4, vocab=len(WORDS) + 1, chunk=8, pre=4, stride=4),
    "smoke": Config(n_mels=80, d=32, layers=2, left=16, kernel=5, heads=2, vocab=len(WORDS) + 1, chunk=8, pre=4, stride=4),
}


def load(dirs):
    """One or more feature folders (comma-separated), concatenated."""
    all_feats, items, base = [], [], 0
    for d in dirs.split(","):
        f = np.fromfile(os.path.join(d, "feats.f32"), dtype=np.float32).reshape(-1, 80)
        for line in open(os.path.join(d, "manifest.jsonl")):
            it = json.loads(line)
            it["offset"] += base
            items.append(it)
        all_feats.append(f)
        base += len(f)
    return np.concatenate(all_feats), items


def mel_centres(n_mels=80, rate=16000):
    """Centre frequencies of StreamingLogMel's bands (Slaney scale, 0..rate/2; kernels/mel.ts)."""
    def hz_to_mel(f):
        f = np.asarray(f, dtype=np.float64)
        lin = f * 3 / 200
        return np.where(f >= 1000, 15 + np.log(np.maximum(f, 1e-9) / 1000) / (np.log(6.4) / 27), lin)

    def mel_to_hz(m):
        return np.where(m >= 15, 1000 * np.exp((m - 15) * (np.log(6.4) / 27)), m * 200 / 3)

    pts = np.linspace(hz_to_mel(0), hz_to_mel(rate / 2), n_mels + 2)
    return mel_to_hz(pts[1:-1])


CENTRES = mel_centres()


def vtlp_index(alpha):
    """Vocal-tract-length perturbation on log-mel frames: the warped spectrum at f is the original
    at f / alpha (alpha > 1 moves formants up, as a shorter vocal tract does). Returns, for each
    band, the fractional band of the original to read, by linear interpolation between centres."""
    src = CENTRES / alpha
    return np.clip(np.interp(src, CENTRES, np.arange(len(CENTRES))), 0, len(CENTRES) - 1)


def batches(feats, items, size, rng, mean, std, warp=0.0):
    # Length bucketing: utterances of similar length share a batch (less padding to compute),
    # with jitter so batches differ between epochs, and the batches in random order.
    lengths = np.array([it["frames"] for it in items]) * rng.uniform(0.9, 1.1, len(items))
    order = np.argsort(lengths)
    groups = [order[i:i + size] for i in range(0, len(order), size)]
    for g in rng.permutation(len(groups)):
        chunk = [items[j] for j in groups[g]]
        T = max(it["frames"] for it in chunk)
        x = np.zeros((len(chunk), 80, T), dtype=np.float32)
        for b, it in enumerate(chunk):
            f = feats[it["offset"]:it["offset"] + it["frames"]]
            if warp > 0 and rng.random() < 0.8:
                idx = vtlp_index(rng.uniform(1 - warp, 1 + warp))
                lo = np.minimum(idx.astype(np.int64), 78)
                w = (idx - lo).astype(np.float32)
                f = f[:, lo] * (1 - w) + f[:, lo + 1] * w
            # Normalised after the warp; the padding stays 0, the mean.
            x[b, :, :it["frames"]] = ((f - mean) / std).T
        ys = [[WORDS.index(w) for w in it["text"].split()] for it in chunk]
        yield torch.from_numpy(x), torch.tensor([it["frames"] for it in chunk]), ys


def spec_augment(x, rng):
    """Two frequency masks (up to 10 bands) and two time masks (up to 20 frames) per utterance,
    set to the mean (0 after normalisation)."""
    x = x.clone()
    B, M, T = x.shape
    for b in range(B):
        for _ in range(2):
            w = int(rng.integers(0, 11))
            f0 = int(rng.integers(0, M - w + 1))
            x[b, f0:f0 + w, :] = 0
            w = int(rng.integers(0, min(21, T // 4 + 1)))
            t0 = int(rng.integers(0, T - w + 1))
            x[b, :, t0:t0 + w] = 0
    return x


def greedy(lp):
    best = lp.argmax(-1).tolist()
    out, prev = [], -1
    for b in best:
        if b != BLANK and b != prev:
            out.append(WORDS[b])
        prev = b
    return " ".join(out)


def evaluate(m, feats, items, mean, std):
    m.eval()
    errors, words_total, exact = 0, 0, 0
    with torch.no_grad():
        for it in items:
            x = torch.from_numpy(((feats[it["offset"]:it["offset"] + it["frames"]] - mean) / std).T.copy()).unsqueeze(0)
            hyp = greedy(m.offline(x)[0])
            ref = it["text"].split()
            h = hyp.split()
            # word errors by edit distance
            dp = list(range(len(h) + 1))
            for i, r in enumerate(ref, 1):
                prev, dp[0] = dp[0], i
                for j, w in enumerate(h, 1):
                    prev, dp[j] = dp[j], min(dp[j] + 1, dp[j - 1] + 1, prev + (r != w))
            errors += dp[len(h)]
            words_total += len(ref)
            exact += hyp == it["text"]
    m.train()
    return errors / max(1, words_total), exact / max(1, len(items))


def fold_normalisation(m, mean, std):
    """pre((x - mean) / std) == pre'(x): fold the feature normalisation into the first conv."""
    with torch.no_grad():
        w = m.pre.weight  # [d, n_mels, k]
        s = torch.from_numpy(std).view(1, -1, 1)
        mu = torch.from_numpy(mean).view(1, -1, 1)
        m.pre.bias -= (w * mu / s).sum(dim=(1, 2))
        m.pre.weight.copy_(w / s)


def unfold_normalisation(m, mean, std):
    """The inverse of fold_normalisation for a saved (folded) checkpoint, against this run's
    mean and std: pre'(x) == pre((x - mean) / std) exactly, whatever mean and std are."""
    with torch.no_grad():
        wf = m.pre.weight.clone()
        m.pre.bias += (wf * torch.from_numpy(mean).view(1, -1, 1)).sum(dim=(1, 2))
        m.pre.weight.copy_(wf * torch.from_numpy(std).view(1, -1, 1))


def freeze_step_shapes(model, c):
    """The step graph with a full chunk as fixed input sizes: with fewer dynamic dims onnxruntime
    folds most shape computations away (the graph is small; its cost is mostly per-node
    dispatch: fixing every dim took a step from 2.0 to 0.8 ms). The batch dim B stays free, so
    the steps of many streams run as one batch (core/onnx/batcher.ts). The runner only ever
    feeds full chunks (a last partial one is zero-padded: the encoder is causal)."""
    fixed = {"T": c.pre + c.chunk, "T_out": c.chunk // c.stride}
    for v in list(model.graph.input) + list(model.graph.output):
        for d in v.type.tensor_type.shape.dim:
            if d.dim_param in fixed:
                value = fixed[d.dim_param]
                d.ClearField("dim_param")
                d.dim_value = value
    return model


def export(m, c, out):
    os.makedirs(out, exist_ok=True)
    ex = (torch.randn(1, c.n_mels, c.pre + c.chunk), torch.tensor([c.pre + c.chunk]), torch.zeros(1, c.layers, c.left, c.d),
          torch.zeros(1, c.layers, c.d, c.kernel - 1), torch.zeros(1, dtype=torch.int64))
    torch.onnx.export(
        Step(m), ex, f"{out}/step.onnx", opset_version=17,
        input_names=["audio_signal", "length", "cache_last_channel", "cache_last_time", "cache_last_channel_len"],
        output_names=["logprobs", "encoded_lengths", "cache_last_channel_next", "cache_last_time_next", "cache_last_channel_next_len"],
        dynamic_axes={"audio_signal": {0: "B", 2: "T"}, "length": {0: "B"}, "cache_last_channel": {0: "B"}, "cache_last_time": {0: "B"},
                      "cache_last_channel_len": {0: "B"}, "logprobs": {0: "B", 1: "T_out"}})
    meta = {"model_type": "EncDecCTCModelBPE", "vocab_size": c.vocab - 1, "subsampling_factor": c.stride, "window_size": c.pre + c.chunk,
            "chunk_shift": c.chunk, "pre_encode_cache_size": c.pre, "cache_last_channel_dim1": c.layers, "cache_last_channel_dim2": c.left,
            "cache_last_channel_dim3": c.d, "cache_last_time_dim1": c.layers, "cache_last_time_dim2": c.d, "cache_last_time_dim3": c.kernel - 1,
            "feat_dim": c.n_mels, "normalize_type": "", "frontend": "causeway", "comment": "Causeway command recogniser (models/command-asr)"}
    model = freeze_step_shapes(onnx.load(f"{out}/step.onnx"), c)
    for k, v in meta.items():
        e = model.metadata_props.add()
        e.key, e.value = k, str(v)
    onnx.save(model, f"{out}/step.onnx")
    json.dump(meta, open(f"{out}/step.json", "w"), indent=2)
    with open(f"{out}/tokens.txt", "w") as f:
        for i, w in enumerate(WORDS):
            f.write(f"\u2581{w} {i}\n")
        f.write(f"<blk> {BLANK}\n")
    torch.onnx.export(Offline(m), (torch.randn(1, c.n_mels, 40),), f"{out}/offline.onnx", opset_version=17,
                      input_names=["audio_signal"], output_names=["logprobs"], dynamic_axes={"audio_signal": {2: "T"}, "logprobs": {1: "T"}})


def main():
    train_dir, eval_dir, out = sys.argv[1:4]
    epochs = int(sys.argv[4]) if len(sys.argv) > 4 else 20
    c = SIZES[sys.argv[5] if len(sys.argv) > 5 else "full"]
    init = sys.argv[6] if len(sys.argv) > 6 and sys.argv[6] != "-" else None
    warp = float(sys.argv[7]) if len(sys.argv) > 7 else WARP
    torch.manual_seed(7)
    rng = np.random.default_rng(7)
    feats, items = load(train_dir)
    efeats, eitems = load(eval_dir)
    mean, std = feats.mean(0), feats.std(0) + 1e-5
    m = Model(c)
    if init:
        m.load_state_dict(torch.load(init))
        unfold_normalisation(m, mean, std)
    params = sum(p.numel() for p in m.parameters())
    print(f"{params} parameters, {len(items)} training utterances, {len(eitems)} eval, init {init or 'random'}, warp {warp}", flush=True)
    # A second stage starts from trained weights: a lower peak, so it refines rather than restarts.
    peak = 1e-3 if init else 2e-3
    opt = torch.optim.AdamW(m.parameters(), lr=peak, weight_decay=1e-2)
    steps = epochs * ((len(items) + 31) // 32)
    # epochs 0 exports init as it is (an interrupted run's last epoch checkpoint, say).
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=peak, total_steps=steps, pct_start=0.1) if steps else None
    work = os.path.dirname(os.path.abspath(train_dir.split(",")[0]))
    t0 = time.time()
    for epoch in range(epochs):
        total = 0.0
        for x, lens, ys in batches(feats, items, 32, rng, mean, std, warp):
            lp = m.offline(spec_augment(x, rng)).transpose(0, 1)  # [T / stride, B, V]
            target = torch.tensor([t for y in ys for t in y])
            loss = F.ctc_loss(lp, target, torch.div(lens, c.stride, rounding_mode="floor"), torch.tensor([len(y) for y in ys]), blank=BLANK, zero_infinity=True)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(m.parameters(), 5.0)
            opt.step()
            sched.step()
            total += loss.item()
        wer, exact = evaluate(m, efeats, eitems, mean, std)
        print(f"epoch {epoch + 1}/{epochs}: loss {total:.1f}, held-out WER {wer:.3f}, exact {exact:.3f}, {time.time() - t0:.0f} s", flush=True)
        # Each epoch's weights, in the saved (folded) form, so a run cut short still leaves them.
        snap = copy.deepcopy(m)
        fold_normalisation(snap, mean, std)
        torch.save(snap.state_dict(), os.path.join(work, f"epoch-{epoch + 1}.pt"))
    fold_normalisation(m, mean, std)
    m.eval()
    torch.save(m.state_dict(), os.path.join(work, "command-asr.pt"))
    export(m, c, out)
    print(f"exported to {out}", flush=True)


if __name__ == "__main__":
    main()

"""
Trains the keyword spotter's head: two small networks over the last N = 16 embeddings (1.28 s of
steps; each embedding reads 0.76 s of mel frames before its step), an MLP and a convolution over
the steps, whose probabilities are averaged -> the 40 command words of
models/command-asr/words.txt + "none", on the streams gen-data.mjs made with the operator's own
front end. Exports head.onnx (embeddings [batch, 16, 96] -> probs [batch, 41], softmax inside) and
head.json (classes, window, the labels' timing; the threshold is set by evaluate.mjs --tune).

    /usr/bin/python3 models/kws/train.py <trainDirs> <valDir> <evalDir> <outDir> [epochs, default 14]

Labels, per step (the step ending at sample t of its stream; a command word's speech at [s, e)):
  - the word, for e <= t <= e + POSITIVE (the head says the word once it has heard all of it);
  - ignored (no loss) for e - EARLY < t < e (the last step inside the word) and for
    e + POSITIVE < t <= e + LATE (the word is old news: either answer is fine);
  - "none" everywhere else: silence, noise, other speech, and the inside of a command word
    (so "forward" is not "four" before it ends).
valDir: training voices, other seeds (the threshold is tuned there); evalDir: held-out voices only,
reported and never tuned on.
"""
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
WORDS = open(os.path.join(HERE, "..", "command-asr", "words.txt")).read().split()
NONE = len(WORDS)
CLASSES = WORDS + ["none"]
N = 16
DIM = 96
HOP = 1280
RATE = 16000
POSITIVE = 0.32
EARLY = 0.08
LATE = 0.8
IGNORE = -1


def load(dirs):
    """Feature folders (comma-separated) -> embeddings [S, 96], and (window end index, label) of every step after priming."""
    feats, ends, labels, base = [], [], [], 0
    for d in dirs.split(","):
        f = np.fromfile(os.path.join(d, "feats.f32"), dtype=np.float32).reshape(-1, DIM)
        segs = {}
        for line in open(os.path.join(d, "segments.jsonl")):
            s = json.loads(line)
            segs.setdefault(s["stream"], []).append(s)
        for line in open(os.path.join(d, "streams.jsonl")):
            st = json.loads(line)
            assert st["priming"] >= N - 1, "a stream's priming must fill the window"
            t = (np.arange(st["steps"]) + 1) * HOP
            lab = np.full(st["steps"], NONE, dtype=np.int64)
            # Ignored first, then words: a word's positive steps win over another's ignored ones.
            for s in segs.get(st["stream"], []):
                if s["kind"] != "command":
                    continue
                a, e = s["span"]
                lab[((t > e - EARLY * RATE) & (t < e)) | ((t > e + POSITIVE * RATE) & (t <= e + LATE * RATE))] = IGNORE
            for s in segs.get(st["stream"], []):
                if s["kind"] == "command":
                    e = s["span"][1]
                    lab[(t >= e) & (t <= e + POSITIVE * RATE)] = WORDS.index(s["text"])
            ends.append(base + st["offset"] + st["priming"] + np.arange(st["steps"]))
            labels.append(lab)
        feats.append(f)
        base += len(f)
    return np.concatenate(feats), np.concatenate(ends), np.concatenate(labels)


class Head(torch.nn.Module):
    """Per-step projection 96 -> 64, then an MLP over the 16 x 64 values; inputs normalised by the training set's statistics."""

    def __init__(self, mean, std, hidden=256):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean))
        self.register_buffer("std", torch.tensor(std))
        self.proj = torch.nn.Linear(DIM, 64)
        self.mlp = torch.nn.Sequential(
            torch.nn.Linear(N * 64, hidden), torch.nn.ReLU(), torch.nn.Dropout(0.3),
            torch.nn.Linear(hidden, 128), torch.nn.ReLU(), torch.nn.Dropout(0.2),
            torch.nn.Linear(128, len(CLASSES)),
        )

    def forward(self, x):
        x = (x - self.mean) / self.std
        x = F.relu(self.proj(x))
        return self.mlp(x.flatten(1))


class ConvHead(torch.nn.Module):
    """Convolutions over the 16 steps (each step's 96 values as channels), then an MLP over what is left."""

    def __init__(self, mean, std, width=64):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean))
        self.register_buffer("std", torch.tensor(std))
        self.conv = torch.nn.Sequential(
            torch.nn.Conv1d(DIM, width, 3), torch.nn.ReLU(),
            torch.nn.Conv1d(width, width, 3), torch.nn.ReLU(),
            torch.nn.Conv1d(width, width, 3, dilation=2), torch.nn.ReLU(),
        )
        self.mlp = torch.nn.Sequential(torch.nn.Dropout(0.3), torch.nn.Linear(width * 8, 128), torch.nn.ReLU(), torch.nn.Dropout(0.2), torch.nn.Linear(128, len(CLASSES)))

    def forward(self, x):
        x = (x - self.mean) / self.std
        return self.mlp(self.conv(x.transpose(1, 2)).flatten(1))


class Pair(torch.nn.Module):
    """Both heads, trained side by side on the same batches; their probabilities are averaged
    (on the training voices' validation split, the pair found as many words as either head alone
    with a quarter to a third fewer false alarms)."""

    def __init__(self, mean, std):
        super().__init__()
        self.mlp = Head(mean, std)
        self.conv = ConvHead(mean, std)

    def forward(self, x):
        return self.mlp(x), self.conv(x)

    def probs(self, x):
        a, b = self(x)
        return (torch.softmax(a, dim=-1) + torch.softmax(b, dim=-1)) / 2


class Export(torch.nn.Module):
    def __init__(self, pair):
        super().__init__()
        self.pair = pair

    def forward(self, embeddings):
        return self.pair.probs(embeddings)


def windows(feats, ends):
    return torch.from_numpy(feats[ends[:, None] + np.arange(-N + 1, 1)[None, :]])


def evaluate(model, feats, ends, labels):
    """Step accuracy on the labelled steps, and on the positive ones alone."""
    model.eval()
    keep = labels != IGNORE
    e, y = ends[keep], labels[keep]
    preds = []
    with torch.no_grad():
        for i in range(0, len(e), 4096):
            preds.append(model.probs(windows(feats, e[i:i + 4096])).argmax(-1).numpy())
    p = np.concatenate(preds)
    pos = y != NONE
    return float((p == y).mean()), float((p[pos] == y[pos]).mean()), float((p[~pos] != NONE).mean())


def main():
    train_dirs, val_dir, eval_dir, out_dir = sys.argv[1:5]
    epochs = int(sys.argv[5]) if len(sys.argv) > 5 else 14
    torch.manual_seed(7)
    np.random.seed(7)
    torch.set_num_threads(2)
    feats, ends, labels = load(train_dirs)
    vf, ve, vl = load(val_dir)
    ef, ee, el = load(eval_dir)
    keep = labels != IGNORE
    ends, labels = ends[keep], labels[keep]
    mean, std = feats.mean(0), feats.std(0) + 1e-3
    model = Pair(mean.astype(np.float32), std.astype(np.float32))
    params = sum(p.numel() for p in model.parameters())
    counts = np.bincount(labels, minlength=len(CLASSES))
    print(f"{params} parameters; {len(labels)} training steps ({counts[:NONE].sum()} on words, {counts[NONE]} none; fewest for a word: {counts[:NONE].min()}), val {len(vl)}, held-out {len(el)}", flush=True)
    batch = 512
    steps_per_epoch = (len(labels) + batch - 1) // batch
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-2)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=epochs * steps_per_epoch, pct_start=0.15)
    start = time.time()
    for epoch in range(epochs):
        model.train()
        order = np.random.permutation(len(labels))
        total = 0.0
        for i in range(0, len(order), batch):
            idx = order[i:i + batch]
            x = windows(feats, ends[idx])
            # Embedding dropout (whole steps) and small noise: the head must not lean on one step.
            x = x * (torch.rand(x.shape[0], N, 1) > 0.1) + 0.05 * torch.randn_like(x) * torch.from_numpy(std)
            y = torch.from_numpy(labels[idx])
            loss = sum(F.cross_entropy(logits, y, label_smoothing=0.05) for logits in model(x))
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
        va = evaluate(model, vf, ve, vl)
        ea = evaluate(model, ef, ee, el)
        print(f"epoch {epoch + 1}/{epochs}: loss {total / len(labels):.4f} (both heads); step accuracy val {va[0]:.4f} (words {va[1]:.4f}, none called a word {va[2]:.4f}), held-out {ea[0]:.4f} (words {ea[1]:.4f}, none called a word {ea[2]:.4f}); {time.time() - start:.0f} s", flush=True)
    model.eval()
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "head.onnx")
    torch.onnx.export(Export(model), torch.zeros(1, N, DIM), path, input_names=["embeddings"], output_names=["probs"],
                      dynamic_axes={"embeddings": {0: "batch"}, "probs": {0: "batch"}}, opset_version=13)
    config = {
        "classes": CLASSES,
        "none": "none",
        "window": N,
        "embedding": DIM,
        "hopSamples": HOP,
        "sampleRate": RATE,
        "labels": {"positiveS": POSITIVE, "earlyS": EARLY, "lateS": LATE},
        "threshold": 0.5,
        "parameters": params,
    }
    json.dump(config, open(os.path.join(out_dir, "head.json"), "w"), indent=2)
    print(f"exported to {out_dir} ({os.path.getsize(path)} bytes)")


if __name__ == "__main__":
    main()

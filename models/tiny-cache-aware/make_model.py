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

The architecture is models/cache_aware.py; here it is tiny (2 layers of 32), with a causal conv
front end over mel frames (kernel 3, stride 1), so each chunk is preceded by 2 cached mel frames.
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from cache_aware import Config, Model, Offline, Step  # noqa: E402
from onnx_metadata import add_metadata  # noqa: E402

C = Config(n_mels=16, d=32, layers=2, left=8, kernel=5, heads=2, vocab=11, chunk=4, pre=2,
           # Blank (the last id, as in NeMo) favoured, so quiet input decodes to blanks and the
           # decoder's endpointing has something to find even with random weights.
           blank_bias=6.0)

torch.manual_seed(1234)


def main(out):
    m = Model(C).eval()
    ex = (
        torch.randn(1, C.n_mels, C.pre + C.chunk),
        torch.tensor([C.pre + C.chunk], dtype=torch.int64),
        torch.zeros(1, C.layers, C.left, C.d),
        torch.zeros(1, C.layers, C.d, C.kernel - 1),
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
        "model_type": "EncDecCTCModelBPE", "vocab_size": C.vocab - 1, "subsampling_factor": 1,
        "window_size": C.pre + C.chunk, "chunk_shift": C.chunk, "pre_encode_cache_size": C.pre,
        "cache_last_channel_dim1": C.layers, "cache_last_channel_dim2": C.left, "cache_last_channel_dim3": C.d,
        "cache_last_time_dim1": C.layers, "cache_last_time_dim2": C.d, "cache_last_time_dim3": C.kernel - 1,
        "feat_dim": C.n_mels, "normalize_type": "", "frontend": "causeway", "comment": "Causeway tiny cache-aware test model (random weights)",
    }
    add_metadata(f"{out}/step.onnx", meta)
    torch.onnx.export(
        Offline(m), (torch.randn(1, C.n_mels, 20),), f"{out}/offline.onnx", opset_version=17,
        input_names=["audio_signal"], output_names=["logprobs"], dynamic_axes={"audio_signal": {2: "T"}, "logprobs": {1: "T"}},
    )
    with open(f"{out}/step.json", "w") as f:
        json.dump(meta, f, indent=2)
    print(json.dumps(meta))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else ".")

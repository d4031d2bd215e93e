"""
The video-world model at the size the issue's GPU goal names, for speed checks on a GPU: 256x256
frames as 256 tokens of 16x16 patches, 12 layers d512 (8 heads, FFN 2048), 1 sink + 8 window
frames (the configuration `../shared/gpu`'s probe timed). Random weights: its frames are not a
world, and what it is for is how long a step takes with the cache resident on a device.
    /usr/bin/python3 models/video-world/make_large.py [outDir, default models/video-world/large]
Writes step.onnx and step.json with every weight of 64 KB or more in an external file
(step.weights, ~150 MB), which the repo does not keep: `node models/video-world/large-weights.mjs`
writes one from a seed, on any machine, without torch. Only the step graph: the check times steps.
"""
import os
import sys

import onnx
import torch
from onnx.external_data_helper import convert_model_to_external_data

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from model import Config, Net, Step, ring_step  # noqa: E402

WEIGHTS = "step.weights"


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "large")
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(7)
    c = Config(size=256, patch=16, d=512, heads=8, layers=12, ffn=2048, sink=1, window=8)
    net = Net(c).eval()
    path = os.path.join(out, "step.onnx")
    with torch.no_grad():
        B = 1
        ex = (torch.randn(B, c.tokens, c.patch_dim), torch.randn(B, c.cond_dim),
              torch.randn(B, c.layers, c.slots, c.tokens, c.d), torch.randn(B, c.layers, c.slots, c.tokens, c.d),
              torch.zeros(B, c.slots, dtype=torch.long))
        names = ["frame", "cond", "past_k", "past_v", "slot_distance"]
        outs = ["next_frame", "new_k", "new_v"]
        torch.onnx.export(Step(net), ex, path, opset_version=17, input_names=names, output_names=outs,
                          dynamic_axes={n: {0: "B"} for n in names + outs})
    ring_step(path)
    m = onnx.load(path)
    convert_model_to_external_data(m, all_tensors_to_one_file=True, location=WEIGHTS, size_threshold=65536)
    onnx.save_model(m, path)
    params = sum(p.numel() for p in net.parameters())
    meta = {
        "model_type": "causeway-video-world",
        "size": c.size, "patch": c.patch, "channels": c.channels, "tokens": c.tokens, "patch_dim": c.patch_dim,
        "d": c.d, "heads": c.heads, "layers": c.layers, "ffn": c.ffn,
        "sink_frames": c.sink, "window_frames": c.window, "cond_dim": c.cond_dim,
        "parameters": params,
        "comment": "random weights, for speed checks on a device: step.weights comes from large-weights.mjs",
    }
    import json
    with open(os.path.join(out, "step.json"), "w") as f:
        json.dump(meta, f, indent=2)
    print(f"{params} parameters, {c.tokens} tokens of {c.patch_dim} a frame, {c.layers} layers d{c.d}, cache {c.sink} + {c.window} frames: {path}")


if __name__ == "__main__":
    main()

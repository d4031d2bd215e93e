"""
The video-world model at the size the issue's GPU goal names, for speed checks on a GPU: 256x256
frames as 256 tokens of 16x16 patches, 12 layers d512 (8 heads, FFN 2048), 1 sink + 8 window
frames (the configuration `../shared/gpu`'s probe timed). Random weights: its frames are not a
world, and what it is for is how long a step takes with the cache resident on a device.
    /usr/bin/python3 models/video-world/make_large.py [outDir, default models/video-world/large]
Writes step.onnx and step.json with every weight of 64 KB or more in an external file
(step.weights, 158 MB), which the repo does not keep: `node models/video-world/large-weights.mjs`
writes one from a seed, on any machine, without torch. Only the step graph: the check times steps.
"""
import json
import os
import sys

import onnx
import torch
from onnx.external_data_helper import convert_model_to_external_data

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from model import Config, Net, export_step, step_meta  # noqa: E402

WEIGHTS = "step.weights"


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "large")
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(7)
    c = Config(size=256, patch=16, d=512, heads=8, layers=12, ffn=2048, sink=1, window=8)
    net = Net(c).eval()
    path = os.path.join(out, "step.onnx")
    export_step(net, path)
    m = onnx.load(path)
    convert_model_to_external_data(m, all_tensors_to_one_file=True, location=WEIGHTS, size_threshold=65536)
    # onnx appends to an existing weights file (offsets after its end): start from none.
    if os.path.exists(os.path.join(out, WEIGHTS)):
        os.remove(os.path.join(out, WEIGHTS))
    onnx.save_model(m, path)
    meta = step_meta(net, {"comment": "random weights, for speed checks on a device: step.weights comes from large-weights.mjs"})
    with open(os.path.join(out, "step.json"), "w") as f:
        json.dump(meta, f, indent=2)
    params = meta["parameters"]
    print(f"{params} parameters, {c.tokens} tokens of {c.patch_dim} a frame, {c.layers} layers d{c.d}, cache {c.sink} + {c.window} frames: {path}")


if __name__ == "__main__":
    main()

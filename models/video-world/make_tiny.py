"""
A tiny random-weight video-world model in the shipped contract (step.onnx + offline.onnx +
step.json), for the contract and streaming == offline tests:
    /usr/bin/python3 models/video-world/make_tiny.py models/video-world/tiny
Its frames are not a world; the distance biases are random (not zero, as training starts) so that
a slot read at the wrong distance changes the output.
"""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from model import Config, Net, export, self_test  # noqa: E402


def main():
    out = sys.argv[1]
    torch.manual_seed(5)
    c = Config(size=32, patch=8, d=32, heads=2, layers=2, ffn=64, sink=1, window=3)
    net = Net(c)
    with torch.no_grad():
        net.dist_bias.normal_(0, 1.0)
        net.head[-1].weight.normal_(0, 0.2)
    net.eval()
    diff, scale = self_test(net)
    print(f"python stream vs offline: max abs diff {diff:.2e} (output scale {scale:.2e})")
    diff, scale = self_test(net, batch=3)
    print(f"python stream vs offline, 3 streams in one batch: max abs diff {diff:.2e} (output scale {scale:.2e})")
    meta = export(net, out, {"comment": "random weights: contract tests only"})
    print(f"{meta['parameters']} parameters, {meta['tokens']} tokens of {meta['patch_dim']} a frame, cache {meta['sink_frames']} + {meta['window_frames']} frames, exported to {out}")


if __name__ == "__main__":
    main()

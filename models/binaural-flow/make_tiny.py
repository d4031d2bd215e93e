"""
A tiny random-weight binaural-flow model in the shipped model's contract (step.onnx +
step.json + offline.onnx), for the contract and streaming == offline tests:
    /usr/bin/python3 models/binaural-flow/make_tiny.py models/binaural-flow/tiny
Its output is not binaural audio of any quality; the head and FiLM layers are given large random
weights so that every U-Net path (and so every buffer in the bank) changes the output.
"""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from model import Config, Net, export, self_test  # noqa: E402


def main():
    out = sys.argv[1]
    torch.manual_seed(3)
    # No level of 6 channels: onnxruntime-node 1.30's WebGPU Conv miscomputes 6 input channels to a
    # multiple of 4 outputs (a 1 x 3 kernel, 8.0 off; 6 -> 6 and 6 -> 18 are right), which the
    # step's partial sums of a 6-channel level would be, and the device test runs this model.
    c = Config(ch=(4, 4, 8, 8), emb=8, mask_hidden=16)
    net = Net(c)
    with torch.no_grad():
        net.head.weight.normal_(0, 0.3)
        net.head.bias.normal_(0, 0.1)
        for f in net.film:
            f.weight.normal_(0, 0.2)
    net.eval()
    diff, scale = self_test(net)
    print(f"python step vs offline: max abs diff {diff:.2e} (output scale {scale:.2e})")
    diff, scale = self_test(net, batch=3)
    print(f"python step vs offline, 3 streams in one batch: max abs diff {diff:.2e} (output scale {scale:.2e})")
    meta = export(net, out, {"comment": "random weights: contract tests only"})
    print(f"{meta['parameters']} parameters, bank {meta['evaluations']} x {meta['bank_size']}, exported to {out}")


if __name__ == "__main__":
    main()

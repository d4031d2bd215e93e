"""
Re-export a trained binaural-flow model's step graph from its own weights, no training:
    /usr/bin/python3 models/binaural-flow/restep.py models/binaural-flow/model
Reads the weights out of offline.onnx (the trained graph's initializers: named convs and biases,
the Linear layers' transposed weights in module order), rebuilds the Net, checks it against
itself (step == offline), and writes a new step.onnx and step.json (offline.onnx is left as it
is). Used when the step graph's layout changes (the batch-last step) with the weights unchanged.
"""
import json
import os
import sys

import numpy as np
import onnx
import torch
from onnx import numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from model import Config, Net, Offline, export, self_test  # noqa: E402


def config_from(meta, weights, graph):
    ch = tuple(weights[f"net.layers.{k}.conv.weight"].shape[0] for k in range(4))
    mid = next(n for n in graph.node if n.op_type == "Conv" and n.input[1] == "net.layers.4.conv.weight")
    dilation = next(a.ints[1] for a in mid.attribute if a.name == "dilations")
    return Config(ch=ch, emb=weights["net.emb.0.bias"].shape[0], mask_hidden=weights["net.mask.0.bias"].shape[0],
                  power=meta["power"], sigma=meta["sigma"], schedule=tuple(meta["schedule"]), mid_dilation=dilation)


def load_net(model_dir):
    meta = json.load(open(os.path.join(model_dir, "step.json")))
    g = onnx.load(os.path.join(model_dir, "offline.onnx")).graph
    weights = {i.name: numpy_helper.to_array(i) for i in g.initializer}
    net = Net(config_from(meta, weights, g))
    state = net.state_dict()
    # The Linear weights were exported as anonymous MatMul initializers, [in, out], in the order
    # the graph uses them; match them to the Linear modules by that order and check every shape.
    linears = [k for k in state if k.endswith(".weight") and state[k].dim() == 2]
    seen = []
    for n in [n for n in g.node if n.op_type == "MatMul" and n.input[1] in weights]:
        if n.input[1] not in [m for m, _ in seen]:
            seen.append((n.input[1], weights[n.input[1]]))
    seen = [w for _, w in seen]
    order = ["mask.0", "mask.2", "mask.4", "emb.0"] + [f"film.{k}" for k in range(8)]
    if len(seen) != len(order) or sorted(linears) != sorted(f"{m}.weight" for m in order):
        raise SystemExit(f"offline.onnx has {len(seen)} Linear weights, the Net {len(linears)}: not this model's graph")
    for name, w in zip(order, seen):
        t = torch.from_numpy(np.ascontiguousarray(w.T))
        if tuple(t.shape) != tuple(state[f"{name}.weight"].shape):
            raise SystemExit(f"{name}.weight: offline.onnx has {tuple(t.shape)}, the Net wants {tuple(state[name + '.weight'].shape)}")
        state[f"{name}.weight"] = t
    for k in state:
        if f"net.{k}" in weights:
            state[k] = torch.from_numpy(weights[f"net.{k}"].copy())
    net.load_state_dict(state)
    return net.eval(), meta


def main():
    model_dir = sys.argv[1]
    net, meta = load_net(model_dir)
    diff, scale = self_test(net, batch=3)
    print(f"python step vs offline, 3 streams: max abs diff {diff:.2e} (scale {scale:.2e})")
    keep = {k: v for k, v in meta.items() if k not in ("bank_layout", "bank_size", "parameters", "receptive_field_frames", "evaluations")}
    keep["python_step_vs_offline"] = diff
    offline = open(os.path.join(model_dir, "offline.onnx"), "rb").read()
    export(net, model_dir, keep)
    open(os.path.join(model_dir, "offline.onnx"), "wb").write(offline)


if __name__ == "__main__":
    main()

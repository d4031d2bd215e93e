"""
Rewrite the command recogniser's exported step graph into a batch-friendly form, same weights,
same function (no training):
    /usr/bin/python3 models/command-asr/restep.py models/command-asr/model
The last step of make.sh; idempotent (a graph already rewritten is left as it is).

Why: a batch of 32 streams' steps cost 0.28 ms a stream against 0.52 ms for one step alone
(1.8x), and two kinds of node took most of the batched run:
- The depthwise convolution (Conv, group = channels): onnxruntime's CPU Conv runs one small
  GEMM per image and group, 32 x 128 of them at batch 32 (0.36 ms a layer). It becomes one
  batched MatMul over channels: [C, B, K-1+T] x [C, K-1+T, T] with each channel's kernel laid out
  as a banded (Toeplitz) matrix, 128 GEMMs whatever the batch (0.06 ms at batch 32, and a little
  faster at batch 1 too). The step's time length is fixed by the graph (one chunk), so the
  band's size is known.
- The context's key/value projection: the exported graph multiplies the whole context by the
  query, key and value weights and slices away the query part; the query's projection of the new
  frames likewise computes keys and values it never reads. Each MatMul keeps only the columns
  its slices read.
"""
import os
import sys

import numpy as np
import onnx
from onnx import helper, numpy_helper

MARK = "causeway_restep"


def rewrite(model):
    g = model.graph
    inits = {t.name: t for t in g.initializer}
    consts = {}
    for n in g.node:
        if n.op_type == "Constant":
            consts[n.output[0]] = numpy_helper.to_array(n.attribute[0].t)
    # torch's exporter hands a weight used twice to its second user through an Identity.
    for n in g.node:
        if n.op_type == "Identity" and n.input[0] in inits:
            inits[n.output[0]] = inits[n.input[0]]
    value = lambda name: numpy_helper.to_array(inits[name]) if name in inits else consts.get(name)
    consumers = {}
    for n in g.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    dims = lambda v: [d.dim_value if d.HasField("dim_value") else d.dim_param for d in v.type.tensor_type.shape.dim]
    io = {v.name: dims(v) for v in list(g.input) + list(g.output)}
    # A conv module's input is its cache (the last K-1 frames) and the step's encoder frames: the
    # band's height. (onnx's shape inference stops at LayerNormalization, so from the graph's I/O.)
    cache_t, frames = io["cache_last_time"][3], io["logprobs"][1]
    if not isinstance(cache_t, int) or not isinstance(frames, int):
        raise SystemExit("the step's time dims are not fixed (cache_last_time's last, logprobs' second): cannot lay a kernel out as a band")
    t_in = cache_t + frames
    graph_outputs = {o.name for o in g.output}
    new_inits, changed = [], {"depthwise": 0, "projections": 0}

    out_nodes = []
    for n in g.node:
        if n.op_type == "Conv" and len(n.input) >= 2 and n.input[1] in inits:
            w = value(n.input[1])
            attrs = {a.name: helper.get_attribute_value(a) for a in n.attribute}
            group = attrs.get("group", 1)
            if w.ndim == 3 and group == w.shape[0] and w.shape[1] == 1 and attrs.get("strides", [1]) == [1] \
                    and attrs.get("dilations", [1]) == [1] and not any(attrs.get("pads", [0, 0])) \
                    and attrs.get("auto_pad", b"NOTSET") in (b"NOTSET", b"VALID"):
                c, _, k = w.shape
                if cache_t != k - 1:
                    raise SystemExit(f"{n.name}: kernel {k} with a cache of {cache_t} frames; expected K - 1")
                t_out = t_in - k + 1
                band = np.zeros((c, t_in, t_out), np.float32)
                for t in range(t_out):
                    band[:, t:t + k, t] = w[:, 0, :]
                base = (n.name or n.output[0]).replace("/", "_").strip("_")
                new_inits.append(numpy_helper.from_array(band, f"{base}_band"))
                bias = value(n.input[2]) if len(n.input) > 2 else np.zeros(c, np.float32)
                new_inits.append(numpy_helper.from_array(bias.reshape(c, 1, 1).astype(np.float32), f"{base}_bias"))
                # [B, C, T] -> [C, B, T] x [C, T, T'] -> [C, B, T'] (+ bias) -> [B, C, T']
                out_nodes += [
                    helper.make_node("Transpose", [n.input[0]], [f"{base}_cbt"], perm=[1, 0, 2], name=f"{n.name}_in"),
                    helper.make_node("MatMul", [f"{base}_cbt", f"{base}_band"], [f"{base}_mm"], name=f"{n.name}_band"),
                    helper.make_node("Add", [f"{base}_mm", f"{base}_bias"], [f"{base}_biased"], name=f"{n.name}_bias"),
                    helper.make_node("Transpose", [f"{base}_biased"], [n.output[0]], perm=[1, 0, 2], name=f"{n.name}_out"),
                ]
                changed["depthwise"] += 1
                continue
        out_nodes.append(n)

    # A projection MatMul(x, W) + b whose every reader is a Slice of the last axis with constant
    # bounds keeps only the columns [lo, hi) those slices span. The activations here are [B, T, C]
    # (rank 3), so the last axis is -1 or 2.
    for n in out_nodes:
        if n.op_type != "MatMul" or n.input[1] not in inits or n.output[0] in graph_outputs:
            continue
        adds = consumers.get(n.output[0], [])
        if len(adds) != 1 or adds[0].op_type != "Add":
            continue
        add = adds[0]
        bias_name = next((i for i in add.input if i != n.output[0]), None)
        if bias_name not in inits:
            continue
        slices = consumers.get(add.output[0], [])
        if add.output[0] in graph_outputs or not slices or any(s.op_type != "Slice" or len(s.input) < 4 for s in slices):
            continue
        w, b = value(n.input[1]), value(bias_name)
        bounds = []
        for s in slices:
            starts, ends, axes = value(s.input[1]), value(s.input[2]), value(s.input[3])
            steps = value(s.input[4]) if len(s.input) > 4 else np.array([1])
            if starts is None or ends is None or axes is None or steps is None or len(axes) != 1 or int(steps[0]) != 1 \
                    or int(axes[0]) not in (-1, 2):
                bounds = None
                break
            # Negative bounds count from the end; both clamp to the columns there are.
            cols = w.shape[1]
            s0, s1 = (int(v) + cols if int(v) < 0 else int(v) for v in (starts[0], ends[0]))
            bounds.append((min(max(s0, 0), cols), min(max(s1, 0), cols)))
        if not bounds:
            continue
        lo, hi = min(b0 for b0, _ in bounds), max(b1 for _, b1 in bounds)
        if lo == 0 and hi == w.shape[1]:
            continue
        base = (n.name or n.output[0]).replace("/", "_").strip("_")
        new_inits.append(numpy_helper.from_array(np.ascontiguousarray(w[:, lo:hi]), f"{base}_cols"))
        new_inits.append(numpy_helper.from_array(np.ascontiguousarray(b[lo:hi]), f"{base}_bias_cols"))
        n.input[1] = f"{base}_cols"
        add.input[list(add.input).index(bias_name)] = f"{base}_bias_cols"
        for j, s in enumerate(slices):
            s0, s1 = bounds[j]
            new_inits.append(numpy_helper.from_array(np.array([s0 - lo], np.int64), f"{base}_s{j}_start"))
            new_inits.append(numpy_helper.from_array(np.array([s1 - lo], np.int64), f"{base}_s{j}_end"))
            s.input[1], s.input[2] = f"{base}_s{j}_start", f"{base}_s{j}_end"
        changed["projections"] += 1

    del g.node[:]
    g.node.extend(out_nodes)
    g.initializer.extend(new_inits)
    # Drop what no node reads any more (the convs' kernels, the full projection weights).
    while True:
        used = {i for n in g.node for i in n.input} | graph_outputs
        dead = [n for n in g.node if n.op_type in ("Identity", "Constant") and not any(o in used for o in n.output)]
        for n in dead:
            g.node.remove(n)
        if not dead:
            break
    used = {i for n in g.node for i in n.input} | graph_outputs
    kept = [t for t in g.initializer if t.name in used]
    del g.initializer[:]
    g.initializer.extend(kept)
    return changed


def main(model_dir):
    path = os.path.join(model_dir, "step.onnx")
    model = onnx.load(path)
    if any(p.key == MARK for p in model.metadata_props):
        print(f"{path}: already rewritten")
        return
    changed = rewrite(model)
    model.metadata_props.append(onnx.StringStringEntryProto(key=MARK, value=f"{changed['depthwise']} depthwise convs as banded MatMuls, {changed['projections']} projections cut to the columns read"))
    onnx.checker.check_model(model)
    onnx.save(model, path)
    print(f"{path}: {changed}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "model"))

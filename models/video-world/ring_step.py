"""
Turns a video-world step graph as model.py exports it (the cache in, the new frame's keys and
values out: `new_k`, `new_v` [B, L, T, D]) into the shipped one, whose cache is state: it also
takes `write_slot` [B] int64 and returns `next_past_k` / `next_past_v` [B, L, S, T, D], the cache
with that slot holding the new frame (a Where over a one-hot slot mask, per batch row). Weights
and every other node are untouched, so it computes the same frames; the runner feeds the
returned cache back as the next step's `past_k` / `past_v`, and on a GPU the cache then never
leaves device memory between frames (IO binding).
    /usr/bin/python3 models/video-world/ring_step.py <step.onnx>     (rewrites it in place)
"""
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def ring_step(path):
    m = onnx.load(path)
    g = m.graph
    names = [i.name for i in g.input]
    if "write_slot" in names:
        raise SystemExit(f"{path}: already takes write_slot (a ring step graph)")
    past = next(i for i in g.input if i.name == "past_k")
    dims = past.type.tensor_type.shape.dim
    slots = dims[2].dim_value
    if slots <= 0:
        raise SystemExit(f"{path}: past_k's slot dim is not fixed")
    g.input.append(helper.make_tensor_value_info("write_slot", TensorProto.INT64, ["B"]))
    g.initializer.extend([
        numpy_helper.from_array(np.arange(slots, dtype=np.int64), "ring_slot_ids"),
        numpy_helper.from_array(np.array([1], dtype=np.int64), "ring_axis_1"),
        numpy_helper.from_array(np.array([2], dtype=np.int64), "ring_axis_2"),
        numpy_helper.from_array(np.array([-1, 1, slots, 1, 1], dtype=np.int64), "ring_mask_shape"),
    ])
    g.node.extend([
        helper.make_node("Unsqueeze", ["write_slot", "ring_axis_1"], ["ring_write_col"]),
        # [S] == [B, 1] -> [B, S]: row b is true at its slot only.
        helper.make_node("Equal", ["ring_slot_ids", "ring_write_col"], ["ring_onehot"]),
        helper.make_node("Reshape", ["ring_onehot", "ring_mask_shape"], ["ring_mask"]),
    ])
    for kv in ("k", "v"):
        g.node.extend([
            helper.make_node("Unsqueeze", [f"new_{kv}", "ring_axis_2"], [f"ring_new_{kv}"]),
            helper.make_node("Where", ["ring_mask", f"ring_new_{kv}", f"past_{kv}"], [f"next_past_{kv}"]),
        ])
    keep = [o for o in g.output if o.name == "next_frame"]
    del g.output[:]
    g.output.extend(keep)
    for kv in ("k", "v"):
        g.output.append(helper.make_tensor_value_info(f"next_past_{kv}", TensorProto.FLOAT, ["B"] + [d.dim_value for d in dims[1:]]))
    onnx.checker.check_model(m)
    onnx.save(m, path)
    print(f"{path}: cache as state ({slots} slots), inputs {[i.name for i in g.input]}, outputs {[o.name for o in g.output]}")


if __name__ == "__main__":
    ring_step(sys.argv[1])

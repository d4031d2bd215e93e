"""Shared by the model scripts: write key/value metadata_props into an exported ONNX file."""
import onnx


def add_metadata(path, meta):
    model = onnx.load(path)
    for k, v in meta.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = k, str(v)
    onnx.save(model, path)

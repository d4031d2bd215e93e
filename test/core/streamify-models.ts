/**
 * A window CNN made here for the streamify tests (random weights, seeded): a 1-D temporal conv
 * net over [batch, channels, time] with a dilated stack, max pooling, average pooling and a last
 * convolution over what is left, one result per window; and variants streamify must refuse.
 */
import { floatTensor, floatValueInfo, int64Tensor, makeModel, node, type Model, type Node, type Tensor } from '../../core/onnx/graph.js';
import { rng } from '../helpers-random.js';

export const TCN_WINDOW = 40;
export const TCN_CHANNELS = 4;

export interface TcnVariant {
  /** Time padding on the first convolution (frames each side): not streamable. */
  padFirst?: number;
  /** A MatMul over the time axis at the end instead of the last convolution: not streamable. */
  timeMatMul?: boolean;
}

/**
 * [B, 4, 40] -> conv k3 -> relu -> conv k3 d2 -> maxpool k2 s2 -> conv k3 d2 -> leaky relu ->
 * avgpool k3 s1 -> (+ bias) -> conv k11 -> [B, 6, 1]: time lengths 40, 38, 34, 17, 13, 11, 1.
 */
export function tcnModel(variant: TcnVariant = {}): Model {
  const rand = rng(21);
  const inits: Tensor[] = [];
  const weight = (name: string, dims: number[]) => {
    const n = dims.reduce((a, b) => a * b, 1);
    inits.push(floatTensor(name, Float32Array.from({ length: n }, () => (rand() * 2 - 1) * 0.5), dims));
    return name;
  };
  const c = 8;
  const pad = variant.padFirst ?? 0;
  const nodes: Node[] = [
    node('Conv', ['x', weight('w1', [c, TCN_CHANNELS, 3]), weight('b1', [c])], ['c1'], { kernel_shape: [3], pads: [pad, pad] }),
    node('Relu', ['c1'], ['r1']),
    node('Conv', ['r1', weight('w2', [c, c, 3])], ['c2'], { kernel_shape: [3], dilations: [2] }),
    node('MaxPool', ['c2'], ['p1'], { kernel_shape: [2], strides: [2] }),
    node('Conv', ['p1', weight('w3', [c, c, 3]), weight('b3', [c])], ['c3'], { kernel_shape: [3], dilations: [2] }),
    node('LeakyRelu', ['c3'], ['r3']),
    node('AveragePool', ['r3'], ['p2'], { kernel_shape: [3], strides: [1] }),
    node('Add', ['p2', weight('bias', [c, 1])], ['a2']),
  ];
  const len = (TCN_WINDOW + 2 * pad - 2 - 4) / 2 - 4 - 2;
  if (variant.timeMatMul) {
    inits.push(int64Tensor('flat', [0, -1]));
    nodes.push(node('MatMul', ['a2', weight('wt', [len, 1])], ['mm']), node('Reshape', ['mm', 'flat'], ['y']));
  } else {
    nodes.push(node('Conv', ['a2', weight('w4', [6, c, len])], ['y'], { kernel_shape: [len] }));
  }
  return makeModel({
    name: 'tcn',
    nodes,
    inputs: [floatValueInfo('x', ['batch', TCN_CHANNELS, TCN_WINDOW])],
    outputs: [floatValueInfo('y', variant.timeMatMul ? ['batch', c] : ['batch', 6, 1])],
    initializers: inits,
  });
}

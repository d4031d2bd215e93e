/**
 * Reading, editing and writing ONNX graphs in Node (the protobuf classes of `onnx-proto`), for
 * tools that rewrite a model (streamify.ts). Only what those tools need: nodes, attributes,
 * initializers as typed arrays, and the shapes of every tensor, which onnxruntime computes for
 * us by running the graph once with every intermediate tensor made an output.
 */
import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import onnxProto from 'onnx-proto';
import { ModelError } from '../errors.js';

export const onnx = onnxProto.onnx;
export type Model = InstanceType<typeof onnx.ModelProto>;
export type Node = onnxProto.onnx.INodeProto;
export type Tensor = onnxProto.onnx.ITensorProto;
export type ValueInfo = onnxProto.onnx.IValueInfoProto;

const DataType = onnx.TensorProto.DataType;

/** An int64 field as protobufjs gives it (a number, or a Long when the `long` package is there). */
type IntLike = number | { toNumber(): number };
export const toNumber = (v: IntLike | null | undefined): number => (v === null || v === undefined ? 0 : typeof v === 'number' ? v : v.toNumber());

export function readModel(path: string): Model {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new ModelError('model-not-found', `cannot read ${path}: ${(e as Error).message.split('\n')[0]}`);
  }
  try {
    return onnx.ModelProto.decode(bytes);
  } catch (e) {
    throw new ModelError('model-invalid', `${path} is not an ONNX model (${(e as Error).message.split('\n')[0]})`);
  }
}

export function writeModel(model: Model): Uint8Array {
  return onnx.ModelProto.encode(model).finish();
}

/** A deep copy (encode, decode), so an edit never touches the caller's model. */
export function cloneModel(model: Model): Model {
  return onnx.ModelProto.decode(writeModel(model));
}

export function attr(node: Node, name: string): onnxProto.onnx.IAttributeProto | undefined {
  return node.attribute?.find((a) => a.name === name);
}

export function intsAttr(node: Node, name: string): number[] | undefined {
  const a = attr(node, name);
  return a ? (a.ints ?? []).map((v) => toNumber(v as IntLike)) : undefined;
}

export function intAttr(node: Node, name: string): number | undefined {
  const a = attr(node, name);
  return a ? toNumber(a.i as IntLike) : undefined;
}

export function stringAttr(node: Node, name: string): string | undefined {
  const a = attr(node, name);
  return a?.s ? new TextDecoder().decode(a.s) : undefined;
}

/** The values of an int64 or float initializer (raw_data or the typed field). */
export function tensorValues(t: Tensor): number[] {
  const raw = t.rawData && t.rawData.length > 0 ? t.rawData : undefined;
  if (t.dataType === DataType.INT64) {
    if (raw) return Array.from(new BigInt64Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength)), Number);
    return (t.int64Data ?? []).map((v) => toNumber(v as IntLike));
  }
  if (t.dataType === DataType.FLOAT) {
    if (raw) return Array.from(new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength)));
    return [...(t.floatData ?? [])];
  }
  throw new Error(`tensor ${t.name}: data type ${t.dataType} is not read here`);
}

export function int64Tensor(name: string, values: readonly number[], dims: readonly number[] = [values.length]): Tensor {
  const data = BigInt64Array.from(values, (v) => BigInt(v));
  return onnx.TensorProto.create({ name, dataType: DataType.INT64, dims: [...dims], rawData: new Uint8Array(data.buffer) });
}

export function floatTensor(name: string, values: Float32Array, dims: readonly number[]): Tensor {
  return onnx.TensorProto.create({ name, dataType: DataType.FLOAT, dims: [...dims], rawData: new Uint8Array(values.buffer, values.byteOffset, values.byteLength) });
}

/** A model of one graph at opset `opset` (default 17). */
export function makeModel(graph: { nodes: Node[]; inputs: ValueInfo[]; outputs: ValueInfo[]; initializers: Tensor[]; name?: string }, opset = 17): Model {
  return onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'causeway',
    opsetImport: [{ domain: '', version: opset }],
    graph: onnx.GraphProto.create({ name: graph.name ?? 'graph', node: graph.nodes, input: graph.inputs, output: graph.outputs, initializer: graph.initializers }),
  });
}

export function node(opType: string, inputs: string[], outputs: string[], attributes: Record<string, number | number[]> = {}): Node {
  const attribute = Object.entries(attributes).map(([name, v]) =>
    Array.isArray(v)
      ? onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INTS, ints: v })
      : onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INT, i: v }),
  );
  return onnx.NodeProto.create({ opType, input: inputs, output: outputs, attribute, name: outputs[0] });
}

export function floatValueInfo(name: string, dims: readonly (number | string)[]): onnxProto.onnx.IValueInfoProto {
  return onnx.ValueInfoProto.create({
    name,
    type: onnx.TypeProto.create({
      tensorType: onnx.TypeProto.Tensor.create({
        elemType: DataType.FLOAT,
        shape: onnx.TensorShapeProto.create({ dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) }),
      }),
    }),
  });
}

/** The declared dims of a graph input or output (a symbolic dim as its name). */
export function declaredDims(v: onnxProto.onnx.IValueInfoProto): (number | string)[] {
  return (v.type?.tensorType?.shape?.dim ?? []).map((d) => (d.dimParam ? d.dimParam : toNumber(d.dimValue as IntLike)));
}

/**
 * The dims of every tensor the graph computes for `feeds`: the graph run once by onnxruntime
 * with every node output made a graph output (an output needs no declared type there).
 */
export async function tensorShapes(model: Model, feeds: Record<string, ort.Tensor>): Promise<Map<string, number[]>> {
  const probe = cloneModel(model);
  const g = probe.graph!;
  const outputs = new Set((g.output ?? []).map((o) => o.name));
  for (const n of g.node ?? []) for (const o of n.output ?? []) if (o && !outputs.has(o)) g.output!.push(onnx.ValueInfoProto.create({ name: o }));
  const session = await ort.InferenceSession.create(writeModel(probe), { graphOptimizationLevel: 'disabled' });
  try {
    const out = await session.run(feeds);
    const shapes = new Map<string, number[]>();
    for (const [k, t] of Object.entries(feeds)) shapes.set(k, [...t.dims]);
    for (const [k, t] of Object.entries(out)) shapes.set(k, [...t.dims]);
    for (const t of g.initializer ?? []) shapes.set(t.name!, (t.dims ?? []).map((d) => toNumber(d as IntLike)));
    return shapes;
  } finally {
    await session.release();
  }
}

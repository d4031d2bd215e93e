/**
 * Custom metadata of an ONNX file (`ModelProto.metadata_props`: the key/value strings exporters
 * write, e.g. sherpa-onnx's `model_type`, `T`, `encoder_dims`). onnxruntime-node's JS API does not
 * expose it, so it is read here from the protobuf wire format directly.
 *
 * Only the top level of the ModelProto is walked, by positional reads of each field's header:
 * length-delimited fields other than metadata (the graph, which holds the weights, can be hundreds
 * of MB) are skipped by seeking past them, never read. Wire format: each field starts with a
 * varint key `(field_number << 3) | wire_type`; wire type 0 is a varint, 1 eight bytes, 2 a varint
 * length then that many bytes, 5 four bytes (3 and 4, groups, do not occur in ONNX).
 * `metadata_props` is field 14, repeated StringStringEntryProto { key = 1, value = 2 }.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { ModelError } from '../errors.js';

const GRAPH = 7;
const METADATA = 14;
/** A metadata entry larger than this is not metadata: the file is corrupt. */
const MAX_ENTRY = 16 << 20;

class Reader {
  private readonly buf = Buffer.alloc(10);

  constructor(
    private readonly fd: number,
    readonly size: number,
    private readonly path: string,
  ) {}

  fail(at: number, what: string): never {
    throw new ModelError('model-invalid', `${this.path} is not a valid ONNX model: ${what} at byte ${at} of ${this.size}`);
  }

  /** Reads a varint at `at`; returns its value (exact below 2^53, which covers every length) and the next position. */
  varint(at: number): [number, number] {
    const n = readSync(this.fd, this.buf, 0, Math.min(10, this.size - at), at);
    let value = 0;
    let scale = 1;
    for (let i = 0; i < n; i++) {
      const b = this.buf[i];
      value += (b & 0x7f) * scale;
      if ((b & 0x80) === 0) return [value, at + i + 1];
      scale *= 128;
    }
    return this.fail(at, n < 10 ? 'truncated varint' : 'varint longer than 10 bytes');
  }

  bytes(at: number, length: number): Buffer {
    const out = Buffer.alloc(length);
    if (readSync(this.fd, out, 0, length, at) !== length) this.fail(at, 'short read');
    return out;
  }
}

/** Decodes a varint from a buffer (metadata entries are small and read whole). */
function varintIn(b: Buffer, at: number): [number, number] | undefined {
  let value = 0;
  let scale = 1;
  for (let i = at; i < b.length && i < at + 10; i++) {
    value += (b[i] & 0x7f) * scale;
    if ((b[i] & 0x80) === 0) return [value, i + 1];
    scale *= 128;
  }
  return undefined;
}

/** StringStringEntryProto { string key = 1; string value = 2; } */
function parseEntry(b: Buffer, r: Reader, at: number): [string, string] {
  let key = '';
  let value = '';
  let p = 0;
  while (p < b.length) {
    const k = varintIn(b, p);
    if (!k) return r.fail(at + p, 'bad metadata entry');
    const [tag, q] = k;
    const field = Math.floor(tag / 8);
    const wire = tag % 8;
    if (wire !== 2) return r.fail(at + p, `metadata entry field ${field} has wire type ${wire}, expected 2 (a string)`);
    const l = varintIn(b, q);
    if (!l || l[1] + l[0] > b.length) return r.fail(at + p, 'metadata entry string runs past its entry');
    const s = b.toString('utf8', l[1], l[1] + l[0]);
    if (field === 1) key = s;
    else if (field === 2) value = s;
    p = l[1] + l[0];
  }
  return [key, value];
}

/**
 * Returns the metadata_props of the ONNX file at `path` as a plain object (a repeated key: the
 * last one wins). Throws ModelError 'model-not-found' when the file
 * cannot be opened, 'model-invalid' when it is not a readable ModelProto (truncated, corrupt, or
 * without a graph).
 */
export function readOnnxMetadata(path: string): Record<string, string> {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw new ModelError('model-not-found', `cannot open ONNX model ${path}: ${(e as Error).message.split('\n')[0]}`);
  }
  try {
    const r = new Reader(fd, fstatSync(fd).size, path);
    const meta: Record<string, string> = {};
    let sawGraph = false;
    let at = 0;
    if (r.size === 0) r.fail(0, 'empty file');
    while (at < r.size) {
      const [tag, next] = r.varint(at);
      const field = Math.floor(tag / 8);
      const wire = tag % 8;
      if (field === 0) r.fail(at, 'field number 0');
      if ((field === GRAPH || field === METADATA) && wire !== 2) r.fail(at, `field ${field} has wire type ${wire}, expected 2`);
      switch (wire) {
        case 0:
          at = r.varint(next)[1];
          break;
        case 1:
          at = next + 8;
          break;
        case 5:
          at = next + 4;
          break;
        case 2: {
          const [length, start] = r.varint(next);
          if (start + length > r.size) r.fail(at, `field ${field} of ${length} bytes runs past the end of the file (truncated?)`);
          if (field === METADATA) {
            if (length > MAX_ENTRY) r.fail(at, `metadata entry of ${length} bytes`);
            const [k, v] = parseEntry(r.bytes(start, length), r, start);
            meta[k] = v;
          } else if (field === GRAPH) {
            sawGraph = true;
          }
          at = start + length;
          break;
        }
        default:
          r.fail(at, `field ${field} has wire type ${wire}, which ONNX does not use`);
      }
      if (at > r.size) r.fail(at, 'last field runs past the end of the file (truncated?)');
    }
    if (!sawGraph) r.fail(r.size, 'no graph (ModelProto field 7) found');
    return meta;
  } finally {
    closeSync(fd);
  }
}

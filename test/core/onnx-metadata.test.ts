import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CausewayError } from '../../core/errors.js';
import { readOnnxMetadata } from '../../core/onnx/metadata.js';

const models = fileURLToPath(new URL('../../../models/', import.meta.url));
const step = join(models, 'tiny-cache-aware/step.onnx');

/** Protobuf varint of a non-negative integer (up to 2^53). */
function varint(n: number): number[] {
  const out: number[] = [];
  while (n >= 128) {
    out.push((n % 128) | 0x80);
    n = Math.floor(n / 128);
  }
  return [...out, n];
}

function entry(key: string, value: string): Buffer {
  const k = Buffer.from(key);
  const v = Buffer.from(value);
  const body = Buffer.from([0x0a, ...varint(k.length), ...k, 0x12, ...varint(v.length), ...v]);
  return Buffer.from([(14 << 3) | 2, ...varint(body.length), ...body]);
}

const invalid = (file: RegExp, what: RegExp) => (e: unknown) => {
  assert.ok(e instanceof CausewayError && e.code === 'model-invalid', String(e));
  assert.match(e.message, file);
  assert.match(e.message, what);
  return true;
};

describe('core/onnx/metadata (ModelProto.metadata_props from the protobuf)', () => {
  let tmp: string;
  before(() => (tmp = mkdtempSync(join(tmpdir(), 'cw-meta-'))));
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('reads the keys make_model.py wrote into the tiny cache-aware model', () => {
    const meta = readOnnxMetadata(step);
    const written = JSON.parse(readFileSync(join(models, 'tiny-cache-aware/step.json'), 'utf8')) as Record<string, unknown>;
    assert.deepEqual(meta, Object.fromEntries(Object.entries(written).map(([k, v]) => [k, String(v)])));
    assert.equal(meta.window_size, '6');
  });

  it('reads the zipformer2 keys, and nothing from a model without metadata', () => {
    const enc = readOnnxMetadata(join(models, 'tiny-zipformer2/encoder.onnx'));
    assert.equal(enc.model_type, 'zipformer2');
    assert.equal(enc.encoder_dims, '16,24');
    assert.deepEqual(readOnnxMetadata(join(models, 'tiny-zipformer2/decoder.onnx')), { context_size: '2', vocab_size: '16' });
    assert.deepEqual(readOnnxMetadata(join(models, 'tiny-zipformer2/offline.onnx')), {});
  });

  it('skips a graph field by seeking: a 1 TiB graph (sparse) is never read', () => {
    // ir_version, then a graph of 1 TiB (a hole in a sparse file), then two metadata entries: a
    // whole-file read could not hold it, and reading through it would outlast the test's timeout.
    const big = 2 ** 40;
    const head = Buffer.from([0x08, 0x08, (7 << 3) | 2, ...varint(big)]);
    const path = join(tmp, 'sparse.onnx');
    const fd = openSync(path, 'w');
    writeSync(fd, head, 0, head.length, 0);
    const tail = Buffer.concat([entry('model_type', 'zipformer2'), entry('T', '45')]);
    writeSync(fd, tail, 0, tail.length, head.length + big);
    closeSync(fd);
    assert.deepEqual(readOnnxMetadata(path), { model_type: 'zipformer2', T: '45' });
  });

  it('a truncated or corrupt file, or none, gets a clear error naming it', () => {
    const bytes = readFileSync(step);
    const cut = join(tmp, 'cut.onnx');
    writeFileSync(cut, bytes.subarray(0, Math.floor(bytes.length / 2)));
    assert.throws(() => readOnnxMetadata(cut), invalid(/cut\.onnx is not a valid ONNX model/, /runs past the end of the file \(truncated\?\)/));
    const text = join(tmp, 'text.onnx');
    writeFileSync(text, 'this is not a model\n');
    assert.throws(() => readOnnxMetadata(text), invalid(/text\.onnx is not a valid ONNX model/, /at byte \d+ of 20/));
    const noGraph = join(tmp, 'nograph.onnx');
    writeFileSync(noGraph, Buffer.concat([Buffer.from([0x08, 0x08]), entry('a', 'b')]));
    assert.throws(() => readOnnxMetadata(noGraph), invalid(/nograph\.onnx/, /no graph/));
    const empty = join(tmp, 'empty.onnx');
    writeFileSync(empty, '');
    assert.throws(() => readOnnxMetadata(empty), invalid(/empty\.onnx/, /empty file/));
    assert.throws(
      () => readOnnxMetadata(join(tmp, 'missing.onnx')),
      (e: unknown) => e instanceof CausewayError && e.code === 'model-not-found' && /missing\.onnx/.test(e.message),
    );
  });
});

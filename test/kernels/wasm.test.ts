import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { FIR_WASM_BASE64 } from '../../kernels/wasm/fir-bytes.js';
// @ts-expect-error: a plain .mjs script shared with scripts/build-wasm.mjs, no types
import { assembleWat } from '../../../scripts/assemble-wat.mjs';

describe('kernels/wasm', () => {
  it('ships the assembly of its source: fir-bytes.ts is fir.wat assembled (rebuild with node scripts/build-wasm.mjs)', async () => {
    const source = readFileSync(new URL('../../../kernels/wasm/fir.wat', import.meta.url), 'utf8');
    const built = Buffer.from(await assembleWat(source, 'fir.wat')).toString('base64');
    assert.equal(FIR_WASM_BASE64, built);
  });
});

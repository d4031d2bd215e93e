import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
// @ts-expect-error: a plain .mjs script shared with scripts/build-wasm.mjs, no types
import { assembleWat } from '../../../scripts/assemble-wat.mjs';

const source = new URL('../../../kernels/wasm/', import.meta.url);
const wats = readdirSync(source).filter((f) => f.endsWith('.wat'));

describe('kernels/wasm', () => {
  it('finds the sources (fir.wat for the resampler, pconv.wat for the binaural renderer), so the checks below are not vacuous', () => {
    for (const f of ['fir.wat', 'pconv.wat']) assert.ok(wats.includes(f), `${f} in ${wats.join(', ')}`);
  });

  for (const file of wats) {
    const name = file.slice(0, -'.wat'.length);
    it(`ships the assembly of its source: ${name}-bytes.ts is ${file} assembled (rebuild with node scripts/build-wasm.mjs)`, async () => {
      const built = Buffer.from(await assembleWat(readFileSync(new URL(file, source), 'utf8'), file)).toString('base64');
      const shipped = (await import(`../../kernels/wasm/${name}-bytes.js`)) as Record<string, string>;
      assert.equal(shipped[`${name.toUpperCase()}_WASM_BASE64`], built);
    });
  }
});

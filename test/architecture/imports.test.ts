/**
 * The house rules over the real import graph: no import cycles anywhere, and every import goes
 * down (or across) the floors: kernels/ <- core/ <- operators/, media/ <- the app (src/) <-
 * examples/. The checker is shown to catch both on a small made-up graph first.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { cycles, importGraph, upwardImports, type Graph } from '../import-graph.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));

describe('architecture: the import graph', () => {
  it('the checker finds a cycle and an upward import in a made-up graph', () => {
    const g: Graph = new Map([
      ['kernels/a.ts', ['core/b.ts']],
      ['core/b.ts', ['core/c.ts']],
      ['core/c.ts', ['core/b.ts']],
      ['operators/d.ts', ['kernels/a.ts', 'src/server/e.ts']],
    ]);
    assert.deepEqual(cycles(g), ['core/b.ts -> core/c.ts -> core/b.ts']);
    assert.deepEqual(upwardImports(g), ['kernels/a.ts -> core/b.ts', 'operators/d.ts -> src/server/e.ts']);
  });

  it('has no cycles and no upward imports (kernels, core, src, operators, media, examples)', () => {
    const g = importGraph(root, ['kernels', 'core', 'src', 'operators', 'media', 'examples']);
    assert.ok(g.size > 100, `read ${g.size} files`);
    assert.ok([...g.values()].some((d) => d.includes('core/frames.ts')), 'imports were read');
    assert.deepEqual(cycles(g), []);
    assert.deepEqual(upwardImports(g), []);
  });
});

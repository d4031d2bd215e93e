/**
 * The repository's import graph, read from the sources (static `import`/`export ... from` and
 * dynamic `import('...')` of relative paths, type-only ones included: a cycle of types is still a
 * knot a reader has to untie), and the two rules it must keep: no cycles, and the floors
 * (docs/architecture.md) only ever import downwards.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

export type Graph = Map<string, string[]>;

const SKIP = new Set(['node_modules', 'dist', '.git', '.scratch']);

function sources(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) {
      if (!SKIP.has(name)) sources(path, out);
    } else if (path.endsWith('.ts') && !path.endsWith('.d.ts')) {
      out.push(path);
    }
  }
  return out;
}

/** Every .ts file under `folders` (relative to root) -> the repository files it imports. */
export function importGraph(root: string, folders: readonly string[]): Graph {
  const graph: Graph = new Map();
  for (const file of folders.flatMap((f) => sources(join(root, f)))) {
    const text = readFileSync(file, 'utf8');
    const deps = new Set<string>();
    for (const m of text.matchAll(/(?:\bfrom\s+|\bimport\s*\(\s*|^\s*import\s+)'(\.{1,2}\/[^']+)'/gm)) {
      deps.add(relative(root, resolve(dirname(file), m[1]!.replace(/\.js$/, '.ts'))));
    }
    graph.set(relative(root, file), [...deps]);
  }
  return graph;
}

/** Each cycle once, as the path round it (a -> b -> a). */
export function cycles(graph: Graph): string[] {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const found: string[] = [];
  const visit = (n: string) => {
    state.set(n, 'open');
    stack.push(n);
    for (const d of graph.get(n) ?? []) {
      if (state.get(d) === 'open') found.push([...stack.slice(stack.indexOf(d)), d].join(' -> '));
      else if (!state.has(d)) visit(d);
    }
    stack.pop();
    state.set(n, 'done');
  };
  for (const n of [...graph.keys()].sort()) if (!state.has(n)) visit(n);
  return found;
}

/**
 * The floor of a file, bottom up: kernels/ 0, core/ 1, operators/ and media/ 2, src/ (the app: pipelines, server, CLI, public entry) 3, examples/ 4; undefined outside them.
 */
export function floorOf(path: string): number | undefined {
  if (path.startsWith('kernels/')) return 0;
  if (path.startsWith('core/')) return 1;
  if (path.startsWith('operators/') || path.startsWith('media/')) return 2;
  if (path.startsWith('src/')) return 3;
  if (path.startsWith('examples/')) return 4;
  return undefined;
}

/** Imports that go up a floor: `from -> to`. */
export function upwardImports(graph: Graph): string[] {
  const bad: string[] = [];
  for (const [from, deps] of graph) {
    const f = floorOf(from);
    if (f === undefined) continue;
    for (const to of deps) {
      const t = floorOf(to);
      if (t === undefined || t > f) bad.push(`${from} -> ${to}`);
    }
  }
  return bad;
}

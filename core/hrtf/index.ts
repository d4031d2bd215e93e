/**
 * Measured HRTFs: SOFA loading, direction lookup, and a per-process cache so that every stream
 * rendering with the same file shares one copy of it (and one copy per render rate).
 */
import { resolve } from 'node:path';
import { HrirLookup, type HrirInterpolation } from './lookup.js';
import { DEFAULT_SOFA, loadSofa, resampleHrtf, type HrtfSet } from './sofa.js';

export { DEFAULT_SOFA, loadSofa, resampleHrtf, toCartesian, toSpherical, type Direction, type HrtfNormalization, type HrtfSet, type LoadSofaOptions } from './sofa.js';
export { HrirLookup, type HrirInterpolation, type HrirWeights } from './lookup.js';
export { triangulateSphere, type SphereTriangulation } from './sphere-hull.js';
export { relativeDirection, type Point, type ListenerPose, type Scene } from './scene.js';

const files = new Map<string, Promise<HrtfSet>>();
const rates = new WeakMap<HrtfSet, Map<string, HrirLookup>>();

/** The set in a SOFA file at its own rate (normalised), read once per process; a failed read is not cached. */
export function sharedHrtfSet(path: string = DEFAULT_SOFA): Promise<HrtfSet> {
  const file = resolve(path);
  let p = files.get(file);
  if (!p) {
    p = loadSofa(file);
    files.set(file, p);
    p.catch(() => files.delete(file));
  }
  return p;
}

/** A lookup over the set resampled to `sampleRate`, built once per (set, rate, interpolation). */
export function sharedLookup(set: HrtfSet, sampleRate: number, interpolation: HrirInterpolation = 'barycentric'): HrirLookup {
  let byRate = rates.get(set);
  if (!byRate) {
    byRate = new Map();
    rates.set(set, byRate);
  }
  const key = `${sampleRate}/${interpolation}`;
  let lookup = byRate.get(key);
  if (!lookup) {
    // The resampled set is shared between the interpolation modes.
    const other = [...byRate.values()].find((l) => l.set.sampleRate === sampleRate);
    lookup = new HrirLookup(other?.set ?? resampleHrtf(set, sampleRate), interpolation);
    byRate.set(key, lookup);
  }
  return lookup;
}

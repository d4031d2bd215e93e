/**
 * HRIRs for any direction from a measured set.
 *
 * - 'nearest': the measurement at the smallest great-circle distance (largest dot product of
 *   unit vectors). Exact at the measured points, a step change between them.
 * - 'barycentric' (default): the directions are triangulated on the sphere (their convex hull =
 *   the spherical Delaunay triangulation, sphere-hull.ts); a direction d falls in one triangle
 *   (A, B, C) and d = a A + b B + c C with a, b, c >= 0 (the ray from the head through d crosses
 *   the triangle), normalised to a + b + c = 1; the HRIR is a h_A + b h_B + c h_C. Why this and
 *   not bilinear in azimuth/elevation: it needs no grid (any SOFA layout works, and rings with
 *   different azimuth steps, like KEMAR's 5 to 360 degree steps from the horizon to the pole,
 *   need no special case), it is exact at every measurement, and the weights move continuously
 *   with the direction, so a moving source has no jumps in its filters, and none at the poles.
 *   And why not "the 3 nearest": those are often on one ring (nearly collinear) and then do
 *   not surround the direction at all.
 *   The IRs are mixed as they are, onset delays included (like libmysofa's interpolation):
 *   neighbouring KEMAR directions differ by at most ~2 samples of interaural delay at 48 kHz,
 *   so the mix smears it little.
 *   Where the measurements do not enclose the head (a horizontal ring only, one hemisphere) no
 *   triangulation exists and the lookup uses 'nearest' (`mode` says which is in effect).
 *
 * Directions closer than 0.01 degree to an earlier one are the same direction (the first one is
 * kept); a set measured at several distances is reduced to its most common distance (distance
 * is a gain in Causeway, see kernels/binaural-renderer).
 */
import type { HrirSource } from '../../kernels/binaural-renderer.js';
import { CausewayError } from '../errors.js';
import type { HrtfSet } from './sofa.js';
import { triangulateSphere } from './sphere-hull.js';

export type HrirInterpolation = 'barycentric' | 'nearest';

const RAD = Math.PI / 180;
const SAME_DIRECTION = Math.cos(0.01 * RAD);

export interface HrirWeights {
  /** Measurement indices into the set, and their weights (sum 1); one entry for 'nearest'. */
  indices: number[];
  weights: number[];
}

export class HrirLookup implements HrirSource {
  readonly length: number;
  readonly mode: HrirInterpolation;
  /** Measurements used (indices into set.irs), and their unit directions. */
  private readonly used: number[];
  private readonly units: Float64Array;
  private readonly triangles: Uint32Array = new Uint32Array(0);
  /** Per triangle, the inverse of the matrix whose columns are its three vertices (row-major, 9 numbers). */
  private readonly inverses: Float64Array = new Float64Array(0);
  private lastTriangle = 0;
  private readonly idx = [0, 0, 0];
  private readonly w = [0, 0, 0];

  constructor(readonly set: HrtfSet, mode: HrirInterpolation = 'barycentric') {
    if (mode !== 'barycentric' && mode !== 'nearest') throw new CausewayError('invalid-argument', `HrirLookup: interpolation must be 'barycentric' or 'nearest', got '${String(mode)}'`);
    if (set.irs.length === 0) throw new CausewayError('invalid-argument', `HrirLookup: ${set.file} has no measurements`);
    this.length = set.length;
    this.used = pickMeasurements(set);
    this.units = new Float64Array(3 * this.used.length);
    this.used.forEach((m, i) => {
      const p = set.positions[m];
      const ce = Math.cos(p.elevation * RAD);
      this.units[3 * i] = ce * Math.cos(p.azimuth * RAD);
      this.units[3 * i + 1] = ce * Math.sin(p.azimuth * RAD);
      this.units[3 * i + 2] = Math.sin(p.elevation * RAD);
    });
    const tri = mode === 'barycentric' ? triangulateSphere(this.units) : undefined;
    this.mode = tri ? 'barycentric' : 'nearest';
    if (tri) {
      this.triangles = tri.triangles;
      this.inverses = invertTriangles(this.units, tri.triangles);
    }
  }

  /** Number of triangles of the triangulation (0 in 'nearest' mode). */
  get triangleCount(): number {
    return this.triangles.length / 3;
  }

  /** Index (into set.irs) of the measurement nearest a direction, by great-circle distance. */
  nearest(azimuth: number, elevation: number): number {
    const [x, y, z] = unit(azimuth, elevation);
    const u = this.units;
    let best = 0;
    let bestDot = -Infinity;
    for (let i = 0; i < this.used.length; i++) {
      const d = u[3 * i] * x + u[3 * i + 1] * y + u[3 * i + 2] * z;
      if (d > bestDot) {
        bestDot = d;
        best = i;
      }
    }
    return this.used[best];
  }

  /** Which measurements make up a direction's HRIR, and with what weights. */
  weights(azimuth: number, elevation: number): HrirWeights {
    if (this.mode === 'nearest') return { indices: [this.nearest(azimuth, elevation)], weights: [1] };
    this.locate(azimuth, elevation);
    return { indices: this.idx.map((i) => this.used[i]), weights: [...this.w] };
  }

  hrir(azimuth: number, elevation: number, left: Float32Array, right: Float32Array): void {
    const irs = this.set.irs;
    if (this.mode === 'nearest') {
      const m = this.nearest(azimuth, elevation);
      left.set(irs[m].left);
      right.set(irs[m].right);
      return;
    }
    this.locate(azimuth, elevation);
    const a = irs[this.used[this.idx[0]]], b = irs[this.used[this.idx[1]]], c = irs[this.used[this.idx[2]]];
    const wa = this.w[0], wb = this.w[1], wc = this.w[2];
    for (let t = 0; t < this.length; t++) {
      left[t] = wa * a.left[t] + wb * b.left[t] + wc * c.left[t];
      right[t] = wa * a.right[t] + wb * b.right[t] + wc * c.right[t];
    }
  }

  /**
   * Finds the triangle the direction's ray crosses and its normalised weights (into idx / w).
   * The previous triangle is tried first (a moving source stays in it for many blocks); then
   * every triangle, keeping the one whose smallest weight is largest (round-off on an edge can
   * leave every candidate a hair below zero).
   */
  private locate(azimuth: number, elevation: number): void {
    const d = unit(azimuth, elevation);
    const tryTriangle = (t: number): number => {
      const m = this.inverses;
      const o = 9 * t;
      const a = m[o] * d[0] + m[o + 1] * d[1] + m[o + 2] * d[2];
      const b = m[o + 3] * d[0] + m[o + 4] * d[1] + m[o + 5] * d[2];
      const c = m[o + 6] * d[0] + m[o + 7] * d[1] + m[o + 8] * d[2];
      this.w[0] = a;
      this.w[1] = b;
      this.w[2] = c;
      return Math.min(a, b, c);
    };
    let best = this.lastTriangle;
    if (tryTriangle(best) < 0) {
      let bestMin = -Infinity;
      for (let t = 0; t < this.triangleCount; t++) {
        const mn = tryTriangle(t);
        if (mn > bestMin) {
          bestMin = mn;
          best = t;
          if (mn >= 0) break;
        }
      }
      tryTriangle(best);
    }
    this.lastTriangle = best;
    const w = this.w;
    for (let k = 0; k < 3; k++) w[k] = Math.max(0, w[k]);
    const sum = w[0] + w[1] + w[2];
    for (let k = 0; k < 3; k++) {
      w[k] /= sum;
      this.idx[k] = this.triangles[3 * best + k];
    }
  }
}

function unit(azimuth: number, elevation: number): [number, number, number] {
  const ce = Math.cos(elevation * RAD);
  return [ce * Math.cos(azimuth * RAD), ce * Math.sin(azimuth * RAD), Math.sin(elevation * RAD)];
}

/** The measurements at the most common distance (to the mm), one per distinct direction. */
function pickMeasurements(set: HrtfSet): number[] {
  const counts = new Map<number, number>();
  for (const p of set.positions) counts.set(Math.round(p.distance * 1000), (counts.get(Math.round(p.distance * 1000)) ?? 0) + 1);
  let radius = 0;
  let most = -1;
  for (const [r, c] of counts) {
    if (c > most) {
      most = c;
      radius = r;
    }
  }
  const kept: number[] = [];
  const dirs: [number, number, number][] = [];
  set.positions.forEach((p, i) => {
    if (Math.round(p.distance * 1000) !== radius) return;
    const u = unit(p.azimuth, p.elevation);
    if (dirs.some((v) => v[0] * u[0] + v[1] * u[1] + v[2] * u[2] > SAME_DIRECTION)) return;
    dirs.push(u);
    kept.push(i);
  });
  return kept;
}

function invertTriangles(units: Float64Array, triangles: Uint32Array): Float64Array {
  const out = new Float64Array(3 * triangles.length);
  for (let t = 0; t < triangles.length / 3; t++) {
    // Columns A, B, C; the inverse's rows give the weights a, b, c as dot products with d.
    const [a, b, c] = [0, 1, 2].map((k) => triangles[3 * t + k] * 3);
    const A = [units[a], units[a + 1], units[a + 2]];
    const B = [units[b], units[b + 1], units[b + 2]];
    const C = [units[c], units[c + 1], units[c + 2]];
    // Rows of the inverse are (B x C, C x A, A x B) / det, det = A . (B x C).
    const bc = [B[1] * C[2] - B[2] * C[1], B[2] * C[0] - B[0] * C[2], B[0] * C[1] - B[1] * C[0]];
    const ca = [C[1] * A[2] - C[2] * A[1], C[2] * A[0] - C[0] * A[2], C[0] * A[1] - C[1] * A[0]];
    const ab = [A[1] * B[2] - A[2] * B[1], A[2] * B[0] - A[0] * B[2], A[0] * B[1] - A[1] * B[0]];
    const det = A[0] * bc[0] + A[1] * bc[1] + A[2] * bc[2];
    [...bc, ...ca, ...ab].forEach((v, k) => (out[9 * t + k] = v / det));
  }
  return out;
}

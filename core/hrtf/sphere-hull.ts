/**
 * Triangulation of directions on the unit sphere by their convex hull: for points on a sphere
 * the hull's faces are the spherical Delaunay triangles, so every direction falls in exactly
 * one triangle of nearby measurements, whatever the layout (rings, Lebedev grids, irregular).
 *
 * Incremental hull, O(n * faces): fine for HRTF sets (hundreds to a few thousand directions,
 * built once per file). Measured grids are full of co-circular points (two rings with the same
 * azimuth step make planar quadrilaterals), which an exact hull cannot split; so the hull is
 * built on copies nudged by ~1e-6 rad in random (seeded) tangent directions, which picks one
 * diagonal of each such quad and leaves everything else as it is (the faces between points a
 * few degrees apart sit ~1e-3 inside the sphere, far beyond the nudge).
 */
import { mulberry32 } from '../../kernels/mulberry32.js';

export interface SphereTriangulation {
  /** Vertex indices, three per triangle, counter-clockwise seen from outside. */
  readonly triangles: Uint32Array;
}

/** Returns undefined when the points do not enclose the centre (all on one side of a plane through it, or coplanar). */
export function triangulateSphere(units: Float64Array): SphereTriangulation | undefined {
  const n = units.length / 3;
  if (n < 4) return undefined;
  const p = nudged(units);
  const tet = initialTetrahedron(p, n);
  if (!tet) return undefined;

  const faces: number[] = [];
  const alive: boolean[] = [];
  const normal: number[] = [];
  const edges = new Map<number, number>();
  const key = (u: number, v: number) => u * n + v;
  const addFace = (a: number, b: number, c: number) => {
    const f = alive.length;
    faces.push(a, b, c);
    alive.push(true);
    const ux = p[3 * b] - p[3 * a], uy = p[3 * b + 1] - p[3 * a + 1], uz = p[3 * b + 2] - p[3 * a + 2];
    const vx = p[3 * c] - p[3 * a], vy = p[3 * c + 1] - p[3 * a + 1], vz = p[3 * c + 2] - p[3 * a + 2];
    const nx = uy * vz - uz * vy, ny = uz * vx - ux * vz, nz = ux * vy - uy * vx;
    const len = Math.hypot(nx, ny, nz);
    normal.push(nx / len, ny / len, nz / len, (nx * p[3 * a] + ny * p[3 * a + 1] + nz * p[3 * a + 2]) / len);
    edges.set(key(a, b), f);
    edges.set(key(b, c), f);
    edges.set(key(c, a), f);
  };
  const [i0, i1, i2, i3] = tet;
  // Orient the four faces outward (away from the fourth vertex).
  for (const [a, b, c, o] of [[i0, i1, i2, i3], [i0, i3, i1, i2], [i1, i3, i2, i0], [i0, i2, i3, i1]]) {
    if (side(p, a, b, c, o) > 0) addFace(a, c, b);
    else addFace(a, b, c);
  }

  const eps = 1e-13;
  for (let q = 0; q < n; q++) {
    if (q === i0 || q === i1 || q === i2 || q === i3) continue;
    const qx = p[3 * q], qy = p[3 * q + 1], qz = p[3 * q + 2];
    const visible: number[] = [];
    for (let f = 0; f < alive.length; f++) {
      if (alive[f] && normal[4 * f] * qx + normal[4 * f + 1] * qy + normal[4 * f + 2] * qz - normal[4 * f + 3] > eps) visible.push(f);
    }
    if (visible.length === 0) continue;
    const seen = new Set(visible);
    const horizon: [number, number][] = [];
    for (const f of visible) {
      const [a, b, c] = [faces[3 * f], faces[3 * f + 1], faces[3 * f + 2]];
      for (const [u, v] of [[a, b], [b, c], [c, a]]) {
        if (!seen.has(edges.get(key(v, u))!)) horizon.push([u, v]);
      }
    }
    for (const f of visible) {
      alive[f] = false;
      const [a, b, c] = [faces[3 * f], faces[3 * f + 1], faces[3 * f + 2]];
      edges.delete(key(a, b));
      edges.delete(key(b, c));
      edges.delete(key(c, a));
    }
    for (const [u, v] of horizon) addFace(u, v, q);
  }

  const out: number[] = [];
  for (let f = 0; f < alive.length; f++) {
    if (!alive[f]) continue;
    // The centre must be inside every face's plane, by far more than the nudge: a flat ring or a
    // hemisphere has faces through (or beyond) the centre, and directions with no real triangle.
    if (!(normal[4 * f + 3] > 1e-3)) return undefined;
    out.push(faces[3 * f], faces[3 * f + 1], faces[3 * f + 2]);
  }
  return { triangles: Uint32Array.from(out) };
}

/** Signed volume of (b - a, c - a, o - a): > 0 when o lies on the side the normal of (a, b, c) points to. */
function side(p: Float64Array, a: number, b: number, c: number, o: number): number {
  const d = (i: number, k: number) => p[3 * i + k] - p[3 * a + k];
  const ux = d(b, 0), uy = d(b, 1), uz = d(b, 2);
  const vx = d(c, 0), vy = d(c, 1), vz = d(c, 2);
  const wx = d(o, 0), wy = d(o, 1), wz = d(o, 2);
  return wx * (uy * vz - uz * vy) + wy * (uz * vx - ux * vz) + wz * (ux * vy - uy * vx);
}

function initialTetrahedron(p: Float64Array, n: number): [number, number, number, number] | undefined {
  const dist2 = (i: number, j: number) => (p[3 * i] - p[3 * j]) ** 2 + (p[3 * i + 1] - p[3 * j + 1]) ** 2 + (p[3 * i + 2] - p[3 * j + 2]) ** 2;
  let i1 = 0;
  for (let i = 1; i < n; i++) if (dist2(0, i) > dist2(0, i1)) i1 = i;
  let i2 = -1, best = 1e-12;
  for (let i = 0; i < n; i++) {
    // Squared area of the triangle (0, i1, i): distance from the line through 0 and i1.
    const ax = p[3 * i1] - p[0], ay = p[3 * i1 + 1] - p[1], az = p[3 * i1 + 2] - p[2];
    const bx = p[3 * i] - p[0], by = p[3 * i + 1] - p[1], bz = p[3 * i + 2] - p[2];
    const a = (ay * bz - az * by) ** 2 + (az * bx - ax * bz) ** 2 + (ax * by - ay * bx) ** 2;
    if (a > best) {
      best = a;
      i2 = i;
    }
  }
  if (i2 < 0) return undefined;
  let i3 = -1;
  best = 1e-9;
  for (let i = 0; i < n; i++) {
    const v = Math.abs(side(p, 0, i1, i2, i));
    if (v > best) {
      best = v;
      i3 = i;
    }
  }
  return i3 < 0 ? undefined : [0, i1, i2, i3];
}

/** Each point moved ~1e-6 rad along a seeded random tangent, kept on the unit sphere. */
function nudged(units: Float64Array): Float64Array {
  const next = mulberry32(0x9e3779b9);
  const rand = () => next() / 4294967296 - 0.5;
  const out = new Float64Array(units.length);
  for (let i = 0; i < units.length; i += 3) {
    const x = units[i] + 2e-6 * rand(), y = units[i + 1] + 2e-6 * rand(), z = units[i + 2] + 2e-6 * rand();
    const len = Math.hypot(x, y, z);
    out[i] = x / len;
    out[i + 1] = y / len;
    out[i + 2] = z / len;
  }
  return out;
}

/**
 * Source and listener in one room -> the listener-relative direction the binaural renderers take.
 * Room coordinates are SOFA's cartesian convention: x forward, y left, z up, metres. The
 * listener's head turns by `yaw` (degrees counter-clockwise seen from above, 0 = facing +x) and
 * tilts by `pitch` (degrees, nose up). The source's direction is rotated into the head's frame:
 * turning the head left by 90 degrees puts a source that was ahead at azimuth 270 (the right).
 */
import { toSpherical, type Direction } from './sofa.js';

export interface Point {
  x: number;
  y: number;
  z: number;
}

export interface ListenerPose extends Point {
  /** Degrees counter-clockwise from +x (default 0). */
  yaw?: number;
  /** Degrees, nose up (default 0). */
  pitch?: number;
}

export interface Scene {
  source: Point;
  listener: ListenerPose;
}

const RAD = Math.PI / 180;

/** The source's azimuth, elevation and distance as the listener hears it. */
export function relativeDirection({ source, listener }: Scene): Direction {
  for (const [k, v] of Object.entries({ 'source.x': source.x, 'source.y': source.y, 'source.z': source.z, 'listener.x': listener.x, 'listener.y': listener.y, 'listener.z': listener.z, 'listener.yaw': listener.yaw ?? 0, 'listener.pitch': listener.pitch ?? 0 })) {
    if (!Number.isFinite(v)) throw new RangeError(`relativeDirection: ${k} must be a finite number, got ${String(v)}`);
  }
  const dx = source.x - listener.x;
  const dy = source.y - listener.y;
  const dz = source.z - listener.z;
  // Undo the head's yaw (about z), then its pitch (about the head's left axis, y).
  const cy = Math.cos(-(listener.yaw ?? 0) * RAD);
  const sy = Math.sin(-(listener.yaw ?? 0) * RAD);
  const x1 = cy * dx - sy * dy;
  const y1 = sy * dx + cy * dy;
  const cp = Math.cos((listener.pitch ?? 0) * RAD);
  const sp = Math.sin((listener.pitch ?? 0) * RAD);
  const x2 = cp * x1 + sp * dz;
  const z2 = -sp * x1 + cp * dz;
  return toSpherical(x2, y1, z2);
}

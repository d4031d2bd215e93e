/**
 * A source position, one meaning everywhere: the `position` message a client sends on the data
 * channel (docs/server.md), the `binaural` operator's starting position and `position$` updates,
 * and both of its engines.
 *
 *   {"type":"position","azimuth":90,"elevation":0,"distance":1.2}
 *
 * Angles in degrees with SOFA's convention (azimuth counter-clockwise from straight ahead: 0 front,
 * 90 left, 180 behind, 270 right; elevation up from the horizontal plane), distance in metres. Any
 * of the three may be left out (it keeps its value), but at least one must be there.
 *
 * Refused (an error, nothing changes): a field that is present but not a finite number, or none
 * of the three. Brought into range (applied): azimuth is taken modulo 360 into [0, 360); elevation
 * is clamped to [-90, 90]; distance to [0.25, 10] m (the renderers' gain is 1/distance, which
 * stops growing below 0.25 m anyway).
 */
export interface PositionUpdate {
  azimuth?: number;
  elevation?: number;
  distance?: number;
}

export const POSITION_LIMITS = Object.freeze({ elevation: [-90, 90] as const, distance: [0.25, 10] as const });

const clamp = (v: number, [lo, hi]: readonly [number, number]) => Math.min(hi, Math.max(lo, v));

/** The position `p` asks for, in range; or why it is refused (the message starts with `what`). */
export function normalizePosition(p: unknown, what = 'position'): { position: PositionUpdate } | { error: string } {
  if (p === null || typeof p !== 'object') return { error: `${what}: must be an object with azimuth, elevation and/or distance, got ${String(p)}` };
  const msg = p as { [k: string]: unknown };
  const out: PositionUpdate = {};
  for (const k of ['azimuth', 'elevation', 'distance'] as const) {
    const v = msg[k];
    if (v === undefined) continue;
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      return { error: `${what}: ${k} must be a finite number, got ${typeof v === 'number' ? String(v) : (JSON.stringify(v) ?? String(v))}` };
    }
    out[k] = v;
  }
  if (out.azimuth === undefined && out.elevation === undefined && out.distance === undefined) {
    return { error: `${what}: give at least one of azimuth (degrees, 90 = left), elevation (degrees) and distance (metres)` };
  }
  if (out.azimuth !== undefined) out.azimuth = ((out.azimuth % 360) + 360) % 360;
  if (out.elevation !== undefined) out.elevation = clamp(out.elevation, POSITION_LIMITS.elevation);
  if (out.distance !== undefined) out.distance = clamp(out.distance, POSITION_LIMITS.distance);
  return { position: out };
}

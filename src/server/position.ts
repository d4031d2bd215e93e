/**
 * The `position` control message a client sends on the data channel to move the voice of the
 * binaural return (docs/server.md):
 *
 *   {"type":"position","azimuth":90,"elevation":0,"distance":1.2}
 *
 * Angles in degrees with SOFA's convention (azimuth counter-clockwise from straight ahead: 0 front,
 * 90 left, 180 behind, 270 right; elevation up from the horizontal plane), distance in metres. Any
 * of the three may be left out (it keeps its value), but at least one must be there.
 *
 * Refused (an error reply, nothing changes): a field that is present but not a finite number, or
 * a message with none of the three. Clamped (the message is applied, in range): azimuth is taken
 * modulo 360 into [0, 360); elevation to [-90, 90]; distance to [0.25, 10] m (the renderer's gain
 * is 1/distance and stops growing below 0.25 m anyway).
 */
export interface PositionUpdate {
  azimuth?: number;
  elevation?: number;
  distance?: number;
}

export const POSITION_LIMITS = Object.freeze({ elevation: [-90, 90] as const, distance: [0.25, 10] as const });

const clamp = (v: number, [lo, hi]: readonly [number, number]) => Math.min(hi, Math.max(lo, v));

/** The position a `position` message asks for, in range; or the reason it is refused. */
export function parsePosition(msg: { [k: string]: unknown }): { position: PositionUpdate } | { error: string } {
  const out: PositionUpdate = {};
  for (const k of ['azimuth', 'elevation', 'distance'] as const) {
    const v = msg[k];
    if (v === undefined) continue;
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      return { error: `position: ${k} must be a finite number, got ${JSON.stringify(v) ?? String(v)}` };
    }
    out[k] = v;
  }
  if (out.azimuth === undefined && out.elevation === undefined && out.distance === undefined) {
    return { error: 'position: give at least one of azimuth (degrees, 90 = left), elevation (degrees) and distance (metres)' };
  }
  if (out.azimuth !== undefined) out.azimuth = ((out.azimuth % 360) + 360) % 360;
  if (out.elevation !== undefined) out.elevation = clamp(out.elevation, POSITION_LIMITS.elevation);
  if (out.distance !== undefined) out.distance = clamp(out.distance, POSITION_LIMITS.distance);
  return { position: out };
}

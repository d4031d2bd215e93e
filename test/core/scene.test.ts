/**
 * Source and listener poses -> the listener-relative direction, and the renderer driven by a
 * moving scene equals the renderer driven by the directions computed by hand.
 */
import assert from 'node:assert/strict';
import { map, of } from 'rxjs';
import { binaural, loadHrtf } from '../../operators/binaural.js';
import { relativeDirection } from '../../core/hrtf/index.js';
import { randomSignal, rng } from '../helpers-random.js';
import { collect, concat, framesOf, from } from '../operators/frames-helpers.js';

const close = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) < 1e-9, `${what}: ${a} vs ${b}`);

describe('core/hrtf/scene (source and listener -> relative direction)', () => {
  it('places a source by the listener position, yaw and pitch', () => {
    const at = (source: { x: number; y: number; z: number }, listener: { x: number; y: number; z: number; yaw?: number; pitch?: number }) => relativeDirection({ source, listener });
    let d = at({ x: 2, y: 0, z: 0 }, { x: 0, y: 0, z: 0 });
    close(d.azimuth, 0, 'ahead');
    close(d.distance, 2, 'distance');
    d = at({ x: 1, y: 3, z: 0 }, { x: 1, y: 1, z: 0 });
    close(d.azimuth, 90, 'to the left of a listener who is not at the origin');
    d = at({ x: 2, y: 0, z: 0 }, { x: 0, y: 0, z: 0, yaw: 90 });
    close(d.azimuth, 270, 'the head turned left: what was ahead is on the right');
    d = at({ x: 0, y: -2, z: 0 }, { x: 0, y: 0, z: 0, yaw: -90 });
    close(d.azimuth, 0, 'the head turned right faces a source on the right');
    d = at({ x: 1, y: 0, z: 0 }, { x: 0, y: 0, z: 0, pitch: 30 });
    close(d.elevation, -30, 'nose up: what was ahead is below');
    d = at({ x: 1, y: 0, z: 1 }, { x: 0, y: 0, z: 0 });
    close(d.elevation, 45, 'elevation');
    assert.throws(() => at({ x: NaN, y: 0, z: 0 }, { x: 0, y: 0, z: 0 }), /source\.x must be a finite number/);
  });

  it('binaural driven by a scene equals binaural driven by the directions it implies', async () => {
    const hrtf = await loadHrtf();
    const x = randomSignal(48000 * 0.5, rng(4));
    const scene = { source: { x: 1, y: 1, z: 0.2 }, listener: { x: 0, y: 0, z: 0, yaw: 20 } };
    const d = relativeDirection(scene);
    const byScene = concat(await collect(from(framesOf(x, 48000, [x.length])).pipe(binaural({ hrtf, position$: of(scene).pipe(map(relativeDirection)) }))));
    const byHand = concat(await collect(from(framesOf(x, 48000, [x.length])).pipe(binaural({ hrtf, azimuth: d.azimuth, elevation: d.elevation, distance: d.distance }))));
    assert.deepEqual(byScene, byHand);
    close(d.azimuth, 25, 'source at 45 degrees, head turned 20');
    close(d.elevation, (Math.asin(0.2 / Math.sqrt(2.04)) * 180) / Math.PI, 'elevation from the height over the distance');
    close(d.distance, Math.sqrt(2.04), 'distance');
  });
});

/**
 * generateVideo on the tiny random video-world model: the frames are the model's own steps over
 * its outputs (compared with a hand-driven VideoWorldStream), commands and scene switches apply at
 * frame boundaries, realtime pacing, nothing lost to a slow consumer in 'asap', clean teardown.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { lastValueFrom, Subject, take, toArray } from 'rxjs';
import { generateVideo, type VideoControl, type VideoPrompt } from '../../operators/generate-video.js';
import type { VideoFrame } from '../../core/frames.js';
import { histogramCount, sharedMetrics } from '../../core/metrics.js';
import { condVector, fromTokens, render, SCENES, toTokens } from '../../core/models/video-world-scenes.js';
import { VideoWorldStream } from '../../core/models/video-world.js';
import { loadedModelCount } from '../../core/onnx/shared-models.js';
import { serialMap } from '../../core/serial-queue.js';
import { until } from '../wait.js';

const tiny = fileURLToPath(new URL('../../../models/video-world/tiny/step.onnx', import.meta.url));

/** The frames generateVideo should give: scene/command per frame index (what steers frame n + 1), scene switches re-caching first. */
async function byHand(n: number, steer: (k: number) => { scene: number; dx: number; dy: number }): Promise<Uint8Array[]> {
  const s = await VideoWorldStream.open(tiny, { device: 'cpu' });
  try {
    const c = s.config;
    let scene = steer(0).scene;
    let frame = toTokens(render(scene, c.size / 2, c.size / 2, c.size), c.size, c.patch);
    const out: Uint8Array[] = [];
    for (let k = 0; k < n; k++) {
      out.push(fromTokens(frame, c.size, c.patch));
      if (k + 1 >= n) break;
      const st = steer(k);
      if (st.scene !== scene) {
        scene = st.scene;
        await s.recache((x) => condVector(st.scene, x[SCENES.length], x[SCENES.length + 1], x));
      }
      frame = Float32Array.from(await s.step(frame, condVector(scene, st.dx, st.dy)), (v) => Math.max(-1, Math.min(1, v)));
    }
    return out;
  } finally {
    s.dispose();
  }
}

describe('operators/generateVideo (tiny model)', function () {
  this.timeout(60_000);

  it("'asap': frame 0 is the scene, each next one the model's step over the last; pts on the fps timeline; a command and a scene switch steer from their frame boundary", async () => {
    const loaded = loadedModelCount();
    const fps = 10;
    const control$ = new Subject<VideoControl>();
    const prompt$ = new Subject<VideoPrompt>();
    const steered0 = await histogramCount(sharedMetrics.controlToFrameMs, { operator: 'generate-video' });
    const frames$ = generateVideo({ model: tiny, device: 'cpu', fps, frames: 16, pace: 'asap', control$, prompt$, scene: 'checker' });
    const done = lastValueFrom(frames$.pipe(toArray()));
    // Due at frame 4's time: steers frame 5 on. The switch at frame 9's: frame 10 on.
    control$.next({ command: 'right', atUs: 400_000 });
    prompt$.next({ scene: 'dots', atUs: 900_000 });
    const got = await done;
    assert.deepEqual(got.map((f) => f.pts), Array.from({ length: 16 }, (_, k) => k * 100_000));
    for (const f of got) assert.deepEqual([f.width, f.height, f.format, f.data.length], [32, 32, 'rgb24', 32 * 32 * 3]);
    assert.deepEqual(got[0].data, render(1, 16, 16, 32), 'frame 0: the checker scene, the object in the middle');
    const want = await byHand(16, (k) => ({ scene: k >= 9 ? 3 : 1, dx: k >= 4 ? 1 : 0, dy: 0 }));
    got.forEach((f, k) => assert.deepEqual(f.data, want[k], `frame ${k}`));
    // Steering at another frame gives other frames: the test can tell.
    const other = await byHand(16, (k) => ({ scene: 1, dx: k >= 3 ? 1 : 0, dy: 0 }));
    assert.notDeepEqual(other[5], want[5]);
    assert.equal(await histogramCount(sharedMetrics.controlToFrameMs, { operator: 'generate-video' }), steered0 + 1);
    assert.equal(loadedModelCount(), loaded, 'the model released at the end');
  });

  it("'asap' loses nothing to a slow consumer (the generator pauses); 'realtime' never emits a frame before its time", async () => {
    const slow = generateVideo({ model: tiny, device: 'cpu', frames: 30, pace: 'asap' }).pipe(
      serialMap<VideoFrame, VideoFrame>(() => ({ step: async (f, emit) => (await sleep(3), emit(f)) }), { name: 'slow', capacity: 2 }),
      toArray(),
    );
    assert.deepEqual((await lastValueFrom(slow)).map((f) => f.pts / 66_667).map(Math.round), [...Array(30).keys()]);
    const t0 = performance.timeOrigin + performance.now();
    const rt = await lastValueFrom(generateVideo({ model: tiny, device: 'cpu', fps: 25, frames: 10 }).pipe(toArray()));
    const early = rt.map((f, k) => f.wallMs - (t0 + k * 40)).filter((d) => d < -2);
    assert.deepEqual(early, [], 'frames ahead of the clock (ms)');
  });

  it('unsubscribing stops it and releases the model; bad options and a missing model are clear errors', async () => {
    const loaded = loadedModelCount();
    const some = await lastValueFrom(generateVideo({ model: tiny, device: 'cpu', fps: 50 }).pipe(take(3), toArray()));
    assert.equal(some.length, 3);
    await until('the model released after unsubscribing', 10_000, () => loadedModelCount() === loaded);
    assert.throws(() => generateVideo({ model: tiny, scene: 'jungle' }), /unknown scene "jungle" \(scenes: 0 stripes, 1 checker, 2 gradient, 3 dots\)/);
    assert.throws(() => generateVideo({ model: tiny, fps: 0 }), /fps must be in \(0, 240\]/);
    await assert.rejects(lastValueFrom(generateVideo({ model: '/nonexistent/step.onnx' })), /video-world model \/nonexistent\/step\.onnx not found/);
  });
});

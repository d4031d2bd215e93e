/**
 * The generate session pipeline on its own (tiny random model, no WebRTC): the data channel's
 * `steer` and `scene` messages reach the generator and come back as `steered` / `scene` events
 * with the client's `t` and a latency once a frame took them; refused messages get an error event
 * and change nothing; the video is the model's size. Choosing it with `?pipeline=` over HTTP is in
 * http-api.test.ts, the page's Generate mode in test/browser/generate.test.ts.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { EMPTY, Subject, type Subscription } from 'rxjs';
import type { VideoFrame } from '../../core/frames.js';
import { loadedModelCount } from '../../core/onnx/shared-models.js';
import { generatePipeline } from '../../src/server/generate-pipeline.js';
import { until } from '../wait.js';

const tiny = fileURLToPath(new URL('../../../models/video-world/tiny/step.onnx', import.meta.url));

type Event = { type: string; [k: string]: unknown };

describe('server: the generate pipeline (tiny model)', function () {
  this.timeout(30_000);
  const subs: Subscription[] = [];
  let release: (() => void) | undefined;

  afterEach(() => {
    subs.splice(0).forEach((s) => s.unsubscribe());
    release?.();
    release = undefined;
  });

  it('refuses a bad fps when built, not in a session', () => {
    assert.throws(() => generatePipeline({ model: tiny, fps: 0 }), /fps must be in \(0, 240\]/);
    assert.throws(() => generatePipeline({ model: tiny, scene: 'nowhere' }), /unknown scene "nowhere"/);
  });

  it('steers and switches scenes from data-channel messages, reports each with its t and latency, refuses bad ones', async () => {
    const loaded = loadedModelCount();
    const run = generatePipeline({ model: tiny, device: 'cpu', fps: 30 });
    release = await run.warm!();
    assert.equal(loadedModelCount(), loaded + 2, 'warm loads the step and the offline (re-cache) graphs');
    const control$ = new Subject<{ type: string; [k: string]: unknown }>();
    const out = run({ audio$: EMPTY, control$ });
    const events: Event[] = [];
    const frames: VideoFrame[] = [];
    subs.push(out.events$.subscribe((e) => events.push(e as Event)));
    subs.push(out.video$!.subscribe((f) => frames.push(f)));
    assert.deepEqual(events[0], { type: 'generate', scenes: ['stripes', 'checker', 'gradient', 'dots'], scene: 'stripes', fps: 30, width: 32, height: 32 });
    await until('frames', 10_000, () => frames.length >= 2);
    assert.equal(frames[0].width, 32);

    control$.next({ type: 'steer', command: 'left', t: 11 });
    control$.next({ type: 'steer', command: 'sideways', t: 12 });
    control$.next({ type: 'steer', dx: 'a lot' });
    control$.next({ type: 'scene', scene: 'moon', t: 13 });
    control$.next({ type: 'shout' });
    control$.next({ type: 'position', azimuth: 90 }); // the listen pipeline's message: ignored here
    const steered = await until('the steer reported', 10_000, () => events.find((e) => e.type === 'steered'));
    assert.equal(steered.command, 'left');
    assert.equal(steered.t, 11);
    assert.ok(typeof steered.latencyMs === 'number' && steered.latencyMs >= 0, JSON.stringify(steered));
    assert.ok(frames.some((f) => f.pts === steered.pts), 'the reported pts is a frame that went out');
    const errors = events.filter((e) => e.type === 'error').map((e) => e.message);
    assert.deepEqual(errors, [
      'steer: command must be one of stop, left, right, up, down',
      'steer: dx must be a finite number',
      `scene: generateVideo: unknown scene "moon" (scenes: 0 stripes, 1 checker, 2 gradient, 3 dots)`,
      "the generate pipeline takes 'steer' and 'scene' messages, not 'shout'",
    ]);

    control$.next({ type: 'scene', scene: 'checker', t: 'mine' });
    control$.next({ type: 'steer', dx: 0.9, dy: -1, t: 14 });
    const scene = await until('the scene switch reported', 10_000, () => events.find((e) => e.type === 'scene'));
    assert.deepEqual([scene.scene, scene.t], ['checker', 'mine']);
    const second = await until('the dx/dy steer reported', 10_000, () => events.find((e) => e.type === 'steered' && e.t === 14));
    assert.deepEqual([second.dx, second.dy], [0.9, -1]);
    assert.equal(events.filter((e) => e.type === 'error').length, 4, 'nothing else refused');
  });
});

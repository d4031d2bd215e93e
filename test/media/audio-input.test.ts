import assert from 'node:assert/strict';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FlowControl, flowOf } from '../../core/flow.js';
import { nowMs, samplePts, type AudioFrame } from '../../core/frames.js';
import { setLogSink } from '../../core/log.js';
import { metricValue, sharedMetrics } from '../../core/metrics.js';
import { serialMap } from '../../core/serial-queue.js';
import { ffmpegAudioInput } from '../../media/ffmpeg/index.js';
import { isLiveInput } from '../../media/ffmpeg/input.js';
import { until } from '../wait.js';
import {
  channelOf,
  collect,
  concatFloat,
  ffmpegChildren,
  childProcesses,
  fitTone,
  handleCounts,
  makeTempDir,
  processGone,
  referenceDecode,
  removeDir,
  soxSync,
  waitFor,
  zeroCrossings,
} from '../fixtures-media.js';

const LAVFI = ['-f', 'lavfi'];
const tick = (): Promise<void> => new Promise((r) => setTimeout(r, 1)).then(() => new Promise((r) => setImmediate(r)));
const SINE_1S = 'sine=frequency=440:sample_rate=48000:duration=1';

describe('media/ffmpeg ffmpegAudioInput', function () {
  this.timeout(20000);
  let dir: string;
  let stereo: string;

  before(() => {
    dir = makeTempDir();
    stereo = join(dir, 'stereo-440-1000.wav');
    // Left 440 Hz, right 1000 Hz.
    soxSync(['-n', '-r', '48000', '-c', '2', '-b', '16', stereo, 'synth', '1', 'sine', '440', 'sine', '1000', 'vol', '0.5']);
  });
  after(() => removeDir(dir));

  it('decodes a 48 kHz lavfi sine resampled to 16 kHz mono: frame sizes, exact pts, sample count, 440 Hz', async () => {
    const { frames, error } = await collect(ffmpegAudioInput(SINE_1S, { sampleRate: 16000, channels: 1, inputOptions: LAVFI }));
    assert.equal(error, undefined);
    assert.equal(frames.length, 50);
    frames.forEach((f, k) => {
      assert.equal(f.kind, 'audio');
      assert.equal(f.sampleRate, 16000);
      assert.equal(f.channels, 1);
      assert.equal(f.data.length, 320, `frame ${k} size`);
      assert.equal(f.pts, k * 20000, `frame ${k} pts`);
      assert.ok(f.data instanceof Float32Array);
    });
    const x = concatFloat(frames.map((f) => f.data));
    assert.equal(x.length, 16000);
    const zc = zeroCrossings(x);
    assert.ok(Math.abs(zc - 880) <= 3, `zero crossings ${zc}, expected ~880 for 440 Hz`);
    const fit = fitTone(x, 440, 16000, 100, x.length - 100);
    assert.ok(Math.abs(fit.amplitude - 0.125) < 0.005, `amplitude ${fit.amplitude} (lavfi sine is 1/8)`);
    assert.ok(fit.snr > 1000, `440 Hz fit SNR ${fit.snr}`);
  });

  it('keeps stereo interleaving: left 440 Hz, right 1000 Hz', async () => {
    const { frames, error } = await collect(ffmpegAudioInput(stereo, { sampleRate: 48000, channels: 2 }));
    assert.equal(error, undefined);
    assert.ok(frames.every((f) => f.channels === 2 && f.data.length === 960 * 2));
    const x = concatFloat(frames.map((f) => f.data));
    assert.equal(x.length, 48000 * 2);
    const left = channelOf(x, 0, 2);
    const right = channelOf(x, 1, 2);
    assert.ok(Math.abs(zeroCrossings(left) - 880) <= 3, `left crossings ${zeroCrossings(left)}`);
    assert.ok(Math.abs(zeroCrossings(right) - 2000) <= 3, `right crossings ${zeroCrossings(right)}`);
    assert.ok(fitTone(left, 440, 48000).snr > 1000);
    assert.ok(fitTone(right, 1000, 48000).snr > 1000);
    // No leakage of one channel into the other.
    assert.ok(fitTone(left, 1000, 48000).amplitude < 1e-3);
    assert.ok(fitTone(right, 440, 48000).amplitude < 1e-3);
  });

  it('cuts frames across pipe chunk boundaries bit-exactly (odd frame size, startPts offset)', async () => {
    // 11025 Hz x 7 ms = 77.175 -> 77-sample frames of 2 channels: 616 bytes, never aligned with 64 KiB chunks.
    const startPts = 1_000_000;
    const { frames, error } = await collect(
      ffmpegAudioInput(stereo, { sampleRate: 11025, channels: 2, frameMs: 7, startPts }),
    );
    assert.equal(error, undefined);
    const ref = referenceDecode(stereo, 11025, 2);
    const got = concatFloat(frames.map((f) => f.data));
    assert.equal(got.length, ref.length);
    assert.deepEqual(Buffer.from(got.buffer, got.byteOffset, got.byteLength), Buffer.from(ref.buffer));
    let index = 0;
    frames.forEach((f, k) => {
      const n = f.data.length / 2;
      if (k < frames.length - 1) assert.equal(n, 77, `frame ${k}`);
      else assert.ok(n >= 1 && n <= 77, `last frame ${n}`);
      assert.equal(f.pts, samplePts(startPts, index, 11025));
      index += n;
    });
    assert.equal(index, 11025);
  });

  it('stamps wallMs at emission, non-decreasing', async () => {
    const before = performance.timeOrigin + performance.now();
    const { frames } = await collect(ffmpegAudioInput(SINE_1S, { sampleRate: 16000, channels: 1, inputOptions: LAVFI }));
    const after = performance.timeOrigin + performance.now();
    for (let k = 0; k < frames.length; k++) {
      assert.ok(frames[k]!.wallMs >= before && frames[k]!.wallMs <= after);
      if (k > 0) assert.ok(frames[k]!.wallMs >= frames[k - 1]!.wallMs);
    }
  });

  it('realtime: paces 1 s of audio over >= 0.9 s of wall clock, frame k near t0 + (k+1) * 20 ms', async () => {
    const start = nowMs();
    const { frames, error, ms } = await collect(
      ffmpegAudioInput(SINE_1S, { sampleRate: 16000, channels: 1, inputOptions: LAVFI, realtime: true }),
    );
    assert.equal(error, undefined);
    assert.equal(frames.length, 50);
    assert.ok(ms >= 900, `took ${ms.toFixed(0)} ms`);
    assert.ok(ms < 10_000, `took ${ms.toFixed(0)} ms`);
    // Paced, not a burst: no frame before its time (the pacer's clock starts after \`start\`); late is only load.
    const early = frames.map((f, k) => f.wallMs - (start + 20 * (k + 1))).filter((d) => d < -2);
    assert.deepEqual(early, [], 'frames released before their time (ms early)');
  });

  it('unsubscribing mid-stream kills ffmpeg, leaves no zombie and no handles', async () => {
    await tick(); // mocha arms its timeout timer once the test is running
    const baseline = handleCounts();
    assert.equal(ffmpegChildren().length, 0, 'no ffmpeg before');
    const got: AudioFrame[] = [];
    let pid = -1;
    await new Promise<void>((resolve, reject) => {
      const sub = ffmpegAudioInput('sine=frequency=440:sample_rate=48000', {
        sampleRate: 16000,
        channels: 1,
        inputOptions: LAVFI,
      }).subscribe({
        next: (f) => {
          got.push(f);
          if (got.length === 5) {
            const kids = ffmpegChildren();
            if (kids.length !== 1) reject(new Error(`expected one ffmpeg child, got ${JSON.stringify(kids)}`));
            pid = kids[0]?.pid ?? -1;
            setImmediate(() => {
              sub.unsubscribe();
              resolve();
            });
          }
        },
        error: reject,
      });
    });
    assert.ok(pid > 0);
    assert.ok(await waitFor(() => processGone(pid)), `ffmpeg ${pid} still exists (running or zombie)`);
    assert.deepEqual(ffmpegChildren(), []);
    assert.ok(await waitFor(() => JSON.stringify(handleCounts()) === JSON.stringify(baseline)), `handles ${JSON.stringify(handleCounts())} vs ${JSON.stringify(baseline)}`);
  });

  it('unsubscribing a realtime stream clears its timer and kills ffmpeg', async () => {
    await tick(); // mocha arms its timeout timer once the test is running
    const baseline = handleCounts();
    await new Promise<void>((resolve, reject) => {
      let n = 0;
      const sub = ffmpegAudioInput(SINE_1S, { sampleRate: 16000, channels: 1, inputOptions: LAVFI, realtime: true }).subscribe({
        next: () => {
          if (++n === 3) {
            sub.unsubscribe();
            resolve();
          }
        },
        error: reject,
      });
    });
    assert.ok(await waitFor(() => ffmpegChildren().length === 0), 'ffmpeg gone');
    assert.ok(await waitFor(() => JSON.stringify(handleCounts()) === JSON.stringify(baseline)), `handles ${JSON.stringify(handleCounts())} vs ${JSON.stringify(baseline)}`);
  });

  it('escalates to SIGKILL when the process ignores SIGTERM', async () => {
    await tick();
    const baseline = handleCounts();
    // A stand-in "ffmpeg" that ignores SIGTERM and never writes.
    const stubborn = join(dir, 'stubborn-ffmpeg.sh');
    writeFileSync(stubborn, "#!/bin/sh\ntrap '' TERM\nexec sleep 30\n");
    chmodSync(stubborn, 0o755);
    const sub = ffmpegAudioInput(SINE_1S, { sampleRate: 16000, channels: 1, inputOptions: LAVFI, ffmpegPath: stubborn }).subscribe({
      error: (e: unknown) => assert.fail(String(e)),
    });
    assert.ok(await waitFor(() => childProcesses().some((c) => c.comm === 'sleep')), 'stand-in started');
    const pid = childProcesses().find((c) => c.comm === 'sleep')!.pid;
    const t0 = performance.now();
    sub.unsubscribe();
    assert.ok(await waitFor(() => processGone(pid), 3000, 10), 'killed');
    const ms = performance.now() - t0;
    assert.ok(ms >= 400, `gone after ${ms.toFixed(0)} ms: SIGTERM was ignored, so only SIGKILL after the 500 ms grace can have ended it`);
    assert.ok(await waitFor(() => JSON.stringify(handleCounts()) === JSON.stringify(baseline)), `handles ${JSON.stringify(handleCounts())} vs ${JSON.stringify(baseline)}`);
  });

  it('honours FlowControl: no frame while paused (even mid-chunk), all frames after resume', async () => {
    const flow = new FlowControl();
    const frames: AudioFrame[] = [];
    let countAtPause = -1;
    let emittedWhilePaused = 0;
    const done = new Promise<void>((resolve, reject) => {
      ffmpegAudioInput(SINE_1S, { sampleRate: 16000, channels: 1, inputOptions: LAVFI, flow }).subscribe({
        next: (f) => {
          if (flow.paused) emittedWhilePaused++;
          frames.push(f);
          if (frames.length === 3) {
            flow.pause();
            countAtPause = frames.length;
            setTimeout(() => {
              assert.equal(frames.length, countAtPause, 'frames arrived while paused');
              flow.resume();
            }, 300);
          }
        },
        error: reject,
        complete: resolve,
      });
    });
    await done;
    assert.equal(emittedWhilePaused, 0);
    assert.equal(frames.length, 50);
    frames.forEach((f, k) => assert.equal(f.pts, k * 20000));
  });

  /** A model-like operator whose steps wait for `release`: frames pile up in its queue meanwhile. */
  function slowConsumer(name: string) {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let flow: FlowControl | undefined;
    const op = serialMap<AudioFrame, AudioFrame>(
      () => ({
        async step(f, emit) {
          flow ??= flowOf(f);
          await gate;
          emit(f);
        },
      }),
      { name, capacity: 4 },
    );
    return { op, release, flow: () => flow, drops: () => metricValue(sharedMetrics.drops, { operator: name, policy: 'drop-oldest' }) };
  }

  it('a file-speed input pauses for a slow queue downstream with nothing wired: every frame arrives, none dropped', async () => {
    const slow = slowConsumer('audio-input-slow-file');
    const before = await slow.drops();
    const result = collect(ffmpegAudioInput(SINE_1S, { sampleRate: 16000, channels: 1, inputOptions: LAVFI }).pipe(slow.op));
    try {
      await until('the full queue to pause ffmpeg', 10000, () => slow.flow()?.paused === true);
    } finally {
      slow.release();
    }
    const { frames, error } = await result;
    assert.equal(error, undefined);
    assert.equal((await slow.drops()) - before, 0);
    assert.equal(frames.length, 50);
    frames.forEach((f, k) => assert.equal(f.pts, k * 20000));
  });

  it('a realtime input still drops the oldest under a slow consumer, and says so once at warn', async () => {
    const lines: { level: string; line: string }[] = [];
    const prev = setLogSink((level, line) => lines.push({ level, line }));
    const slow = slowConsumer('audio-input-slow-live');
    const before = await slow.drops();
    try {
      const result = collect(ffmpegAudioInput(SINE_1S, { sampleRate: 16000, channels: 1, inputOptions: LAVFI, realtime: true }).pipe(slow.op));
      try {
        let dropped = 0;
        await until('frames to be dropped behind the slow step', 10000, async () => (dropped = (await slow.drops()) - before) >= 10, () => `${dropped} drops`);
      } finally {
        slow.release();
      }
      const { frames, error } = await result;
      assert.equal(error, undefined);
      assert.equal(slow.flow(), undefined, 'live frames carry no flow control');
      assert.equal(frames.length + (await slow.drops()) - before, 50, 'every frame either processed or counted as dropped');
      const warned = lines.filter((l) => l.line.includes('audio-input-slow-live'));
      assert.equal(warned.length, 1, JSON.stringify(lines));
      assert.equal(warned[0]!.level, 'warn');
    } finally {
      setLogSink(prev);
    }
  });

  it('knows live inputs: realtime, streaming protocols, capture devices and -re; files and lavfi are not; `live` wins', () => {
    assert.equal(isLiveInput('talk.mp4', {}), false);
    assert.equal(isLiveInput('https://example.org/talk.mp4', {}), false);
    assert.equal(isLiveInput('sine', { inputOptions: LAVFI }), false);
    assert.equal(isLiveInput('talk.mp4', { realtime: true }), true);
    assert.equal(isLiveInput('rtsp://cam/stream', {}), true);
    assert.equal(isLiveInput('srt://127.0.0.1:9000', {}), true);
    assert.equal(isLiveInput('default', { inputOptions: ['-f', 'alsa'] }), true);
    assert.equal(isLiveInput('/dev/video0', {}), true);
    assert.equal(isLiveInput('talk.mp4', { inputOptions: ['-re'] }), true);
    assert.equal(isLiveInput('rtsp://cam/stream', { live: false }), false);
    assert.equal(isLiveInput('talk.mp4', { live: true }), true);
  });

  it('rejects bad options synchronously with invalid-argument', () => {
    assert.throws(() => ffmpegAudioInput('x.wav', { sampleRate: 0, channels: 1 }), { code: 'invalid-argument' });
    assert.throws(() => ffmpegAudioInput('x.wav', { sampleRate: 16000, channels: 0 }), { code: 'invalid-argument' });
    assert.throws(() => ffmpegAudioInput('x.wav', { sampleRate: 16000, channels: 1, frameMs: 0.01 }), { code: 'invalid-argument' });
  });
});

import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { from, interval, map, Observable } from 'rxjs';
import { spawnSync } from 'node:child_process';
import { isCausewayError } from '../../core/errors.js';
import { FlowControl, tagFlow } from '../../core/flow.js';
import { audioFrame, type AudioFrame, type VideoFrame } from '../../core/frames.js';
import {
  ffmpegAudioInput,
  ffmpegAudioOutput,
  ffmpegVideoInput,
  ffmpegVideoOutput,
  probeMedia,
  writeDone,
} from '../../media/ffmpeg/index.js';
import {
  collect,
  concatFloat,
  ffmpegChildren,
  fitTone,
  makeTempDir,
  maxAbsDiff,
  removeDir,
  sineFrames,
  waitFor,
  zeroCrossings,
  channelOf,
} from '../fixtures-media.js';

function framesOf(parts: readonly Float32Array[], sampleRate: number, channels: number): AudioFrame[] {
  let index = 0;
  return parts.map((d) => {
    const f = audioFrame(Math.round((index * 1e6) / sampleRate), sampleRate, channels, d);
    index += d.length / channels;
    return f;
  });
}

async function decode(path: string, sampleRate: number, channels: number): Promise<Float32Array> {
  const r = await collect(ffmpegAudioInput(path, { sampleRate, channels }));
  assert.equal(r.error, undefined, `decoding ${path}: ${String(r.error)}`);
  return concatFloat(r.frames.map((f) => f.data));
}

async function errorOf(o: Observable<never>): Promise<Error & { code?: string }> {
  try {
    await writeDone(o);
  } catch (e) {
    return e as Error & { code?: string };
  }
  assert.fail('expected an error');
}

describe('media/ffmpeg outputs', function () {
  this.timeout(20000);
  let dir: string;
  const p = (name: string): string => join(dir, name);
  const sine = sineFrames({ sampleRate: 48000, channels: 1, freqs: [440], seconds: 1, frameSamples: 960 });

  before(() => {
    dir = makeTempDir();
  });
  after(() => removeDir(dir));

  it('writes a sine to .wav (pcm_s16le) that decodes back within 16-bit quantisation (<= 1e-4)', async () => {
    await writeDone(from(framesOf(sine.frames, 48000, 1)).pipe(ffmpegAudioOutput(p('out.wav'), { sampleRate: 48000, channels: 1 })));
    const info = await probeMedia(p('out.wav'));
    assert.deepEqual(info.audio, { sampleRate: 48000, channels: 1, codec: 'pcm_s16le' });
    const back = await decode(p('out.wav'), 48000, 1);
    assert.equal(back.length, sine.signal.length);
    const d = maxAbsDiff(back, sine.signal);
    assert.ok(d <= 1e-4, `max abs diff ${d}`);
    assert.ok(d > 0, 'pcm_s16le is not bit-exact: the comparison must see quantisation');
  });

  it('writes pcm_f32le .wav bit-exactly, stereo, through stdin backpressure (8 MB in one synchronous burst)', async () => {
    const st = sineFrames({ sampleRate: 48000, channels: 2, freqs: [440, 1000], seconds: 20, frameSamples: 960 });
    await writeDone(
      from(framesOf(st.frames, 48000, 2)).pipe(
        ffmpegAudioOutput(p('f32.wav'), { sampleRate: 48000, channels: 2, outputOptions: ['-c:a', 'pcm_f32le'] }),
      ),
    );
    const back = await decode(p('f32.wav'), 48000, 2);
    assert.equal(back.length, st.signal.length);
    assert.equal(maxAbsDiff(back, st.signal), 0);
    assert.ok(Math.abs(zeroCrossings(channelOf(back, 1, 2)) - 20 * 2000) <= 3);
  });

  it('writes Ogg/Opus that decodes back to the same 440 Hz tone and length', async () => {
    await writeDone(
      from(framesOf(sine.frames, 48000, 1)).pipe(
        ffmpegAudioOutput(p('out.ogg'), { sampleRate: 48000, channels: 1, outputOptions: ['-c:a', 'libopus', '-b:a', '64k'] }),
      ),
    );
    const info = await probeMedia(p('out.ogg'));
    assert.equal(info.audio?.codec, 'opus');
    const back = await decode(p('out.ogg'), 48000, 1);
    assert.ok(Math.abs(back.length - 48000) <= 960, `length ${back.length}`);
    const zc = zeroCrossings(back.subarray(2400, 45600));
    assert.ok(Math.abs(zc - 0.9 * 880) <= 4, `zero crossings ${zc}`);
    const fit = fitTone(back, 440, 48000, 2400, 45600);
    assert.ok(Math.abs(fit.amplitude - 0.5) < 0.05, `amplitude ${fit.amplitude}`);
    assert.ok(fit.snr > 100, `SNR ${fit.snr} (lossy codec, but > 20 dB)`);
  });

  it('honours the format option (-f) for a target without a known extension', async () => {
    await writeDone(
      from(framesOf(sine.frames, 48000, 1)).pipe(ffmpegAudioOutput(p('raw.audio'), { sampleRate: 48000, channels: 1, format: 'wav' })),
    );
    const info = await probeMedia(p('raw.audio'));
    assert.equal(info.audio?.codec, 'pcm_s16le');
  });

  it('a frame of the wrong rate or channel count -> invalid-frame naming the target, and ffmpeg is stopped', async () => {
    const good = framesOf(sine.frames.slice(0, 5), 48000, 1);
    const wrongRate = audioFrame(100_000, 44100, 1, new Float32Array(882));
    const e1 = await errorOf(from([...good, wrongRate]).pipe(ffmpegAudioOutput(p('bad1.wav'), { sampleRate: 48000, channels: 1 })));
    assert.ok(isCausewayError(e1));
    assert.equal(e1.code, 'invalid-frame');
    assert.match(e1.message, /bad1\.wav/);
    assert.match(e1.message, /44100/);
    const wrongChannels = audioFrame(0, 48000, 2, new Float32Array(1920));
    const e2 = await errorOf(from([wrongChannels]).pipe(ffmpegAudioOutput(p('bad2.wav'), { sampleRate: 48000, channels: 1 })));
    assert.equal(e2.code, 'invalid-frame');
    assert.match(e2.message, /channel/);
    const badVideo: VideoFrame = { kind: 'video', pts: 0, wallMs: 0, width: 10, height: 10, format: 'rgb24', data: new Uint8Array(299) };
    const e3 = await errorOf(from([badVideo]).pipe(ffmpegVideoOutput(p('bad.mkv'), { width: 10, height: 10, pixelFormat: 'rgb24', fps: 10 })));
    assert.equal(e3.code, 'invalid-frame');
    assert.match(e3.message, /299 bytes, expected 300/);
    assert.ok(await waitFor(() => ffmpegChildren().length === 0));
  });

  it('ffmpeg failures -> output-failed with ffmpeg\'s reason; missing binary -> ffmpeg-missing', async () => {
    const frames = framesOf(sine.frames.slice(0, 10), 48000, 1);
    const e1 = await errorOf(
      from(frames).pipe(ffmpegAudioOutput(p('x.ogg'), { sampleRate: 48000, channels: 1, outputOptions: ['-c:a', 'nosuchcodec'] })),
    );
    assert.equal(e1.code, 'output-failed');
    assert.match(e1.message, /Unknown encoder 'nosuchcodec'/);
    assert.match(e1.message, /x\.ogg/);
    const e2 = await errorOf(from(frames).pipe(ffmpegAudioOutput(p('no/such/dir/y.wav'), { sampleRate: 48000, channels: 1 })));
    assert.equal(e2.code, 'output-failed');
    assert.match(e2.message, /No such file or directory/);
    const e3 = await errorOf(
      from(frames).pipe(ffmpegAudioOutput(p('z.wav'), { sampleRate: 48000, channels: 1, ffmpegPath: p('no-ffmpeg') })),
    );
    assert.equal(e3.code, 'ffmpeg-missing');
    assert.match(e3.message, /z\.wav.*npm run setup/);
    assert.ok(!/[\r\n]/.test(e1.message + e2.message + e3.message));
  });

  it('bounds its queue: a burst beyond maxQueuedBytes -> queue-overflow', async () => {
    const big = sineFrames({ sampleRate: 48000, channels: 2, freqs: [440], seconds: 10, frameSamples: 960 });
    const e = await errorOf(
      from(framesOf(big.frames, 48000, 2)).pipe(
        ffmpegAudioOutput(p('q.wav'), { sampleRate: 48000, channels: 2, maxQueuedBytes: 256 * 1024 }),
      ),
    );
    assert.equal(e.code, 'queue-overflow');
  });

  it('pauses a source that can pause instead of queueing: 300 frames of 320x240 through a 1 MiB bound, all written; the same frames untagged overflow it', async () => {
    const frame = (k: number): VideoFrame => {
      const data = new Uint8Array(320 * 240 * 3).fill(k % 256);
      return { kind: 'video', pts: Math.round((k * 1e6) / 30), wallMs: 0, width: 320, height: 240, format: 'rgb24', data };
    };
    let pauses = 0;
    // A source like a file input: it emits as fast as it may, and waits while its FlowControl is paused.
    const pausable = (n: number): Observable<VideoFrame> =>
      new Observable<VideoFrame>((sub) => {
        const flow = new FlowControl();
        flow.onChange((p) => p && pauses++);
        let stopped = false;
        void (async () => {
          for (let k = 0; k < n && !stopped; k++) {
            while (flow.paused && !stopped) await new Promise<void>((r) => { const off = flow.onChange(() => (off(), r())); });
            sub.next(tagFlow(frame(k), flow));
            if (k % 16 === 0) await new Promise((r) => setImmediate(r));
          }
          sub.complete();
        })();
        return () => {
          stopped = true;
        };
      });
    const out = { width: 320, height: 240, pixelFormat: 'rgb24' as const, fps: 30, maxQueuedBytes: 1 << 20, outputOptions: ['-pix_fmt', 'yuv444p'] };
    await writeDone(pausable(300).pipe(ffmpegVideoOutput(p('paced.y4m'), out)));
    assert.ok(pauses > 0, 'the output paused the source');
    const probe = spawnSync('ffprobe', ['-v', 'error', '-count_frames', '-select_streams', 'v:0', '-show_entries', 'stream=nb_read_frames', '-of', 'csv=p=0', p('paced.y4m')], { encoding: 'utf8' });
    assert.equal(probe.stdout.trim(), '300');
    // map() makes new objects without the source's tag: nothing to pause, the bound holds.
    const e = await errorOf(pausable(300).pipe(map((f) => ({ ...f })), ffmpegVideoOutput(p('unpaced.y4m'), out)));
    assert.equal(e.code, 'queue-overflow');
  });

  it('unsubscribing kills ffmpeg', async () => {
    const frame = new Float32Array(960);
    const sub = interval(5)
      .pipe(
        map((k) => audioFrame(k * 20000, 48000, 1, frame)),
        ffmpegAudioOutput(p('cancel.wav'), { sampleRate: 48000, channels: 1 }),
      )
      .subscribe({ error: (e: unknown) => assert.fail(String(e)) });
    try {
      assert.ok(await waitFor(() => ffmpegChildren().length === 1 && existsSync(p('cancel.wav'))), 'ffmpeg started writing');
      // Some audio on disk before cancelling (48 kB: over 0.25 s whatever the sample format), however slowly a busy machine runs.
      assert.ok(await waitFor(() => statSync(p('cancel.wav')).size > 48_000, 30_000), 'ffmpeg wrote audio');
    } finally {
      sub.unsubscribe();
    }
    assert.ok(await waitFor(() => ffmpegChildren().length === 0), 'ffmpeg gone');
    // Closing stdin + SIGTERM lets ffmpeg finalise what it had: a valid, non-empty WAV.
    assert.ok(existsSync(p('cancel.wav')));
    const info = await probeMedia(p('cancel.wav'));
    assert.ok((info.durationSec ?? 0) > 0.1, `cancelled output holds ${info.durationSec} s`);
  });

  it('video: testsrc -> ffmpegVideoOutput (lossless FFV1 .mkv) -> ffmpegVideoInput gives the same pixels', async () => {
    const opts = { width: 64, height: 48, pixelFormat: 'rgb24', fps: 10 } as const;
    const src = await collect(ffmpegVideoInput('testsrc=size=64x48:rate=10:duration=1', { ...opts, inputOptions: ['-f', 'lavfi'] }));
    assert.equal(src.frames.length, 10);
    await writeDone(from(src.frames).pipe(ffmpegVideoOutput(p('v.mkv'), { ...opts, outputOptions: ['-c:v', 'ffv1'] })));
    const info = await probeMedia(p('v.mkv'));
    assert.deepEqual(info.video, { width: 64, height: 48, fps: 10, codec: 'ffv1' });
    const back = await collect(ffmpegVideoInput(p('v.mkv'), opts));
    assert.equal(back.error, undefined);
    assert.equal(back.frames.length, 10);
    back.frames.forEach((f, k) => assert.ok(Buffer.from(f.data).equals(Buffer.from(src.frames[k]!.data)), `frame ${k}`));
  });
});

import assert from 'node:assert/strict';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isCausewayError } from '../../core/errors.js';
import type { AudioFrame } from '../../core/frames.js';
import { ffmpegAudioInput, ffmpegVideoInput, probeMedia } from '../../media/ffmpeg/index.js';
import { StderrTail, lastMeaningful, redactSource } from '../../media/ffmpeg/errors.js';
import { oggCheck, parseWavHeader } from '../../media/ffmpeg/truncation.js';
import {
  collect,
  ffmpegSync,
  garbageBytes,
  makeTempDir,
  removeDir,
  truncateCopy,
  type Collected,
} from '../fixtures-media.js';

const MONO16K = { sampleRate: 16000, channels: 1 } as const;

/** The error is a typed MediaError with `code`, on one line, naming `name`. */
function assertMediaError(err: unknown, code: string, name: string): asserts err is Error & { code: string } {
  assert.ok(isCausewayError(err), `expected a CausewayError, got ${String(err)}`);
  assert.equal(err.code, code, `code; message: ${err.message}`);
  assert.equal(err.name, 'MediaError');
  assert.ok(!/[\r\n]/.test(err.message), `one line: ${JSON.stringify(err.message)}`);
  assert.ok(err.message.includes(name), `message names ${name}: ${err.message}`);
}

function samples(r: Collected<AudioFrame>): number {
  return r.frames.reduce((n, f) => n + f.data.length / f.channels, 0);
}

describe('media/ffmpeg errors', function () {
  this.timeout(20000);
  let dir: string;
  const p = (name: string): string => join(dir, name);

  before(() => {
    dir = makeTempDir();
    // One ffmpeg run for the 2 s sine in three containers, one for the video-only file.
    ffmpegSync([
      '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000:duration=2',
      '-map', '0', '-c:a', 'pcm_s16le', p('sine.wav'),
      '-map', '0', '-c:a', 'libmp3lame', '-b:a', '64k', p('sine.mp3'),
      '-map', '0', '-c:a', 'libopus', '-b:a', '48k', p('sine.ogg'),
    ]);
    ffmpegSync(['-f', 'lavfi', '-i', 'testsrc=size=64x48:rate=10:duration=0.5', '-c:v', 'mpeg4', p('video-only.mp4')]);
    writeFileSync(p('empty.wav'), Buffer.alloc(0));
    writeFileSync(p('garbage.wav'), garbageBytes(8192));

    const wav = readFileSync(p('sine.wav'));
    const h = parseWavHeader(wav);
    assert.ok(h !== undefined && h.dataBytes === 192000, 'fixture WAV header');
    // Cut on a sample boundary (ffmpeg prints nothing) and in the middle of a sample (ffmpeg
    // prints "Invalid PCM packet"), both ~1 s of the 2 s.
    truncateCopy(p('sine.wav'), p('cut-aligned.wav'), h.dataOffset + 96000);
    truncateCopy(p('sine.wav'), p('cut-odd.wav'), h.dataOffset + 96001);
    truncateCopy(p('sine.mp3'), p('cut.mp3'), Math.floor(statSync(p('sine.mp3')).size / 2));
    truncateCopy(p('sine.ogg'), p('cut.ogg'), Math.floor(statSync(p('sine.ogg')).size / 2));
  });
  after(() => removeDir(dir));

  it('ffmpeg binary missing -> ffmpeg-missing, with the setup hint and the input', async () => {
    const r = await collect(ffmpegAudioInput(p('sine.wav'), { ...MONO16K, ffmpegPath: join(dir, 'no-such-ffmpeg') }));
    assertMediaError(r.error, 'ffmpeg-missing', p('sine.wav'));
    assert.match(r.error.message, /npm run setup/);
    assert.equal(r.frames.length, 0);
  });

  it('missing file -> input-not-found (checked before ffmpeg, and as ffmpeg reports it)', async () => {
    const r = await collect(ffmpegAudioInput(p('nope.wav'), MONO16K));
    assertMediaError(r.error, 'input-not-found', p('nope.wav'));
    // With an explicit -f the name is not stat-checked: ffmpeg's "No such file or directory" decides.
    const r2 = await collect(ffmpegAudioInput(p('nope2.wav'), { ...MONO16K, inputOptions: ['-f', 'wav'] }));
    assertMediaError(r2.error, 'input-not-found', p('nope2.wav'));
  });

  it('0-byte file -> input-empty', async () => {
    const r = await collect(ffmpegAudioInput(p('empty.wav'), MONO16K));
    assertMediaError(r.error, 'input-empty', p('empty.wav'));
  });

  it('no audio stream (video-only file, lavfi testsrc) -> no-audio-stream', async () => {
    const r = await collect(ffmpegAudioInput(p('video-only.mp4'), MONO16K));
    assertMediaError(r.error, 'no-audio-stream', p('video-only.mp4'));
    const r2 = await collect(ffmpegAudioInput('testsrc=duration=1', { ...MONO16K, inputOptions: ['-f', 'lavfi'] }));
    assertMediaError(r2.error, 'no-audio-stream', 'testsrc=duration=1');
  });

  it('no video stream -> no-video-stream (with fps given, and when fps is probed)', async () => {
    const r = await collect(ffmpegVideoInput(p('sine.wav'), { width: 32, height: 32, pixelFormat: 'rgb24', fps: 10 }));
    assertMediaError(r.error, 'no-video-stream', p('sine.wav'));
    const r2 = await collect(ffmpegVideoInput(p('sine.mp3'), { width: 32, height: 32, pixelFormat: 'rgb24' }));
    assertMediaError(r2.error, 'no-video-stream', p('sine.mp3'));
  });

  it('garbage bytes -> corrupt-input', async () => {
    const r = await collect(ffmpegAudioInput(p('garbage.wav'), MONO16K));
    assertMediaError(r.error, 'corrupt-input', p('garbage.wav'));
    assert.equal(r.frames.length, 0);
  });

  it('complete WAV, mp3 and Ogg/Opus files decode without a truncation false positive', async () => {
    for (const name of ['sine.wav', 'sine.mp3', 'sine.ogg']) {
      const r = await collect(ffmpegAudioInput(p(name), MONO16K));
      assert.equal(r.error, undefined, `${name}: ${String(r.error)}`);
      assert.ok(Math.abs(samples(r) - 32000) <= 16, `${name}: ${samples(r)} samples`);
    }
  });

  for (const [name, what] of [
    ['cut-aligned.wav', /WAV header declares 2\.000 s .* holds 1\.000 s/],
    ['cut-odd.wav', /WAV header declares 2\.000 s .* holds 1\.000 s/],
    ['cut.mp3', /decoded 0\.9\d+ s of the 2\.0\d+ s/],
    ['cut.ogg', /ends inside an Ogg page/],
  ] as const) {
    it(`truncated ${name}: emits every decodable frame, then corrupt-input saying how much was decoded`, async () => {
      const r = await collect(ffmpegAudioInput(p(name), MONO16K));
      // About 1 s of the 2 s is there.
      const n = samples(r);
      assert.ok(n > 14000 && n <= 16000, `${name}: ${n} samples decoded`);
      r.frames.slice(0, -1).forEach((f, k) => {
        assert.equal(f.data.length, 320);
        assert.equal(f.pts, k * 20000);
      });
      assertMediaError(r.error, 'corrupt-input', p(name));
      assert.match(r.error.message, /truncated/);
      assert.match(r.error.message, what);
      assert.match(r.error.message, /decoded \d\.\d{3} s/);
    });
  }

  it('any other ffmpeg failure -> ffmpeg-failed with the last meaningful stderr line', async () => {
    const r = await collect(ffmpegAudioInput('nosuchfilter=1', { ...MONO16K, inputOptions: ['-f', 'lavfi'] }));
    assertMediaError(r.error, 'ffmpeg-failed', 'nosuchfilter=1');
    assert.match(r.error.message, /No such filter: 'nosuchfilter'/);
    assert.doesNotMatch(r.error.message, /@ 0x/);
  });

  describe('probeMedia', () => {
    it('describes audio, video and duration', async () => {
      const a = await probeMedia(p('sine.wav'));
      assert.deepEqual(a.audio, { sampleRate: 48000, channels: 1, codec: 'pcm_s16le' });
      assert.equal(a.video, undefined);
      assert.ok(Math.abs((a.durationSec ?? 0) - 2) < 1e-3);
      const v = await probeMedia(p('video-only.mp4'));
      assert.deepEqual(v.video, { width: 64, height: 48, fps: 10, codec: 'mpeg4' });
      assert.equal(v.audio, undefined);
      const l = await probeMedia('sine=sample_rate=22050', { inputOptions: ['-f', 'lavfi'] });
      assert.equal(l.audio?.sampleRate, 22050);
    });

    it('fails with the same typed errors', async () => {
      const err = (promise: Promise<unknown>): Promise<unknown> => promise.then(() => undefined, (e: unknown) => e);
      assertMediaError(await err(probeMedia(p('nope.wav'))), 'input-not-found', p('nope.wav'));
      assertMediaError(await err(probeMedia(p('empty.wav'))), 'input-empty', p('empty.wav'));
      assertMediaError(await err(probeMedia(p('garbage.wav'))), 'corrupt-input', p('garbage.wav'));
      const missing = await err(probeMedia(p('sine.wav'), { ffprobePath: join(dir, 'no-such-ffprobe') }));
      assertMediaError(missing, 'ffmpeg-missing', p('sine.wav'));
      assert.match(missing.message, /ffprobe.*npm run setup/);
    });
  });

  describe('helpers', () => {
    it('keeps a bounded stderr tail, also for a line without newline', () => {
      const t = new StderrTail(50, 100);
      for (let i = 0; i < 1000; i++) t.push(`line ${i}\n`);
      t.push('x'.repeat(10_000));
      const s = t.snapshot();
      assert.equal(s.length, 51);
      assert.equal(s[0], 'line 950');
      assert.ok(s[50]!.length <= 100);
    });

    it('picks meaningful lines and hides secrets', () => {
      assert.equal(
        lastMeaningful(["Stream map '0:a:0' matches no streams.", "To ignore this, add a trailing '?' to the map."]),
        "Stream map '0:a:0' matches no streams.",
      );
      assert.equal(redactSource('rtsp://user:secret@cam/1'), 'rtsp://user:***@cam/1');
      assert.equal(
        lastMeaningful(['[tcp @ 0x55d0] Connection refused', 'rtsp://u:pw@h/x: Connection refused'], 'rtsp://u:pw@h/x'),
        '[tcp] Connection refused; rtsp://u:***@h/x: Connection refused',
      );
    });

    it('Ogg check: clean end passes, a cut page or a missing EOS flag is truncation', () => {
      const ogg = readFileSync(p('sine.ogg'));
      assert.equal(oggCheck(ogg, ogg.length), undefined);
      const cut = ogg.subarray(0, ogg.length - 10);
      assert.match(oggCheck(cut, cut.length)?.verdict(1) ?? '', /ends inside an Ogg page/);
      // Cut exactly where the last page starts: the file ends on a complete page without EOS.
      const lastPage = ogg.lastIndexOf('OggS');
      const noEos = ogg.subarray(0, lastPage);
      assert.match(oggCheck(noEos, noEos.length)?.verdict(1) ?? '', /no end-of-stream flag/);
    });
  });
});

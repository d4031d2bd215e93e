import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { Subject, map } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { BinauralRenderer } from '../../kernels/binaural-renderer.js';
import { CausewayError } from '../../core/errors.js';
import { audioFrame, type AudioFrame } from '../../core/frames.js';
import { DEFAULT_SOFA, sharedLookup, type HrtfSet } from '../../core/hrtf/index.js';
import { binaural, loadHrtf } from '../../operators/binaural.js';
import { ffmpegSync, makeTempDir, removeDir } from '../fixtures-media.js';
import { randomChunking, randomSignal, rng } from '../helpers-random.js';
import { assertPtsFollow, collect, concat, framesOf, framesWithGap, from } from './frames-helpers.js';

const RATE = 48000;

function ear(y: Float32Array, e: number): Float32Array {
  return Float32Array.from({ length: y.length / 2 }, (_, i) => y[2 * i + e]);
}

function rms(x: Float32Array, from = 0, to = x.length): number {
  let s = 0;
  for (let i = from; i < to; i++) s += x[i] * x[i];
  return Math.sqrt(s / Math.max(1, to - from));
}

/** Normalised correlation of a[i] with b[i + lag] over the middle of the signals. */
function corr(a: Float32Array, b: Float32Array, lag: number): number {
  let ab = 0, aa = 0, bb = 0;
  for (let i = 2000; i < a.length - 2000; i++) {
    const j = i + lag;
    if (j < 0 || j >= b.length) continue;
    ab += a[i] * b[j];
    aa += a[i] * a[i];
    bb += b[j] * b[j];
  }
  return ab / Math.sqrt(aa * bb);
}

/** The one lag (same for both ears) that best aligns ours with the reference, and each ear's correlation there. */
function aligned(ours: Float32Array, ref: Float32Array): { lag: number; left: number; right: number } {
  const o = [ear(ours, 0), ear(ours, 1)], r = [ear(ref, 0), ear(ref, 1)];
  let best = { lag: 0, left: -1, right: -1 };
  for (let lag = -64; lag <= 64; lag++) {
    const left = corr(o[0], r[0], lag), right = corr(o[1], r[1], lag);
    if (left + right > best.left + best.right) best = { lag, left, right };
  }
  return best;
}

describe('operators/binaural', () => {
  it("warns once, naming why, when the renderer's WebAssembly block cannot start (node --jitless), and renders with the JavaScript engine", () => {
    const script = `
      import { firstValueFrom, from, toArray } from 'rxjs';
      import { binaural } from ${JSON.stringify(new URL('../../operators/binaural.js', import.meta.url).href)};
      import { audioFrame } from ${JSON.stringify(new URL('../../core/frames.js', import.meta.url).href)};
      import { setLogSink } from ${JSON.stringify(new URL('../../core/log.js', import.meta.url).href)};
      const lines = [];
      setLogSink((_l, line) => lines.push(line));
      // Six measured directions (the axes), 16-tap IRs: enough for the lookup's hull.
      const positions = [[0, 0], [90, 0], [180, 0], [270, 0], [0, 90], [0, -90]].map(([azimuth, elevation]) => ({ azimuth, elevation, distance: 1 }));
      const irs = positions.map((_, i) => ({ left: Float32Array.from({ length: 16 }, (_, t) => Math.cos(t + i)), right: Float32Array.from({ length: 16 }, (_, t) => Math.sin(t * 0.3 + i)) }));
      const hrtf = { file: 'made-up', sampleRate: 16000, length: 16, positions, irs, name: 'made-up', normalization: 1 };
      const frames = [0, 1, 2].map((k) => audioFrame(k * 20000, 16000, 1, Float32Array.from({ length: 320 }, (_, i) => Math.sin((k * 320 + i) / 9)), 0));
      for (let run = 0; run < 2; run++) await firstValueFrom(from(frames).pipe(binaural({ engine: 'hrtf', hrtf, sampleRate: 16000 }), toArray()));
      console.log(JSON.stringify(lines));`;
    const run = spawnSync(process.execPath, ['--jitless', '--input-type=module', '-e', script], { encoding: 'utf8', cwd: fileURLToPath(new URL('../../..', import.meta.url)) });
    assert.equal(run.status, 0, run.stderr);
    const lines = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as string[];
    const warnings = lines.filter((l) => /binaural: the renderer's WebAssembly block cannot start \(.*no WebAssembly.*\); rendering with the JavaScript engine/.test(l));
    assert.equal(warnings.length, 1, lines.join('\n'));
  });

  let dir: string;
  let hrtf: HrtfSet;
  before(async () => {
    dir = makeTempDir('cw-binaural-');
    hrtf = await loadHrtf();
  });
  after(() => removeDir(dir));

  describe("against ffmpeg's sofalizer (same SOFA file)", () => {
    const positions: [number, number][] = [[0, 0], [30, 0], [90, 0], [200, 0], [300, 0], [0, 30], [30, 30], [90, 30], [200, 30], [300, 30]];
    let x: Float32Array;
    let refs: Float32Array[];
    before(() => {
      // Pink noise, band-limited below 16 kHz so that the resamplers on sofalizer's path (it runs
      // at the file's 44.1 kHz, ffmpeg converts in and out) and on ours (HRIRs to 48 kHz) see the same band.
      const wav = join(dir, 'noise.wav');
      ffmpegSync(['-f', 'lavfi', '-i', `anoisesrc=d=2:c=pink:r=${RATE}:a=0.3:seed=7,lowpass=f=16000`, '-ac', '1', '-c:a', 'pcm_f32le', wav]);
      x = new Float32Array(new Uint8Array(ffmpegSync(['-i', wav, '-f', 'f32le', '-ac', '1', 'pipe:1'])).buffer);
      // One virtual source per position: a mono input is sofalizer's front-centre speaker (azimuth 0,
      // elevation 0), and `rotation` / `elevation` add to it (SOFA's convention, as ours). Defaults
      // otherwise: nearest measurement (interpolate=0), IRs normalised (a gain: correlation ignores it).
      const graph = positions.map(([az, el], i) => `[s${i}]sofalizer=sofa=${DEFAULT_SOFA}:type=freq:rotation=${az}:elevation=${el}:radius=1.4,aresample=${RATE}[o${i}]`);
      const outs = positions.map((_, i) => join(dir, `sofalizer-${i}.f32`));
      ffmpegSync([
        '-i', wav,
        '-filter_complex', `[0:a]asplit=${positions.length}${positions.map((_, i) => `[s${i}]`).join('')};${graph.join(';')}`,
        ...outs.flatMap((o, i) => ['-map', `[o${i}]`, '-f', 'f32le', '-ac', '2', o]),
      ]);
      refs = outs.map((o) => new Float32Array(new Uint8Array(readFileSync(o)).buffer));
    });

    for (const interpolation of ['barycentric', 'nearest'] as const) {
      it(`${interpolation}: correlation per ear after aligning a constant delay (>= ${interpolation === 'nearest' ? 0.999 : 0.95})`, async () => {
        const floor = interpolation === 'nearest' ? 0.999 : 0.95;
        const rows: string[] = [];
        for (const [i, [azimuth, elevation]] of positions.entries()) {
          const frames = framesOf(x, RATE, randomChunking(x.length, rng(i), 100, 2000));
          const y = concat(await collect(from(frames).pipe(binaural({ hrtf, azimuth, elevation, distance: 1.4, interpolation }))));
          assert.equal(y.length, 2 * x.length);
          const c = aligned(y, refs[i]);
          rows.push(`az ${azimuth} el ${elevation}: L ${c.left.toFixed(6)} R ${c.right.toFixed(6)} lag ${c.lag}`);
          assert.ok(c.left >= floor && c.right >= floor, rows.at(-1));
          // Our output is aligned to the source timeline, like sofalizer's (which has no latency).
          assert.ok(Math.abs(c.lag) <= 1, rows.at(-1));
        }
        // The comparison tells directions apart: our 30 degrees against sofalizer's 300 (the mirror image) falls well short.
        const ours30 = concat(await collect(from(framesOf(x, RATE, [x.length])).pipe(binaural({ hrtf, azimuth: 30, interpolation }))));
        const mirrored = aligned(ours30, refs[positions.findIndex(([a, e]) => a === 300 && e === 0)]);
        assert.ok(Math.min(mirrored.left, mirrored.right) < 0.9, `ours at 30 vs sofalizer at 300: ${JSON.stringify(mirrored)}`);
        rows.push(`(ours at 30 vs sofalizer at 300: L ${mirrored.left.toFixed(3)} R ${mirrored.right.toFixed(3)})`);
        console.log(`      vs sofalizer (${interpolation}): ${rows.join('; ')}`);
      });
    }
  });

  it('stereo out at the input rate, pts and length of the input, equal to the kernel with its latency trimmed', async () => {
    for (const rate of [48000, 16000, 44100]) {
      const rand = rng(rate);
      const x = randomSignal(Math.round(rate * 0.3), rand);
      const frames = framesOf(x, rate, randomChunking(x.length, rand, 0, 1500), 1, 5_000_000);
      const op = binaural({ hrtf, azimuth: 60, elevation: -10, blockSize: 64 });
      const out = await collect(from(frames).pipe(op));
      assert.ok(out.every((f) => f.kind === 'audio' && f.channels === 2 && f.sampleRate === rate));
      let n = 0;
      for (const f of out) {
        assert.equal(f.pts, 5_000_000 + Math.round((n * 1e6) / rate), 'pts from the sample count, on the input timeline');
        n += f.data.length / 2;
      }
      assert.equal(n, x.length);
      const k = new BinauralRenderer({ source: sharedLookup(hrtf, rate), sampleRate: rate, blockSize: 64, position: { azimuth: 60, elevation: -10, distance: 1 } });
      const want = concat([{ data: k.push(x).slice() }, { data: k.flush() }]).subarray(2 * 64, 2 * (64 + x.length));
      const got = concat(out);
      assert.ok(got.every((v, i) => Math.abs(v - want[i]) < 1e-6), `${rate} Hz`);
    }
    assert.equal(binaural({ hrtf }).info.latencyUs, Math.round((128 * 1e6) / 48000));
    assert.equal(binaural({ hrtf, blockSize: 256, sampleRate: 16000 }).info.latencyUs, 16000);
    assert.equal(binaural({ hrtf }).info.lookaheadUs, 0);
  });

  it('output pts follow the input timeline across a gap (frames a live queue dropped): nothing after it slides earlier', async () => {
    const hrtf = await loadHrtf();
    const { frames, sourceUs } = framesWithGap(randomSignal(RATE / 2, rng(31)), RATE, 960, 9600, 1_000_000);
    const out = await collect(from(frames).pipe(binaural({ hrtf, azimuth: 40 })));
    assert.equal(out.reduce((n, f) => n + f.data.length / 2, 0), RATE / 2);
    assertPtsFollow(out, sourceUs);
  });

  it('position$ moves the source: left ear louder at 90 degrees, right ear after the update to 270', async () => {
    const x = randomSignal(RATE, rng(81));
    const frames = framesOf(x, RATE, new Array(50).fill(RATE / 50));
    const position$ = new Subject<{ azimuth?: number; distance?: number }>();
    const src$ = new Subject<AudioFrame>();
    const done = collect(src$.pipe(binaural({ hrtf, azimuth: 90, position$ })));
    frames.forEach((f, i) => {
      if (i === 25) position$.next({ azimuth: 270 });
      src$.next(f);
    });
    src$.complete();
    const y = concat(await done);
    const [l, r] = [ear(y, 0), ear(y, 1)];
    const half = RATE / 2;
    assert.ok(rms(l, 0, half) > 2 * rms(r, 0, half), 'left louder before');
    // Within ~0.1 s (5 glide time constants) of the update, the right ear leads.
    assert.ok(rms(r, half + 0.1 * RATE, RATE) > 2 * rms(l, half + 0.1 * RATE, RATE), 'right louder after');
    assert.equal(position$.observed, false, 'unsubscribed from position$ when the stream ended');
  });

  it('each subscription has its own renderer and its own position$ subscription, dropped on teardown (marbles)', () => {
    const ts = new TestScheduler((a, b) => assert.deepEqual(a, b));
    ts.run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const f = (pts: number) => audioFrame(pts, 8000, 1, new Float32Array(80).fill(0.5), 0);
      const src = cold<AudioFrame>('a-b-c-d|', { a: f(0), b: f(10_000), c: f(20_000), d: f(30_000) });
      const pos = hot<{ azimuth: number }>('--x-----', { x: { azimuth: 180 } });
      const op = binaural({ hrtf, blockSize: 4, position$: pos });
      const lengths = src.pipe(op, map((fr) => fr.data.length / 2));
      // 80 samples in, 80 out per frame: minus the 4 of latency at the start, plus them when the source completes.
      expectObservable(lengths).toBe('a-b-c-d(e|)', { a: 76, b: 80, c: 80, d: 80, e: 4 });
      expectObservable(lengths, '^--!').toBe('a-b-', { a: 76, b: 80 });
      expectSubscriptions(pos.subscriptions).toBe(['^------!', '^--!']);
    });
  });

  it('reads the SOFA file itself when no set is given (frames wait in the queue meanwhile)', async () => {
    const x = randomSignal(RATE / 2, rng(82));
    const frames = framesOf(x, RATE, new Array(25).fill(RATE / 50));
    const a = concat(await collect(from(frames).pipe(binaural({ sofa: DEFAULT_SOFA, azimuth: 45 }))));
    const b = concat(await collect(from(frames).pipe(binaural({ hrtf, azimuth: 45 }))));
    assert.equal(a.length, 2 * x.length);
    assert.ok(a.every((v, i) => v === b[i]));
  });

  it('positions out of range are brought into range as the server does (core/position.ts): elevation 120 renders as 90, distance 0 as 0.25 m, azimuth -90 as 270', async () => {
    const x = randomSignal(RATE / 5, rng(83));
    const frames = framesOf(x, RATE, new Array(10).fill(RATE / 50));
    const run = async (o: { azimuth?: number; elevation?: number; distance?: number }) => concat(await collect(from(frames).pipe(binaural({ hrtf, ...o }))));
    for (const [asked, meant] of [
      [{ elevation: 120 }, { elevation: 90 }],
      [{ distance: 0 }, { distance: 0.25 }],
      [{ azimuth: -90 }, { azimuth: 270 }],
    ] as const) {
      const a = await run(asked);
      const b = await run(meant);
      assert.ok(a.every((v, i) => v === b[i]), JSON.stringify(asked));
    }
  });

  it('a position$ update lands between the same two frames whether the renderer is ready or still loading its SOFA file (stamped at arrival)', async () => {
    const x = randomSignal(RATE / 2, rng(84));
    const frames = framesOf(x, RATE, new Array(25).fill(RATE / 50));
    const run = async (o: { hrtf?: HrtfSet; sofa?: string }) => {
      const src$ = new Subject<AudioFrame>();
      const position$ = new Subject<{ azimuth: number }>();
      const out = collect(src$.pipe(binaural({ ...o, azimuth: 90, position$ })));
      // All of it before the SOFA file is read: the frames wait in the queue, the update must not jump ahead of them.
      frames.slice(0, 10).forEach((f) => src$.next(f));
      position$.next({ azimuth: 270 });
      frames.slice(10).forEach((f) => src$.next(f));
      src$.complete();
      return concat(await out);
    };
    const ready = await run({ hrtf });
    const loading = await run({ sofa: DEFAULT_SOFA });
    assert.equal(loading.length, ready.length);
    assert.ok(loading.every((v, i) => v === ready[i]), 'the same output');
    // And the update did move it: the first 10 frames left (90), the end right (270).
    const energy = (y: Float32Array, c: number, from: number, to: number) => y.filter((_, i) => i % 2 === c && i >= 2 * from && i < 2 * to).reduce((e, v) => e + v * v, 0);
    const n = x.length;
    assert.ok(energy(ready, 0, 0, n / 5) > 4 * energy(ready, 1, 0, n / 5), 'left at first');
    assert.ok(energy(ready, 1, (4 * n) / 5, n) > 4 * energy(ready, 0, (4 * n) / 5, n), 'right at the end');
  });

  it('refuses bad options, bad frames and bad positions with invalid-argument / invalid-frame', async () => {
    const isCode = (code: string, re: RegExp) => (e: unknown) => e instanceof CausewayError && e.code === code && re.test(e.message);
    assert.throws(() => binaural({ engine: 'other' as 'hrtf' }), isCode('invalid-argument', /unknown engine 'other' \(available: 'hrtf', 'neural'\)/));
    assert.throws(() => binaural({ distance: NaN }), isCode('invalid-argument', /binaural: the starting position: distance must be a finite number, got NaN/));
    assert.throws(() => binaural({ blockSize: 100 }), isCode('invalid-argument', /power of two/));
    const stereo = audioFrame(0, RATE, 2, new Float32Array(20), 0);
    await assert.rejects(collect(from([stereo]).pipe(binaural({ hrtf }))), isCode('invalid-frame', /1 channel|expected 1/));
    const mono = (rate: number) => audioFrame(0, rate, 1, new Float32Array(20), 0);
    await assert.rejects(collect(from([mono(RATE), mono(16000)]).pipe(binaural({ hrtf }))), isCode('invalid-frame', /16000 Hz, expected 48000 Hz/));
    await assert.rejects(collect(from([mono(16000)]).pipe(binaural({ hrtf, sampleRate: RATE }))), isCode('invalid-frame', /expected 48000 Hz/));
    const position$ = new Subject<{ elevation: number }>();
    const src$ = new Subject<AudioFrame>();
    const done = collect(src$.pipe(binaural({ hrtf, position$ })));
    src$.next(mono(RATE));
    position$.next({ elevation: 'up' as unknown as number });
    await assert.rejects(done, isCode('invalid-argument', /binaural: position\$ update: elevation must be a finite number, got "up"/));
    assert.equal(position$.observed, false);
    await assert.rejects(collect(from([mono(RATE)]).pipe(binaural({ sofa: join(dir, 'nope.sofa') }))), isCode('input-not-found', /nope\.sofa/));
  });
});

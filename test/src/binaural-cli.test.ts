import assert from 'node:assert/strict';
import { join } from 'node:path';
import { parsePath, positionOnPath } from '../../src/pipelines/binaural.js';
import { ffmpegSync, makeTempDir, referenceDecode, removeDir } from '../fixtures-media.js';
import { runCli } from '../run-cli.js';

const run = runCli;

/** Interaural level difference (left over right, dB) of interleaved stereo between two times. */
function ild(y: Float32Array, rate: number, from: number, to: number): number {
  let l = 0, r = 0;
  for (let i = Math.floor(from * rate); i < Math.floor(to * rate); i++) {
    l += y[2 * i] ** 2;
    r += y[2 * i + 1] ** 2;
  }
  return 10 * Math.log10(l / r);
}

describe('causeway binaural (CLI)', () => {
  let dir: string;
  let input: string;
  before(() => {
    dir = makeTempDir('cw-binaural-cli-');
    // 44.1 kHz stereo in: the command downmixes and renders at 48 kHz.
    input = join(dir, 'voice.wav');
    ffmpegSync(['-f', 'lavfi', '-i', 'anoisesrc=d=1.5:c=pink:r=44100:a=0.2:seed=3', '-ac', '2', input]);
  });
  after(() => removeDir(dir));

  it('renders a file to 48 kHz stereo with the interaural level difference on the right side: az 90 left, az -90 right (a negative number is a value, not an option)', async () => {
    const [left, right] = [join(dir, 'left.wav'), join(dir, 'right.flac')];
    const [a, b] = await Promise.all([run(['binaural', input, left, '--azimuth', '90']), run(['binaural', input, right, '--azimuth', '-90', '--elevation', '-10', '--distance', '2'])]);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    assert.match(a.stderr, /left\.wav: 1\.50 s rendered binaurally \(KEMAR, normal pinna\) in \d+\.\d+ s/);
    const yl = referenceDecode(left, 48000, 2);
    const yr = referenceDecode(right, 48000, 2);
    assert.equal(yl.length / 2, 72000, '1.5 s at 48 kHz');
    const [il, ir] = [ild(yl, 48000, 0.1, 1.4), ild(yr, 48000, 0.1, 1.4)];
    assert.ok(il > 6 && ir < -6, `ILD at 90: ${il.toFixed(1)} dB, at 270: ${ir.toFixed(1)} dB`);
  });

  it('--engine neural renders with the binaural-flow model: the level difference on the right side too', async () => {
    const [left, right] = [join(dir, 'n-left.wav'), join(dir, 'n-right.wav')];
    const [a, b] = await Promise.all([run(['binaural', input, left, '--engine', 'neural', '--azimuth', '90', '--quiet']), run(['binaural', input, right, '--engine', 'neural', '--azimuth', '270', '--quiet'])]);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    const [il, ir] = [ild(referenceDecode(left, 48000, 2), 48000, 0.1, 1.4), ild(referenceDecode(right, 48000, 2), 48000, 0.1, 1.4)];
    // The operator test holds the neural cues to the hrtf engine's (ITD, ILD); here: the command runs it, on the right side.
    assert.ok(il > 6 && ir < -6, `ILD at 90: ${il.toFixed(1)} dB, at 270: ${ir.toFixed(1)} dB`);
  });

  it('--path moves the voice from the left to the right (through the back), interpolated in time', async () => {
    const out = join(dir, 'moving.wav');
    const r = await run(['binaural', input, out, '--path', '0.2:90,0;1.2:270,0', '--quiet']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    const y = referenceDecode(out, 48000, 2);
    const [start, middle, end] = [ild(y, 48000, 0, 0.2), ild(y, 48000, 0.65, 0.75), ild(y, 48000, 1.3, 1.5)];
    assert.ok(start > 6 && Math.abs(middle) < 3 && end < -6, `ILD start ${start.toFixed(1)}, at the back ${middle.toFixed(1)}, end ${end.toFixed(1)} dB`);
  });

  it('bad arguments are usage errors (exit 2), a missing SOFA file is an error naming it (exit 1)', async () => {
    const out = join(dir, 'x.wav');
    const cases: [string[], number, RegExp][] = [
      [['binaural', input], 2, /binaural takes an input and an output/],
      [['binaural', input, out, '--path', '0:1'], 2, /--path: cannot read '0:1'/],
      [['binaural', input, out, '--elevation', '95'], 2, /--elevation must be degrees in \[-90, 90\], got '95'/],
      [['binaural', input, out, '--engine', 'ambisonic'], 2, /--engine must be hrtf \(measured HRTFs\) or neural \(the binaural-flow model\) for binaural, got 'ambisonic'/],
      [['binaural', input, out, '--sofa', join(dir, 'none.sofa')], 1, /SOFA file not found: .*none\.sofa \[input-not-found\]/],
    ];
    const results = await Promise.all(cases.map(([args]) => run(args)));
    results.forEach((r, i) => {
      assert.equal(r.code, cases[i][1], `${cases[i][0].join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, cases[i][2]);
    });
  });

  it('parsePath / positionOnPath: keyframes, interpolation, holds, distance carried forward', () => {
    const keys = parsePath(' 0:0,0 ; 2:90,30,2; 4:-90,0 ');
    assert.deepEqual(keys, [{ t: 0, azimuth: 0, elevation: 0 }, { t: 2, azimuth: 90, elevation: 30, distance: 2 }, { t: 4, azimuth: -90, elevation: 0 }]);
    assert.deepEqual(positionOnPath(keys, 1, 1), { azimuth: 45, elevation: 15, distance: 1.5 });
    assert.deepEqual(positionOnPath(keys, 3, 1), { azimuth: 0, elevation: 15, distance: 2 });
    assert.deepEqual(positionOnPath(keys, 9, 1), { azimuth: -90, elevation: 0, distance: 2 });
    assert.deepEqual(positionOnPath(parsePath('1:10,5'), 0, 3), { azimuth: 10, elevation: 5, distance: 3 });
    assert.throws(() => parsePath('1:0,0;1:5,0'), /time 1 in '1:5,0' is not after 1/);
    assert.throws(() => parsePath('0:0,100'), /elevation 100/);
    assert.throws(() => parsePath('0:0,0,0'), /distance 0 .* must be > 0/);
    assert.throws(() => parsePath(''), /no keyframes/);
  });
});

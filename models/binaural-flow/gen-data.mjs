// Training pairs for the neural binaural renderer, made by Causeway's own measured-HRTF renderer
// (the 'hrtf' engine: BinauralRenderer over Debian's MIT KEMAR SOFA set) plus simple room
// acoustics:
//   node models/binaural-flow/gen-data.mjs <outDir> <count> [seed] [train|eval]
// (after `npm run build`). Each example is 1.248 s at 48 kHz (234 STFT frames):
//  - mono: speech (espeak-ng accents and variants, or flite voices, random speed and pitch; 80%)
//    with whole voices and words held out: the train split never uses the voices the command
//    recogniser holds out (../command-asr/voices.mjs) nor the words of HELD_OUT_WORDS, and the
//    eval split speaks only those
//    or band-limited pink-ish noise with a random tilt and syllable-rate modulation (20%, so the
//    top octave of a 48 kHz signal is seen too), at a random level;
//  - the targets are rendered with the HRTF set scaled by libmysofa's 'frontal' rule (unit frontal
//    energy: speech at the level the model saw when it was first designed); <outDir>/meta.json
//    records output_gain, the hrtf engine's default ('peak') scaling over it, which train.py
//    writes into step.json so the operator plays the model at the hrtf engine's level;
//  - a source direction (azimuth uniform, elevation -30..60) and distance 0.5-3 m relative to the
//    listener's head; 30% of examples move (azimuth sweeps 30-180 degrees, elevation drifts);
//  - room (the 6th conditioning value): 0 (anechoic, 35%) or 0.15-1. A shoebox around the
//    listener with walls 0.3-4 m beyond the listener and source; first-order image sources
//    (6 walls, reflection coefficient 0.35 + 0.5 room), each rendered binaurally from its own
//    direction at its own distance and delayed by its extra path (343 m/s); plus a diffuse tail,
//    independent noise per ear under exp(-6.9 t / RT60) (RT60 0.12 + 0.5 room s), one-pole
//    low-passed, starting with the first reflection, at a direct-to-reverberant ratio of
//    12 - 16 room dB. Moving sources take their images from their mid-example position.
// Writes <outDir>/audio.f32 (per example: mono, left, right, N floats each), <outDir>/cond.f32
// (per example: frames x 6, the conditioning of each STFT frame: cos az, sin az, cos el, sin el,
// ln distance, room; frame k, centred on sample 256k, takes the renderer's position in the block
// holding that sample) and <outDir>/manifest.jsonl.
import { execFileSync } from 'node:child_process';
import { appendFileSync, closeSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BinauralRenderer } from '../../dist/kernels/binaural-renderer.js';
import { RealFft, Resampler } from '../../dist/kernels/index.js';
import { DEFAULT_SOFA, loadSofa, sharedHrtfSet, sharedLookup } from '../../dist/core/hrtf/index.js';
import { parseWav } from '../../dist/media/wav.js';
import { checkVariantsDiffer, voicesFor } from '../command-asr/voices.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const [outDir, countArg, seedArg, splitArg] = process.argv.slice(2);
const split = splitArg ?? 'train';
if (!outDir || !countArg || (split !== 'train' && split !== 'eval')) {
  console.error('usage: node models/binaural-flow/gen-data.mjs <outDir> <count> [seed] [train|eval]');
  process.exit(2);
}
const RATE = 48000;
const N = 59904; // 234 hops of 256 (1.248 s)
const HOP = 256;
const FRAMES = N / HOP;
const BLOCK = 128;
const C = 343;

let s = Number(seedArg ?? 1) >>> 0 || 1;
const rand = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296;
const pick = (a) => a[Math.floor(rand() * a.length)];
const gauss = () => Math.sqrt(-2 * Math.log(rand() + 1e-12)) * Math.cos(2 * Math.PI * rand());

const words = readFileSync(join(here, '..', 'command-asr', 'words.txt'), 'utf8').trim().split('\n');
const extra = 'the quick brown fox jumps over a lazy dog while seven singing sailors shout hello from far away across the quiet harbour'.split(' ');
// Words the train split never says and the eval split says only.
const HELD_OUT_WORDS = ['seven', 'volume', 'music', 'harbour', 'sailors', 'quiet', 'fox', 'hello'];
const vocab = [...words, ...extra].filter((w) => HELD_OUT_WORDS.includes(w) === (split === 'eval'));
const voices = voicesFor(split);
checkVariantsDiffer(voices.variants);
const { accents, variants } = voices;
const fliteVoices = voices.flite;

const set = await loadSofa(DEFAULT_SOFA, { normalize: 'frontal' });
const lookup = sharedLookup(set, RATE);
const outputGain = (await sharedHrtfSet()).normalization / set.normalization;
const tmp = join(tmpdir(), `cw-bflow-${process.pid}.wav`);

function speech() {
  const text = Array.from({ length: 4 + Math.floor(rand() * 5) }, () => pick(vocab)).join(' ');
  let voice;
  if (rand() < 0.25) {
    voice = `flite:${pick(fliteVoices)}`;
    execFileSync('flite', ['-voice', voice.slice(6), '--setf', `duration_stretch=${(0.8 + rand() * 0.5).toFixed(2)}`, '--setf', `int_f0_target_mean=${80 + Math.floor(rand() * 140)}`, '-t', text, '-o', tmp]);
  } else {
    voice = `${pick(accents)}+${pick(variants)}`;
    execFileSync('espeak-ng', ['-v', voice, '-s', String(130 + Math.floor(rand() * 90)), '-p', String(20 + Math.floor(rand() * 60)), '-w', tmp, text]);
  }
  const w = parseWav(readFileSync(tmp), tmp);
  const r = new Resampler({ fromRate: w.sampleRate, toRate: RATE });
  const a = r.push(w.samples).slice();
  const b = r.flush();
  const x = new Float32Array(a.length + b.length);
  x.set(a);
  x.set(b, a.length);
  const out = new Float32Array(N);
  if (x.length <= N) out.set(x, Math.floor(rand() * (N - x.length + 1)));
  else out.set(x.subarray(Math.floor(rand() * (x.length - N))).subarray(0, N));
  return { x: out, kind: 'speech', voice };
}

function noise() {
  // White noise through a one-pole low-pass (random corner) mixed with its input: a random tilt;
  // amplitude-modulated at 2-8 Hz like syllables.
  const a = 0.5 + rand() * 0.49, mix = rand();
  const rate = 2 + rand() * 6, depth = rand();
  const x = new Float32Array(N);
  let lp = 0;
  for (let i = 0; i < N; i++) {
    const w = gauss();
    lp = a * lp + (1 - a) * w;
    const env = 1 - depth * 0.5 * (1 + Math.sin((2 * Math.PI * rate * i) / RATE));
    x[i] = (mix * w * 0.3 + (1 - mix) * lp) * env;
  }
  return { x, kind: 'noise', voice: '' };
}

function render(x, pos, moveTo) {
  const r = new BinauralRenderer({ source: lookup, sampleRate: RATE, blockSize: BLOCK, position: pos });
  const y = new Float32Array(2 * (N + BLOCK));
  const positions = [];
  for (let k = 0; k < N / BLOCK; k++) {
    if (moveTo) {
      const f = (k + 1) / (N / BLOCK);
      r.setPosition({ azimuth: pos.azimuth + f * (moveTo.azimuth - pos.azimuth), elevation: pos.elevation + f * (moveTo.elevation - pos.elevation) });
    }
    y.set(r.push(x.subarray(k * BLOCK, (k + 1) * BLOCK)), 2 * k * BLOCK);
    positions.push({ ...r.position });
  }
  y.set(r.flush().subarray(0, 2 * BLOCK), 2 * N);
  // Trim the renderer's latency (one block): output sample j is input sample j rendered.
  const l = new Float32Array(N), rr = new Float32Array(N);
  for (let j = 0; j < N; j++) {
    l[j] = y[2 * (j + BLOCK)];
    rr[j] = y[2 * (j + BLOCK) + 1];
  }
  return { l, r: rr, positions };
}

function fftConvolve(x, h) {
  let n = 4;
  while (n < x.length + h.length) n *= 2;
  const fft = new RealFft(n);
  const a = new Float32Array(n), b = new Float32Array(n);
  a.set(x);
  b.set(h);
  const A = new Float32Array(n + 2), B = new Float32Array(n + 2);
  fft.forward(a, A);
  fft.forward(b, B);
  for (let k = 0; k <= n / 2; k++) {
    const re = A[2 * k] * B[2 * k] - A[2 * k + 1] * B[2 * k + 1];
    const im = A[2 * k] * B[2 * k + 1] + A[2 * k + 1] * B[2 * k];
    A[2 * k] = re;
    A[2 * k + 1] = im;
  }
  const y = new Float32Array(n);
  fft.inverse(A, y);
  return y.subarray(0, x.length);
}

const energy = (v) => v.reduce((acc, q) => acc + q * q, 0);

mkdirSync(outDir, { recursive: true });
rmSync(join(outDir, 'manifest.jsonl'), { force: true });
writeFileSync(join(outDir, 'meta.json'), JSON.stringify({ output_gain: Number(outputGain.toFixed(6)), targets: 'MIT KEMAR, frontal scaling', split }, null, 2) + '\n');
const audio = openSync(join(outDir, 'audio.f32'), 'w');
const condFile = openSync(join(outDir, 'cond.f32'), 'w');
for (let n = 0; n < Number(countArg); n++) {
  const src = rand() < 0.8 ? speech() : noise();
  const x = src.x;
  const peak = x.reduce((m, v) => Math.max(m, Math.abs(v)), 0) || 1;
  const gain = (0.05 + rand() * 0.6) / peak;
  for (let i = 0; i < N; i++) x[i] *= gain;
  const pos = { azimuth: rand() * 360, elevation: -30 + rand() * 90, distance: 0.5 + rand() * 2.5 };
  const moving = rand() < 0.3;
  const moveTo = moving ? { azimuth: pos.azimuth + (rand() < 0.5 ? -1 : 1) * (30 + rand() * 150), elevation: Math.max(-30, Math.min(60, pos.elevation + (rand() - 0.5) * 40)) } : undefined;
  const room = rand() < 0.35 ? 0 : 0.15 + rand() * 0.85;
  const direct = render(x, pos, moveTo);
  const L = direct.l.slice(), R = direct.r.slice();
  if (room > 0) {
    const mid = direct.positions[Math.floor(direct.positions.length / 2)];
    const ce = Math.cos((mid.elevation * Math.PI) / 180);
    const sp = [mid.distance * ce * Math.cos((mid.azimuth * Math.PI) / 180), mid.distance * ce * Math.sin((mid.azimuth * Math.PI) / 180), mid.distance * Math.sin((mid.elevation * Math.PI) / 180)];
    const beta = 0.35 + 0.5 * room;
    let first = Infinity;
    for (let axis = 0; axis < 3; axis++) {
      for (const side of [-1, 1]) {
        // Wall at `side * w` on this axis, beyond both the listener (origin) and the source.
        const w = Math.max(side * sp[axis], 0) + (axis === 2 ? (side < 0 ? 1.2 + rand() * 0.5 : 0.8 + rand() * 1.5) : 0.3 + rand() * 3.7);
        const img = sp.slice();
        img[axis] = 2 * side * w - sp[axis];
        const r = Math.hypot(img[0], img[1], img[2]);
        const az = (Math.atan2(img[1], img[0]) * 180) / Math.PI;
        const el = (Math.asin(img[2] / r) * 180) / Math.PI;
        const delay = Math.round(((r - mid.distance) / C) * RATE);
        first = Math.min(first, delay);
        const im = render(x, { azimuth: az, elevation: el, distance: r });
        for (let j = delay; j < N; j++) {
          L[j] += beta * im.l[j - delay];
          R[j] += beta * im.r[j - delay];
        }
      }
    }
    // Diffuse tail.
    const rt60 = 0.12 + 0.5 * room;
    const len = Math.floor(rt60 * RATE);
    const onset = Math.max(1, first);
    const drr = 12 - 16 * room;
    const rho = (energy(direct.l) + energy(direct.r)) / (2 * Math.max(energy(x), 1e-12));
    const a = 0.2 + rand() * 0.6;
    for (const ear of [L, R]) {
      const h = new Float32Array(onset + len);
      let lp = 0;
      for (let i = 0; i < len; i++) {
        lp = a * lp + (1 - a) * gauss();
        const fade = Math.min(1, i / (0.005 * RATE));
        h[onset + i] = lp * fade * Math.exp((-6.9 * i) / len);
      }
      const g = Math.sqrt((rho * 10 ** (-drr / 10)) / Math.max(energy(h), 1e-12));
      const t = fftConvolve(x, h);
      for (let j = 0; j < N; j++) ear[j] += g * t[j];
    }
  }
  writeSync(audio, new Uint8Array(x.buffer, x.byteOffset, x.byteLength));
  writeSync(audio, new Uint8Array(L.buffer));
  writeSync(audio, new Uint8Array(R.buffer));
  const cond = new Float32Array(FRAMES * 6);
  for (let k = 0; k < FRAMES; k++) {
    const p = direct.positions[Math.min(direct.positions.length - 1, Math.floor((k * HOP) / BLOCK))];
    const az = (p.azimuth * Math.PI) / 180, el = (p.elevation * Math.PI) / 180;
    cond.set([Math.cos(az), Math.sin(az), Math.cos(el), Math.sin(el), Math.log(p.distance), room], 6 * k);
  }
  writeSync(condFile, new Uint8Array(cond.buffer));
  appendFileSync(join(outDir, 'manifest.jsonl'), JSON.stringify({ index: n, kind: src.kind, voice: src.voice, ...pos, moving, room: Number(room.toFixed(3)) }) + '\n');
  if (n % 100 === 0) console.error(`${n} examples`);
}
closeSync(audio);
closeSync(condFile);
rmSync(tmp, { force: true });
console.error(`done: ${countArg} examples of ${N} samples (${FRAMES} frames) in ${outDir}`);

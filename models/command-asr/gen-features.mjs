// Synthetic training data for the command recogniser, made with Causeway's own front end so that
// training features are exactly what the streaming `asr` operator computes at run time.
//   node models/command-asr/gen-features.mjs <outDir> <count> [seed] [fliteShare]
// (after `npm run build`). Each utterance: 1-3 words from words.txt spoken by a random espeak-ng
// accent and voice variant, or (a fliteShare of the time, default 0) a flite voice, at a random
// speed and pitch, resampled to 16 kHz (our polyphase
// kernel), with random gain, noise at 5-40 dB SNR and, half the time, a synthetic room tail;
// then 80-band log-mel (nFft 512, hop 160) by StreamingLogMel. Writes <outDir>/feats.f32 (all
// frames, 80 floats each) and <outDir>/manifest.jsonl ({ text, offset, frames, voice }).
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, writeSync, appendFileSync, rmSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Resampler, StreamingLogMel } from '../../dist/kernels/index.js';
import { parseWav } from '../../dist/media/wav.js';

const here = dirname(fileURLToPath(import.meta.url));
const [outDir, countArg, seedArg, fliteArg] = process.argv.slice(2);
const fliteShare = Number(fliteArg ?? 0);
if (!outDir || !countArg) {
  console.error('usage: node models/command-asr/gen-features.mjs <outDir> <count> [seed]');
  process.exit(2);
}
const words = readFileSync(join(here, 'words.txt'), 'utf8').trim().split('\n');
const accents = ['en-us', 'en-gb', 'en-gb-scotland', 'en-gb-x-gbclan', 'en-gb-x-rp', 'en-gb-x-gbcwmd', 'en-029', 'en-us-nyc'];
const variants = execFileSync('espeak-ng', ['--voices=variant']).toString().trim().split('\n').slice(1)
  .map((l) => l.trim().split(/\s+/)[3]).filter(Boolean);
// Held out for evaluation: these variants never appear in training data (seed parity decides).
const heldOut = new Set(['m7', 'f4', 'Andy', 'Storm']);
const evalSplit = Number(seedArg ?? 1) % 2 === 0;
// flite's built-in voices (Debian package flite); awb (Scottish male) is held out.
const fliteVoices = ['kal', 'kal16', 'rms', 'slt', 'awb'].filter((v) => (v === 'awb') === evalSplit);

let s = Number(seedArg ?? 1) >>> 0 || 1;
const rand = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296);
const pick = (a) => a[Math.floor(rand() * a.length)];

mkdirSync(outDir, { recursive: true });
rmSync(join(outDir, 'manifest.jsonl'), { force: true });
const feats = openSync(join(outDir, 'feats.f32'), 'w');
const tmp = join(tmpdir(), `cw-cmd-${process.pid}.wav`);
let offset = 0;
const pool = variants.filter((v) => heldOut.has(v) === evalSplit);
for (let n = 0; n < Number(countArg); n++) {
  const k = 1 + Math.floor(rand() * 3);
  const text = Array.from({ length: k }, () => pick(words)).join(' ');
  let voice, speed, pitch;
  if (rand() < fliteShare) {
    voice = `flite:${pick(fliteVoices)}`;
    speed = 0.75 + rand() * 0.6; // duration stretch
    pitch = 80 + Math.floor(rand() * 140); // f0 mean, Hz
    execFileSync('flite', ['-voice', voice.slice(6), '--setf', `duration_stretch=${speed.toFixed(2)}`, '--setf', `int_f0_target_mean=${pitch}`, '-t', text, '-o', tmp]);
  } else {
    voice = `${pick(accents)}+${pick(pool)}`;
    speed = 110 + Math.floor(rand() * 110);
    pitch = 20 + Math.floor(rand() * 60);
    execFileSync('espeak-ng', ['-v', voice, '-s', String(speed), '-p', String(pitch), '-g', String(Math.floor(rand() * 8)), '-w', tmp, text]);
  }
  const w = parseWav(readFileSync(tmp), tmp);
  const r = new Resampler({ fromRate: w.sampleRate, toRate: 16000 });
  const a = r.push(w.samples).slice();
  const b = r.flush();
  let x = new Float32Array(a.length + b.length);
  x.set(a);
  x.set(b, a.length);
  // Silence around the words, so endpoints and leading/trailing blanks are learned too.
  const lead = Math.floor(rand() * 8000);
  const tail = Math.floor(rand() * 8000);
  const y = new Float32Array(lead + x.length + tail);
  y.set(x, lead);
  x = y;
  if (rand() < 0.5) {
    // Room tail: exponentially decaying noise impulse response, RT60 0.1-0.6 s.
    const rt = 0.1 + rand() * 0.5;
    const len = Math.floor(rt * 16000);
    const h = Float32Array.from({ length: len }, (_, i) => (i === 0 ? 1 : (rand() * 2 - 1) * 0.3 * Math.exp((-6.9 * i) / len)));
    const out = new Float32Array(x.length);
    for (let i = 0; i < x.length; i++) {
      const xi = x[i];
      if (xi === 0) continue;
      for (let j = 0; j < len && i + j < x.length; j += 4) out[i + j] += xi * h[j];
    }
    x = out;
  }
  let p = 0;
  for (const v of x) p += v * v;
  p /= x.length;
  const snr = 5 + rand() * 35;
  const sigma = Math.sqrt(p / 10 ** (snr / 10));
  const gain = 0.2 + rand() * 1.5;
  for (let i = 0; i < x.length; i++) x[i] = Math.max(-1, Math.min(1, gain * (x[i] + sigma * (rand() * 2 - 1) * 1.7)));
  const mel = new StreamingLogMel({ sampleRate: 16000, nFft: 512, hop: 160, nMels: 80 });
  let frames = 0;
  mel.push(x, (m) => {
    writeSync(feats, new Uint8Array(m.buffer, m.byteOffset, m.byteLength));
    frames++;
  });
  appendFileSync(join(outDir, 'manifest.jsonl'), JSON.stringify({ text, offset, frames, voice, speed, snr: Math.round(snr) }) + '\n');
  offset += frames;
  if (n % 500 === 0) console.error(`${n} utterances, ${offset} frames`);
}
closeSync(feats);
rmSync(tmp, { force: true });
console.error(`done: ${countArg} utterances, ${offset} frames in ${outDir}`);

// Training and evaluation data for the keyword spotter's head: continuous streams of single
// command words, other speech and noise, each segment spoken by a synthetic voice and degraded as
// the command recogniser's data are (models/command-asr: voices.mjs, augment.mjs), then run through
// the keyword spotter's own front end (core/models/kws.ts: the streamified melspectrogram
// and speech_embedding step graphs, the per-step floor, the priming), exactly as `kws()` runs it.
//   node models/kws/gen-data.mjs <outDir> <segments> <seed> <train|eval> [--audio]
// (after `npm run build`). Writes <outDir>/feats.f32 (96 floats a step: each stream's priming
// embeddings, then one per 80 ms), streams.jsonl (per stream: its first step in feats.f32, the
// priming steps, the steps after them, and with --audio its first sample in audio.i16),
// segments.jsonl (per segment: its stream, kind, text, voice, [start, end) of the speech in the
// stream's samples, and what degrade() did) and, with --audio, audio.i16 (16-bit PCM of every
// stream, for evaluating whole operators on the same audio).
import { appendFileSync, closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KwsFrontEnd } from '../../dist/core/models/kws.js';
import { degrade, makeRng, noise } from '../command-asr/augment.mjs';
import { checkVariantsDiffer, drawStyle, drawVoice, speakWith, voicesFor } from '../command-asr/voices.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const withAudio = process.argv.includes('--audio');
const [outDir, countArg, seedArg, split] = args;
if (!outDir || !countArg || !seedArg || (split !== 'train' && split !== 'eval')) {
  console.error('usage: node models/kws/gen-data.mjs <outDir> <segments> <seed> <train|eval> [--audio]');
  process.exit(2);
}
const commands = readFileSync(join(here, '../command-asr/words.txt'), 'utf8').trim().split('\n');
const others = readFileSync(join(here, 'negatives.txt'), 'utf8').trim().split('\n');
const voices = voicesFor(split);
checkVariantsDiffer(voices.variants);
// Training also speaks with the training accents' plain voices; the held-out split only with
// held-out voices (an accent's plain voice is a training voice unless the accent is held out).
const plainShare = split === 'train' ? 0.15 : 0;

/** Segments a stream (a front end primed afresh): the head sees streams start often. */
const PER_STREAM = 20;
const SHARES = { command: 0.6, speech: 0.3, noise: 0.1 };

const rand = makeRng(Number(seedArg));
const pick = (a) => a[Math.floor(rand() * a.length)];
const range = (a, b) => a + rand() * (b - a);
const tmp = join(tmpdir(), `cw-kws-${process.pid}.wav`);

/** Degraded 16 kHz audio of one segment, its speech span and what was done. */
function segment(kind, babblePool) {
  if (kind === 'noise') {
    // Noise alone (or, a fifth of the time, digital silence), 0.5-2.5 s at -60 to -20 dBFS.
    const n = Math.floor(range(0.5, 2.5) * 16000);
    if (rand() < 0.2) return { samples: new Float32Array(n), span: [0, 0], info: { noise: 'silence' }, text: '' };
    const { v, kind: what } = noise(n, 16000, rand, babblePool);
    let p = 0;
    for (const s of v) p += s * s;
    const level = range(-60, -20);
    const k = Math.sqrt(10 ** (level / 10) / Math.max(1e-12, p / n));
    return { samples: v.map((s) => Math.max(-1, Math.min(1, s * k))), span: [0, 0], info: { noise: what, level: Math.round(level) }, text: '' };
  }
  const text = kind === 'command' ? pick(commands) : Array.from({ length: rand() < 0.5 ? 1 : 2 + Math.floor(rand() * 3) }, () => pick(others)).join(' ');
  const voice = drawVoice(rand, voices, 0.25, plainShare);
  const s = speakWith(voice, drawStyle(rand), text, tmp);
  const d = degrade(s.x, s.rate, rand, babblePool);
  return { samples: d.samples, span: d.span, info: { voice, ...d.info }, text };
}

mkdirSync(outDir, { recursive: true });
for (const f of ['segments.jsonl', 'streams.jsonl']) rmSync(join(outDir, f), { force: true });
const feats = openSync(join(outDir, 'feats.f32'), 'w');
const audio = withAudio ? openSync(join(outDir, 'audio.i16'), 'w') : undefined;
const writeFloats = (x) => writeSync(feats, new Uint8Array(x.buffer, x.byteOffset, x.byteLength));
const fe = await KwsFrontEnd.open({ device: 'cpu' });
/** Recent non-command speech: the babble noise of later segments (never a command word). */
const babblePool = [];
let steps = 0;
let samplesOut = 0;
const total = Number(countArg);
try {
  for (let stream = 0, done = 0; done < total; stream++) {
    if (stream > 0) await fe.reset();
    for (const e of fe.priming) writeFloats(e);
    const first = steps;
    steps += fe.priming.length;
    let at = 0;
    const audioStart = samplesOut;
    for (let i = 0; i < PER_STREAM && done < total; i++, done++) {
      const r = rand();
      const kind = r < SHARES.command ? 'command' : r < SHARES.command + SHARES.speech ? 'speech' : 'noise';
      const s = segment(kind, babblePool);
      if (kind === 'speech') {
        if (babblePool.length >= 24) babblePool.shift();
        babblePool.push(s.samples.slice(0, 16000 * 3));
      }
      for (const f of await fe.push(s.samples)) {
        writeFloats(f.embedding);
        steps++;
      }
      if (audio !== undefined) {
        const pcm = Int16Array.from(s.samples, (v) => Math.max(-32768, Math.min(32767, Math.round(v * 32768))));
        writeSync(audio, new Uint8Array(pcm.buffer));
        samplesOut += pcm.length;
      }
      const span = kind === 'noise' ? null : [at + s.span[0], at + s.span[1]];
      appendFileSync(join(outDir, 'segments.jsonl'), JSON.stringify({ stream, kind, text: s.text, start: at, length: s.samples.length, span, ...s.info }) + '\n');
      at += s.samples.length;
    }
    appendFileSync(join(outDir, 'streams.jsonl'), JSON.stringify({ stream, offset: first, priming: fe.priming.length, steps: steps - first - fe.priming.length, samples: at, ...(audio !== undefined ? { audioOffset: audioStart } : {}) }) + '\n');
    if (stream % 10 === 0) console.error(`${outDir}: ${done} segments, ${steps} steps`);
  }
} finally {
  fe.dispose();
  closeSync(feats);
  if (audio !== undefined) closeSync(audio);
  rmSync(tmp, { force: true });
}
console.error(`done: ${total} segments, ${steps} steps in ${outDir}`);

// Synthetic training data for the command recogniser, made with Causeway's own front end so that
// training features are exactly what the streaming `asr` operator computes at run time.
//   node models/command-asr/gen-features.mjs <outDir> <count> <seed> <split> [fliteShare] [plainShare]
// (after `npm run build`). split: "train" or "eval"; the voices of the two never overlap
// (voices.mjs names them). Each utterance: a digit string, a few command words or a mix, spoken
// by one voice, sometimes in groups with short pauses between them (as people say "lights on.
// volume up."), then perturbed and degraded the ways real capture differs from a TTS file
// (augment.mjs), then 80-band log-mel (nFft 512, hop 160) by StreamingLogMel. Writes
// <outDir>/feats.f32 (all frames, 80 floats each) and <outDir>/manifest.jsonl.
import { closeSync, mkdirSync, openSync, readFileSync, writeSync, appendFileSync, rmSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { StreamingLogMel } from '../../dist/kernels/index.js';
import { degrade, makeRng } from './augment.mjs';
import { checkVariantsDiffer, drawStyle, drawVoice, speakWith, voicesFor } from './voices.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const [outDir, countArg, seedArg, split, fliteArg, plainArg] = process.argv.slice(2);
if (!outDir || !countArg || !seedArg || (split !== 'train' && split !== 'eval')) {
  console.error('usage: node models/command-asr/gen-features.mjs <outDir> <count> <seed> <train|eval> [fliteShare] [plainShare]');
  process.exit(2);
}
const fliteShare = Number(fliteArg ?? 0.25);
// Share of the espeak-ng utterances spoken by an accent's plain voice (no variant). 0 draws
// nothing, so shards made without it stay byte-identical to their first run.
const plainShare = Number(plainArg ?? 0);
const words = readFileSync(join(here, 'words.txt'), 'utf8').trim().split('\n');
const digits = words.slice(0, 10);
const commands = words.slice(10);
const voices = voicesFor(split);
checkVariantsDiffer(voices.variants);

const rand = makeRng(Number(seedArg));
const pick = (a) => a[Math.floor(rand() * a.length)];
const range = (a, b) => a + rand() * (b - a);

function text() {
  const r = rand();
  if (r < 0.4) return Array.from({ length: 1 + Math.floor(rand() * 7) }, () => pick(digits));
  if (r < 0.75) return Array.from({ length: 1 + Math.floor(rand() * 3) }, () => pick(commands));
  return Array.from({ length: 2 + Math.floor(rand() * 5) }, () => pick(words));
}

const tmp = join(tmpdir(), `cw-cmd-${process.pid}.wav`);
const speak = (voice, style, phrase) => speakWith(voice, style, phrase, tmp);

mkdirSync(outDir, { recursive: true });
rmSync(join(outDir, 'manifest.jsonl'), { force: true });
const feats = openSync(join(outDir, 'feats.f32'), 'w');
let offset = 0;
/** Recent utterances of other voices: the babble noise of later ones. */
const babblePool = [];
for (let n = 0; n < Number(countArg); n++) {
  const ws = text();
  const voice = drawVoice(rand, voices, fliteShare, plainShare);
  const style = drawStyle(rand);
  // Groups with pauses between them, a third of the multi-word utterances.
  const groups = [];
  if (ws.length > 1 && rand() < 0.35) {
    let g = [];
    for (const w of ws) {
      g.push(w);
      if (rand() < 0.45) (groups.push(g), (g = []));
    }
    if (g.length) groups.push(g);
  } else groups.push(ws);
  const parts = [];
  let rate = 0;
  for (let i = 0; i < groups.length; i++) {
    const s = speak(voice, style, groups[i].join(' '));
    rate = s.rate;
    if (i > 0) parts.push(new Float32Array(Math.floor(range(0.08, 0.6) * rate)));
    parts.push(s.x);
  }
  const len = parts.reduce((t, p) => t + p.length, 0);
  const x = new Float32Array(len);
  let o = 0;
  for (const p of parts) (x.set(p, o), (o += p.length));
  const { samples, info } = degrade(x, rate, rand, babblePool);
  if (babblePool.length >= 24) babblePool.shift();
  babblePool.push(samples.slice(0, 16000 * 3));
  const mel = new StreamingLogMel({ sampleRate: 16000, nFft: 512, hop: 160, nMels: 80 });
  let frames = 0;
  mel.push(samples, (m) => {
    writeSync(feats, new Uint8Array(m.buffer, m.byteOffset, m.byteLength));
    frames++;
  });
  appendFileSync(join(outDir, 'manifest.jsonl'), JSON.stringify({ text: ws.join(' '), offset, frames, voice, groups: groups.length, ...info }) + '\n');
  offset += frames;
  if (n % 500 === 0) console.error(`${outDir}: ${n} utterances, ${offset} frames`);
}
closeSync(feats);
rmSync(tmp, { force: true });
console.error(`done: ${countArg} utterances, ${offset} frames in ${outDir}`);

// The keyword spotter's event-level figures on a data folder of gen-data.mjs: each command word
// segment is hit when its word is reported between the start of its speech and 1 s after its end;
// every other report is a false alarm (a wrong word on a command, anything on other speech or
// noise). After `npm run build`:
//   node models/kws/evaluate.mjs <dataDir> <head.onnx> --tune [--write]
//       the stored features through the head and the detector at thresholds 0.3-0.95: figures
//       for each, and the one with the most words found net of false alarms; --write puts it
//       into head.json (tune on training voices only)
//   node models/kws/evaluate.mjs <dataDir> <head.onnx> --operator [--asr]
//       each stream's audio (audio.i16, gen-data --audio) through the real kws() operator, and
//       with --asr through the command recogniser (asr, engine 'conformer': a word counts at the
//       partial it first appears in), scored the same way on the same audio.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { from, lastValueFrom, toArray } from 'rxjs';
import { audioFrame, samplePts } from '../../dist/core/frames.js';
import { detectKeywordsOffline } from '../../dist/kernels/keyword-detector.js';
import { asr, kws } from '../../dist/src/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const [dataDir, headPath] = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const flag = (f) => process.argv.includes(f);
if (!dataDir || !headPath || !(flag('--tune') || flag('--operator'))) {
  console.error('usage: node models/kws/evaluate.mjs <dataDir> <head.onnx> (--tune [--write] | --operator [--asr])');
  process.exit(2);
}
const RATE = 16000;
const HOP = 1280;
/** How long after a word's end a report of it still counts. */
const MATCH_S = 1.0;
const config = JSON.parse(readFileSync(join(dirname(headPath), 'head.json'), 'utf8'));
const jsonl = (f) => readFileSync(join(dataDir, f), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
const streams = jsonl('streams.jsonl');
const segments = jsonl('segments.jsonl');
const byStream = new Map(streams.map((s) => [s.stream, []]));
for (const s of segments) byStream.get(s.stream).push(s);
const hours = streams.reduce((t, s) => t + s.samples, 0) / RATE / 3600;

/** Reports [{ word, t (sample of the stream) }] of every stream -> the figures. */
function score(reports) {
  let words = 0;
  let hits = 0;
  let falseAlarms = 0;
  const onOther = { speech: 0, noise: 0, command: 0 };
  const missed = new Map();
  for (const st of streams) {
    const segs = byStream.get(st.stream);
    const used = new Set();
    for (const seg of segs) {
      if (seg.kind !== 'command') continue;
      words++;
      const [s, e] = seg.span;
      const hit = reports[st.stream].findIndex((r, i) => !used.has(i) && r.word === seg.text && r.t > s && r.t <= e + MATCH_S * RATE);
      if (hit >= 0) {
        used.add(hit);
        hits++;
      } else missed.set(seg.text, (missed.get(seg.text) ?? 0) + 1);
    }
    reports[st.stream].forEach((r, i) => {
      if (used.has(i)) return;
      falseAlarms++;
      // Where it fell: the segment its time lies in.
      const seg = segs.find((g) => r.t > g.start && r.t <= g.start + g.length) ?? segs[segs.length - 1];
      onOther[seg.kind]++;
    });
  }
  const worst = [...missed].sort((a, b) => b[1] - a[1]).slice(0, 5).map(([w, n]) => `${w} ${n}`).join(', ');
  return { words, hits, rate: hits / words, falseAlarms, perHour: falseAlarms / hours, onOther, worst };
}

const fmt = (r) => `${(100 * r.rate).toFixed(1)}% of ${r.words} words found, ${r.falseAlarms} false alarms (${r.perHour.toFixed(1)} an hour of audio; on other speech ${r.onOther.speech}, noise ${r.onOther.noise}, commands (a wrong word) ${r.onOther.command}); most missed: ${r.worst}`;

/** The head over every stream's stored windows: per stream, one row of scores a step. */
async function storedScores() {
  const feats = new Float32Array(readFileSync(join(dataDir, 'feats.f32')).buffer.slice(0));
  const session = await ort.InferenceSession.create(headPath);
  const n = config.window;
  const out = {};
  for (const st of streams) {
    const first = st.offset + st.priming;
    const x = new Float32Array(st.steps * n * 96);
    for (let k = 0; k < st.steps; k++) x.set(feats.subarray((first + k - n + 1) * 96, (first + k + 1) * 96), k * n * 96);
    const probs = (await session.run({ embeddings: new ort.Tensor('float32', x, [st.steps, n, 96]) })).probs.data;
    const c = config.classes.length;
    out[st.stream] = Array.from({ length: st.steps }, (_, k) => probs.subarray(k * c, (k + 1) * c));
  }
  await session.release();
  return out;
}

function detectorOptions(threshold) {
  return { classes: config.classes, none: config.none, threshold, refractorySteps: Math.round(1000 / 80), holdSteps: Math.round(240 / 80) };
}

async function tune() {
  const rows = await storedScores();
  let best;
  console.log(`${dataDir}: ${streams.length} streams, ${hours.toFixed(2)} h of audio`);
  for (let th = 0.3; th <= 0.951; th += 0.05) {
    const reports = {};
    for (const st of streams) reports[st.stream] = detectKeywordsOffline(rows[st.stream], detectorOptions(th)).map((d) => ({ word: d.word, t: (d.step + 1) * HOP }));
    const r = score(reports);
    console.log(`threshold ${th.toFixed(2)}: ${fmt(r)}`);
    // A false alarm costs as much as a missed word: the most words found net of false alarms.
    if (!best || r.hits - r.falseAlarms > best.r.hits - best.r.falseAlarms) best = { th, r };
  }
  console.log(`chosen: threshold ${best.th.toFixed(2)}`);
  if (flag('--write')) {
    config.threshold = Math.round(best.th * 100) / 100;
    writeFileSync(join(dirname(headPath), 'head.json'), JSON.stringify(config, null, 2) + '\n');
  }
}

function framesOf(st, pcm) {
  const x = Float32Array.from(pcm.subarray(st.audioOffset, st.audioOffset + st.samples), (v) => v / 32768);
  const frames = [];
  for (let i = 0; i < x.length; i += 320) frames.push(audioFrame(samplePts(0, i, RATE), RATE, 1, x.slice(i, i + 320)));
  return frames;
}

async function operators() {
  const pcm = new Int16Array(readFileSync(join(dataDir, 'audio.i16')).buffer.slice(0));
  const at = (us) => Math.round((us * RATE) / 1e6);
  console.log(`${dataDir}: ${streams.length} streams, ${hours.toFixed(2)} h of audio`);
  const kwsReports = {};
  const asrReports = {};
  let t0 = performance.now();
  for (const st of streams) {
    const events = await lastValueFrom(from(framesOf(st, pcm)).pipe(kws({ model: headPath, device: 'cpu', queue: { capacity: 100_000 } }), toArray()));
    kwsReports[st.stream] = events.map((e) => ({ word: e.word, t: at(e.endUs) }));
  }
  console.log(`kws (threshold ${config.threshold}): ${fmt(score(kwsReports))} [${((performance.now() - t0) / 1000).toFixed(0)} s]`);
  if (!flag('--asr')) return;
  t0 = performance.now();
  const model = join(here, '../command-asr/model/step.onnx');
  for (const st of streams) {
    const events = await lastValueFrom(from(framesOf(st, pcm)).pipe(asr({ engine: 'conformer', model, device: 'cpu', queue: { capacity: 100_000 } }), toArray()));
    // Each word at the partial it first appears in (greedy CTC: partials only grow; a final starts the next utterance).
    const reports = [];
    let seen = 0;
    for (const e of events) {
      const w = e.text.split(' ').filter(Boolean);
      if (e.type === 'partial') for (; seen < w.length; seen++) reports.push({ word: w[seen], t: at(e.endUs) });
      else seen = 0;
    }
    asrReports[st.stream] = reports;
  }
  console.log(`command recogniser: ${fmt(score(asrReports))} [${((performance.now() - t0) / 1000).toFixed(0)} s]`);
}

if (flag('--tune')) await tune();
else await operators();

/**
 * Binaural rendering (engine 'hrtf', Debian's KEMAR SOFA file):
 * 1. our renderer vs ffmpeg's sofalizer on the same 60 s mono input at the file's own 44.1 kHz
 *    (no resampling on either side), same run. ffmpeg's time is net of its start-up and decoding
 *    (the same command with `anull` is timed and subtracted) and it runs single-threaded
 *    (`-filter_threads 1`; sofalizer otherwise gives each ear a thread) like our renderer. Ours
 *    is the default engine (WebAssembly SIMD); the JavaScript engine runs in the same rounds.
 * 2. real-time factor and per-block cost at 48 kHz, fixed and moving source;
 * 3. partitioned FFT convolution vs direct time-domain convolution with the same HRIR pair,
 *    both in JavaScript (the renderer's engine 'js'), bound: the ratio of their multiply counts.
 * Engine 'neural' (models/binaural-flow, the shipped model):
 * 4. real-time factor and per-hop cost (STFT + one step graph run + two ISTFTs per 256-sample hop);
 * 5. the step graph with its buffer bank vs recomputing from scratch at each hop: the offline
 *    graph over the solver's whole receptive field (E evaluations chained, each seeing R frames:
 *    E (R - 1) + 1 frames) with that hop's noise draws, keeping its last frame (the same numbers:
 *    the row reports the max difference); bound: receptive field / hop = E (R - 1) + 1 frames.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { BinauralRenderer } from '../../kernels/binaural-renderer.js';
import { DEFAULT_SOFA, HrirLookup, sharedHrtfSet, sharedLookup } from '../../core/hrtf/index.js';
import * as ort from 'onnxruntime-node';
import { StreamingIstft, StreamingStft } from '../../kernels/stft.js';
import { BinauralFlowStream, FlowNoise, conditioning, defaultBinauralFlowModel } from '../../core/models/binaural-flow.js';
import { directFir } from './direct-fir.js';
import type { BenchRow } from './row.js';
import { median, peakRssMb, quantile } from './stats.js';

let sink = 0;

function ffmpeg(args: string[]): { ms: number; out: Buffer } {
  const t0 = performance.now();
  const r = spawnSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-nostdin', ...args], { maxBuffer: 512 * 1024 * 1024 });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`ffmpeg failed: ${r.stderr.toString().trim()}`);
  return { ms, out: r.stdout };
}

const us = (ms: number) => `${(ms * 1000).toFixed(1)} µs`;

/** Pushes x in chunks of `chunk`; returns total ms and the sorted per-chunk ms. */
function timeChunks(x: Float32Array, chunk: number, push: (c: Float32Array) => Float32Array): { total: number; perChunk: number[] } {
  const perChunk: number[] = [];
  const t0 = performance.now();
  for (let at = 0; at + chunk <= x.length; at += chunk) {
    const a = performance.now();
    sink += push(x.subarray(at, at + chunk))[7];
    perChunk.push(performance.now() - a);
  }
  const total = performance.now() - t0;
  return { total, perChunk: perChunk.sort((a, b) => a - b) };
}

/** Direct-form FIR of both ears over x, interleaved into out. */
function directStereo(x: Float32Array, hl: Float32Array, hr: Float32Array, out: Float32Array): void {
  directFir(x, hl, out, 2, 0);
  directFir(x, hr, out, 2, 1);
}

/** Deterministic pink-ish noise (one-pole low-passed white), for the neural rows run on their own. */
function pinkish(n: number): Float32Array {
  const x = new Float32Array(n);
  let s = 1, lp = 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    lp = 0.9 * lp + 0.1 * (s / 2147483648 - 1);
    x[i] = 0.5 * lp;
  }
  return x;
}

export async function benchBinaural(): Promise<BenchRow[]> {
  const set = await sharedHrtfSet(DEFAULT_SOFA);
  const dir = mkdtempSync(join(tmpdir(), 'cw-bench-binaural-'));
  try {
    const seconds = 60;
    const native = set.sampleRate;
    const wav = join(dir, 'in.wav');
    ffmpeg(['-f', 'lavfi', '-i', `anoisesrc=d=${seconds}:c=pink:r=${native}:a=0.3:seed=5`, '-ac', '1', '-c:a', 'pcm_f32le', wav]);
    const raw = ffmpeg(['-i', wav, '-f', 'f32le', '-ac', '1', 'pipe:1']).out;
    const x44 = new Float32Array(new Uint8Array(raw).buffer);

    // 1. vs sofalizer, alternating rounds, median of each.
    const lookup44 = new HrirLookup(set);
    const inArgs = ['-filter_threads', '1', '-i', wav];
    const sofa = `sofalizer=sofa=${DEFAULT_SOFA}:type=freq:rotation=30:elevation=0:radius=1.4`;
    const sofaMs: number[] = [], nullMs: number[] = [], oursMs: number[] = [], jsMs: number[] = [], timeMs: number[] = [];
    let engine = '';
    for (let round = 0; round < 3; round++) {
      sofaMs.push(ffmpeg([...inArgs, '-af', sofa, '-f', 'null', '-']).ms);
      if (round === 0) timeMs.push(ffmpeg([...inArgs, '-af', sofa.replace('type=freq', 'type=time'), '-f', 'null', '-']).ms);
      nullMs.push(ffmpeg([...inArgs, '-af', 'anull', '-f', 'null', '-']).ms);
      const r = new BinauralRenderer({ source: lookup44, sampleRate: native, position: { azimuth: 30 } });
      engine = r.engine + (r.engineFallback !== undefined ? ` (fallback: ${r.engineFallback})` : '');
      oursMs.push(timeChunks(x44, Math.round(native / 50), (c) => r.push(c)).total);
      const js = new BinauralRenderer({ source: lookup44, sampleRate: native, position: { azimuth: 30 }, engine: 'js' });
      jsMs.push(timeChunks(x44, Math.round(native / 50), (c) => js.push(c)).total);
    }
    // Ours with sofalizer's frame size as the block (same latency class), for a like-for-like figure.
    const big = new BinauralRenderer({ source: lookup44, sampleRate: native, blockSize: 1024, position: { azimuth: 30 } });
    const ours1024 = timeChunks(x44, 1024, (c) => big.push(c)).total;
    const nul = Math.min(...nullMs);
    const sofaNet = Math.max(1, median(sofaMs) - nul);
    const timeNet = Math.max(1, timeMs[0] - nul);
    const ours44 = median(oursMs);
    const js44 = median(jsMs);
    const xRealTime = (ms: number) => `${((seconds * 1000) / ms).toFixed(0)}x real time`;

    // 2. RTF and per-block cost at 48 kHz (the CLI's rate), fixed and moving.
    const rate = 48000;
    const lookup = sharedLookup(set, rate);
    const x48 = new Float32Array(new Uint8Array(ffmpeg(['-i', wav, '-ar', String(rate), '-f', 'f32le', '-ac', '1', 'pipe:1']).out).buffer).subarray(0, 20 * rate);
    const fixed = new BinauralRenderer({ source: lookup, sampleRate: rate, position: { azimuth: 30 } });
    timeChunks(x48.subarray(0, 2 * rate), 128, (c) => fixed.push(c));
    fixed.reset();
    const perBlock = timeChunks(x48, 128, (c) => fixed.push(c));
    const moving = new BinauralRenderer({ source: lookup, sampleRate: rate });
    let az = 0;
    const movingRun = timeChunks(x48, 128, (c) => {
      // A new target every block: a filter lookup, 2P partition FFTs and a crossfade in every block.
      moving.setPosition({ azimuth: (az += 0.7), elevation: 20 * Math.sin(az / 50) });
      return moving.push(c);
    });
    const audioMs = (x48.length / rate) * 1000;
    const b = fixed.blockSize;

    // 3. Partitioned vs direct convolution, same pair of 48 kHz HRIRs, 5 s of input.
    const hl = new Float32Array(lookup.length), hr = new Float32Array(lookup.length);
    lookup.hrir(30, 0, hl, hr);
    const xs = x48.subarray(0, 5 * rate);
    const out = new Float32Array(2 * xs.length);
    const partMs: number[] = [], directMs: number[] = [], wasmMs: number[] = [];
    for (let round = 0; round < 3; round++) {
      const r = new BinauralRenderer({ source: lookup, sampleRate: rate, position: { azimuth: 30 }, engine: 'js' });
      partMs.push(timeChunks(xs, 960, (c) => r.push(c)).total);
      const w = new BinauralRenderer({ source: lookup, sampleRate: rate, position: { azimuth: 30 } });
      wasmMs.push(timeChunks(xs, 960, (c) => w.push(c)).total);
      const t0 = performance.now();
      directStereo(xs, hl, hr, out);
      directMs.push(performance.now() - t0);
      sink += out[1234];
    }
    const L = lookup.length;
    const P = Math.ceil(L / b);
    // Multiplies per output sample (both ears): direct 2L; partitioned one forward and two inverse
    // real FFTs of 2B (each ~2B log2 B + 4B multiplies in kernels/fft) and 2P complex products per bin, per B samples.
    const fftMults = 2 * b * Math.log2(b) + 4 * b;
    const bound = (2 * L) / ((3 * fftMults + 2 * P * 4 * (b + 1)) / b);
    const part = median(partMs), direct = median(directMs), partWasm = median(wasmMs);

    const neural = await benchNeural(x48);
    return [
      {
        name: `Binaural hrtf renderer vs ffmpeg sofalizer (KEMAR, ${native / 1000} kHz)`,
        value: xRealTime(ours44),
        baseline: xRealTime(sofaNet),
        ratio: `${(sofaNet / ours44).toFixed(2)}x`,
        bound: '',
        notes:
          `${seconds} s of mono pink noise at the SOFA file's rate, source at azimuth 30; ours: BinauralRenderer (B = 128, P = ${Math.ceil(set.length / 128)} partitions, barycentric lookup, engine ${engine}) fed 20 ms chunks, median of 3 rounds; ` +
          `the same with engine 'js' (same rounds): ${xRealTime(js44)}, ${(sofaNet / js44).toFixed(2)}x sofalizer's speed, ${(js44 / ours44).toFixed(1)}x the time of ours; ` +
          `sofalizer: type=freq (default, 1024-sample frames), -filter_threads 1, net of ffmpeg's decode and start-up (anull run subtracted: ${nul.toFixed(0)} ms); ` +
          `sofalizer type=time ran at ${xRealTime(timeNet)}. Ratio > 1: ours is faster. Latency differs: ours B = ${((128 / native) * 1000).toFixed(1)} ms, sofalizer renders 1024-sample frames; ` +
          `ours with B = 1024 runs at ${xRealTime(ours1024)} (${(sofaNet / ours1024).toFixed(2)}x sofalizer's speed).`,
      },
      {
        name: 'Binaural hrtf renderer, 48 kHz: real-time factor and per-block cost (moving vs fixed)',
        value: `RTF ${(perBlock.total / audioMs).toExponential(2)}`,
        baseline: `RTF ${(movingRun.total / audioMs).toExponential(2)}`,
        ratio: `${(movingRun.total / perBlock.total).toFixed(2)}x`,
        bound: '',
        notes:
          `Engine ${fixed.engine}. 20 s of pink noise pushed one ${b}-sample block at a time (algorithmic latency ${((b / rate) * 1000).toFixed(2)} ms); HRIRs ${L} taps after resampling 44.1 -> 48 kHz, P = ${P}. ` +
          `Fixed source: per-block p50 ${us(quantile(perBlock.perChunk, 0.5))}, p99 ${us(quantile(perBlock.perChunk, 0.99))} (budget ${us((b / rate) * 1000)}). ` +
          `Baseline column = a source moving every block (lookup + ${2 * P} partition FFTs + crossfade each block): p50 ${us(quantile(movingRun.perChunk, 0.5))}, p99 ${us(quantile(movingRun.perChunk, 0.99))}; ratio = moving / fixed cost. Peak RSS ${peakRssMb().toFixed(0)} MB.`,
      },
      {
        name: 'Partitioned FFT convolution vs direct time-domain (HRIR pair, 48 kHz)',
        value: `${us(part / (xs.length / b))}/block`,
        baseline: `${us(direct / (xs.length / b))}/block`,
        ratio: `${(direct / part).toFixed(2)}x`,
        bound: `mults ${bound.toFixed(1)}x`,
        notes:
          `5 s of input, both ears, ${L}-tap HRIRs, B = ${b}, median of 3 alternated rounds, both in JavaScript. Direct: 2L = ${2 * L} multiply-adds per sample with 4 partial sums; ` +
          `partitioned (the renderer, fixed source, engine 'js'): one forward and two inverse ${2 * b}-point real FFTs plus 2P = ${2 * P} spectrum products per block; bound = ratio of their multiply counts. ` +
          `The renderer's default engine (${fixed.engine}) in the same rounds: ${us(partWasm / (xs.length / b))}/block, ${(direct / partWasm).toFixed(1)}x the direct form.`,
      },
      ...neural,
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Rows 4 and 5 (see the file comment), on the first seconds of `x` (48 kHz). */
export async function benchNeural(x: Float32Array, modelPath = defaultBinauralFlowModel()): Promise<BenchRow[]> {
  const s = await BinauralFlowStream.open(modelPath, { device: 'cpu', seed: 1 });
  const c = s.config;
  const rate = c.sampleRate;
  const hop = c.hop;
  const cond = conditioning(30, 0, 1, 0);
  // 4. RTF and per-hop cost, 10 s of audio pushed one hop at a time (after a 1 s warm-up).
  const stft = new StreamingStft({ nFft: c.nFft, hop });
  const ist = [new StreamingIstft({ nFft: c.nFft, hop }), new StreamingIstft({ nFft: c.nFft, hop })];
  const spectra: Float32Array[] = [];
  const collect = (sp: Float32Array) => spectra.push(sp.slice());
  const runHop = async (chunk: Float32Array) => {
    stft.push(chunk, collect);
    for (const sp of spectra) {
      await s.step(sp, cond);
      sink += ist[0].push(s.left)[3] + ist[1].push(s.right)[3];
    }
    spectra.length = 0;
  };
  for (let at = 0; at + hop <= rate; at += hop) await runHop(x.subarray(at, at + hop));
  const seconds = 10;
  const perHop: number[] = [];
  const t0 = performance.now();
  for (let at = 0; at + hop <= seconds * rate; at += hop) {
    const a = performance.now();
    await runHop(x.subarray(at, at + hop));
    perHop.push(performance.now() - a);
  }
  const total = performance.now() - t0;
  perHop.sort((a, b) => a - b);
  s.dispose();

  // 5. Step with bank vs offline graph over the whole receptive field, per hop.
  const R = c.evaluations * (c.receptiveField - 1) + 1;
  const hops = 120;
  const frames: Float32Array[] = [];
  const st = new StreamingStft({ nFft: c.nFft, hop });
  st.push(x.subarray(0, (hops + R) * hop), (sp) => frames.push(sp.slice()));
  const noise = new FlowNoise(2);
  const draws = frames.map(() => noise.fill(new Float32Array(4 * c.unetBins)));
  const step = await BinauralFlowStream.open(modelPath, { device: 'cpu', seed: 2 });
  const off = await ort.InferenceSession.create(join(modelPath, '..', 'offline.onnx'), { intraOpNumThreads: 1 });
  const { bins, unetBins } = c;
  const mono = new Float32Array(2 * bins * R), cd = new Float32Array(6 * R), nz = new Float32Array(4 * unetBins * R);
  const stepMs: number[] = [];
  const recMs: number[] = [];
  let worst = 0;
  // Steps and recomputes alternate in blocks of 30 hops: close enough in time that a busy
  // neighbour or a clock change shifts both, long enough that each runs with its own caches warm
  // (one after the other per hop, each evicts the other's weights, which a stream never does).
  for (let k = 0; k < R; k++) await step.step(frames[k], cond);
  const BLOCK = 30;
  for (let first = R; first < R + hops; first += BLOCK) {
    const last = Math.min(R + hops, first + BLOCK);
    const outs: Float32Array[] = [];
    for (let k = first; k < last; k++) {
      const a = performance.now();
      await step.step(frames[k], cond);
      stepMs.push(performance.now() - a);
      outs.push(step.left.slice());
    }
    for (let k = first; k < last; k++) {
      const a = performance.now();
      // Frames k - R + 1 .. k; the offline graph starts from zero buffers, which is exact because
      // no output at frame k depends on anything before frame k - R + 1.
      for (let i = 0; i < R; i++) {
        const f = frames[k - R + 1 + i];
        for (let b = 0; b < bins; b++) {
          mono[b * R + i] = f[2 * b];
          mono[(bins + b) * R + i] = f[2 * b + 1];
        }
        for (let j = 0; j < 6; j++) cd[j * R + i] = cond[j];
        const d = draws[k - R + 1 + i];
        for (let j = 0; j < 4 * unetBins; j++) nz[j * R + i] = d[j];
      }
      const y = (await off.run({
        mono: new ort.Tensor('float32', mono, [1, 2, bins, R]),
        cond: new ort.Tensor('float32', cd, [1, 6, R]),
        noise: new ort.Tensor('float32', nz, [1, 4, unetBins, R]),
      })).binaural.data as Float32Array;
      recMs.push(performance.now() - a);
      const left = outs[k - first];
      for (let b = 0; b < bins; b++) {
        worst = Math.max(worst, Math.abs(y[b * R + R - 1] - left[2 * b]), Math.abs(y[(bins + b) * R + R - 1] - left[2 * b + 1]));
      }
    }
  }
  step.dispose();
  await off.release();
  const stepMed = median(stepMs), recMed = median(recMs);
  const hopMs = (hop / rate) * 1000;
  return [
    {
      name: `Binaural neural renderer (binaural-flow), ${rate / 1000} kHz: real-time factor and per-hop cost`,
      value: `RTF ${(total / (seconds * 1000)).toFixed(3)}`,
      baseline: '',
      ratio: '',
      bound: '',
      notes:
        `${seconds} s of pink noise, one ${hop}-sample hop at a time (STFT ${c.nFft}/${hop}, one step graph run = ${c.evaluations} U-Net evaluations (${c.evaluations / 2} midpoint steps), two ISTFTs), 1 ORT thread, CPU. ` +
        `Per hop p50 ${us(quantile(perHop, 0.5))}, p99 ${us(quantile(perHop, 0.99))} (budget ${us(hopMs)}); algorithmic latency ${(((c.nFft - hop) / rate) * 1000).toFixed(2)} ms. Peak RSS ${peakRssMb().toFixed(0)} MB.`,
    },
    {
      name: 'Binaural neural renderer: step with buffer bank vs recompute over the receptive field per hop',
      value: `${us(stepMed)}/hop`,
      baseline: `${us(recMed)}/hop`,
      ratio: `${(recMed / stepMed).toFixed(1)}x`,
      bound: `RF/hop ${R}x`,
      notes:
        `Receptive field of one step: ${c.evaluations} chained U-Net evaluations of ${c.receptiveField} frames each = ${R} frames (${((R * hop) / rate * 1000).toFixed(0)} ms); ` +
        `the baseline runs offline.onnx over those ${R} frames at every hop and keeps the last (max abs difference from the step's output ${worst.toExponential(1)}); medians over ${hops} hops, steps and recomputes alternating in blocks of ${BLOCK} hops. ` +
        `The ratio stays under the bound: a step's fixed cost (graph dispatch, solver arithmetic, I/O) does not shrink with the frame count.`,
    },
  ];
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  (process.argv[2] === 'neural' ? benchNeural(pinkish(12 * 48000), process.argv[3]) : benchBinaural()).then((rows) => {
    for (const row of rows) console.log(row);
    if (sink === 42) console.log('');
  });
}

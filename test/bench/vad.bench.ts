/**
 * VAD: real-time factor, per-step latency and peak RSS of Silero VAD v5 run statefully (one
 * 32 ms window per step, the recurrent state carried), beside the stateless baseline a system
 * without explicit state must run: at every hop, the model from a zero state over the last
 * 1 s of audio (32 windows), keeping the last probability. Bound: 32 (context windows per hop).
 */
import { lastValueFrom, toArray } from 'rxjs';
import { fileURLToPath } from 'node:url';
import { ffmpegAudioInput } from '../../media/ffmpeg/index.js';
import { SileroStream } from '../../core/models/silero-vad.js';
import { audioFrame } from '../../core/frames.js';
import { vad } from '../../operators/vad.js';
import type { BenchRow } from './row.js';
import { peakRssMb, quantile } from './stats.js';

const clip = fileURLToPath(new URL('../../../examples/assets/speech.ogg', import.meta.url));

export async function benchVad(): Promise<BenchRow[]> {
  const frames = await lastValueFrom(ffmpegAudioInput(clip, { sampleRate: 16000, channels: 1 }).pipe(toArray()));
  const one = new Float32Array(frames.reduce((a, f) => a + f.data.length, 0));
  let o = 0;
  for (const f of frames) {
    one.set(f.data, o);
    o += f.data.length;
  }
  // About a minute of speech and pauses: the clip four times.
  const x = new Float32Array(one.length * 4);
  for (let k = 0; k < 4; k++) x.set(one, k * one.length);
  const seconds = x.length / 16000;
  const W = 512;

  const stream = await SileroStream.open(16000, { device: 'cpu' });
  for (let i = 0; i < 20; i++) await stream.probability(x.subarray(i * W, (i + 1) * W)); // warm-up
  stream.reset();
  const steps: number[] = [];
  const t0 = performance.now();
  for (let at = 0; at + W <= x.length; at += W) {
    const a = performance.now();
    await stream.probability(x.subarray(at, at + W));
    steps.push(performance.now() - a);
  }
  const statefulMs = performance.now() - t0;
  steps.sort((a, b) => a - b);

  // Stateless baseline on the first 10 s (it costs 32 model runs per hop).
  const ctx = 32;
  const baseSeconds = 10;
  const hops = Math.floor((baseSeconds * 16000) / W);
  const tb = performance.now();
  for (let h = 0; h < hops; h++) {
    stream.reset();
    for (let k = Math.max(0, h - ctx + 1); k <= h; k++) await stream.probability(x.subarray(k * W, (k + 1) * W));
  }
  const baselinePerHop = (performance.now() - tb) / hops;
  const statefulPerHop = statefulMs / steps.length;
  stream.dispose();

  // Whole operator from memory: frames of 20 ms, hysteresis, events.
  const opFrames = [];
  for (let at = 0; at < x.length; at += 320) opFrames.push(audioFrame(Math.round((at * 1e6) / 16000), 16000, 1, x.subarray(at, at + 320)));
  const t1 = performance.now();
  const events = await lastValueFrom(
    (await import('rxjs')).from(opFrames).pipe(vad({ device: 'cpu', queue: { capacity: opFrames.length } }), toArray()),
  );
  const opMs = performance.now() - t1;
  const segs = events.filter((e) => e.type === 'speech-end').length;

  return [
    {
      name: 'VAD (Silero v5) stateful step vs stateless 1 s recompute',
      value: `${(statefulPerHop * 1000).toFixed(0)} µs/hop`,
      baseline: `${(baselinePerHop * 1000).toFixed(0)} µs/hop`,
      ratio: `${(baselinePerHop / statefulPerHop).toFixed(1)}x`,
      bound: `context/hop = ${ctx}`,
      notes:
        `${seconds.toFixed(1)} s of speech (demo clip x4), 32 ms hop, 1 intra-op thread, CPU. Stateful: RTF ${(statefulMs / 1000 / seconds).toFixed(4)}, ` +
        `per-step p50 ${(quantile(steps, 0.5) * 1000).toFixed(0)} µs, p99 ${(quantile(steps, 0.99) * 1000).toFixed(0)} µs. ` +
        `Baseline on the first ${baseSeconds} s. Peak RSS ${peakRssMb().toFixed(0)} MB.`,
    },
    {
      name: 'vad() operator end to end (20 ms frames, from memory)',
      value: `RTF ${(opMs / 1000 / seconds).toFixed(4)}`,
      baseline: '',
      ratio: '',
      bound: '',
      notes: `${seconds.toFixed(1)} s in ${opMs.toFixed(0)} ms (${(seconds * 1000 / opMs).toFixed(0)}x real time), ${segs} segments; includes queueing, hysteresis and event creation.`,
    },
  ];
}

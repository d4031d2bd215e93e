/**
 * Our polyphase resampler vs ffmpeg's own (`-ar`, libswresample defaults) on the same 60 s of
 * 48 kHz audio, in the same run. ffmpeg's time is taken net of its own start-up and I/O: the
 * same command without `-ar` (a plain f32le copy) is timed too and subtracted.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Resampler } from '../../kernels/resample.js';
import { rng } from '../helpers-random.js';
import type { BenchRow } from './row.js';
import { median } from './stats.js';

function ffmpegMs(args: string[]): number {
  const t0 = performance.now();
  const r = spawnSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-nostdin', ...args]);
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`ffmpeg failed: ${r.stderr.toString().trim()}`);
  return ms;
}

export async function benchFfmpegResample(): Promise<BenchRow[]> {
  const seconds = 60;
  const n = 48000 * seconds;
  const rand = rng(4242);
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = 0.5 * Math.sin((2 * Math.PI * 440 * i) / 48000) + 0.2 * (rand() - 0.5);
  const dir = mkdtempSync(join(tmpdir(), 'cw-bench-'));
  try {
    const input = join(dir, 'in.f32');
    writeFileSync(input, new Uint8Array(x.buffer));
    // ffmpeg reads the same 60 s ten times over (-stream_loop 9) so its resampling work stands
    // well above its start-up noise; its times are divided by 10 afterwards.
    const loops = 10;
    const inArgs = ['-stream_loop', String(loops - 1), '-f', 'f32le', '-ar', '48000', '-ac', '1', '-i', input];
    const nul = ['-f', 'null', '-'];
    const resampleMs: number[] = [];
    const matchedMs: number[] = [];
    const copyMs: number[] = [];
    const oursMs: number[] = [];
    const jsMs: number[] = [];
    // swresample's filter_size counts taps per phase at the output rate: 102 * 3 = 306 taps at 48 kHz, like ours.
    const matched = ['-af', 'aresample=16000:filter_size=102:cutoff=0.95'];
    for (let round = 0; round < 5; round++) {
      resampleMs.push(ffmpegMs([...inArgs, '-ar', '16000', ...nul]) / loops);
      matchedMs.push(ffmpegMs([...inArgs, ...matched, ...nul]) / loops);
      copyMs.push(ffmpegMs([...inArgs, ...nul]) / loops);
      for (const engine of ['wasm', 'js'] as const) {
        const r = new Resampler({ fromRate: 48000, toRate: 16000, engine });
        let sink = 0;
        const t0 = performance.now();
        for (let at = 0; at < n; at += 960) sink += r.push(x.subarray(at, at + 960)).length;
        sink += r.flush().length;
        (engine === 'wasm' ? oursMs : jsMs).push(performance.now() - t0);
        if (sink < Math.floor(n / 3)) throw new Error('resampler produced too little');
      }
    }
    const copy = median(copyMs);
    // Each round's resample run less the same round's copy run, then the median: on a loaded
    // machine the best of one minus the best of the other can come out negative. A net time that
    // is still not positive is below what this machine can measure: no figure then, rather than a
    // clamped one that would print an absurd rate.
    const net = (ms: number[]) => median(ms.map((x, i) => x - copyMs[i]!));
    const ffNet = net(resampleMs);
    const ffMatched = net(matchedMs);
    const ours = median(oursMs);
    const msps = (ms: number) => (ms > 0 ? `${(n / 1e3 / ms).toFixed(1)} Msamples/s` : 'below noise');
    const ratio = (ms: number) => (ms > 0 ? `${(ms / ours).toFixed(2)}x` : '');
    const taps = new Resampler({ fromRate: 48000, toRate: 16000 }).filter.length;
    return [{
      name: 'Resample 48k->16k: ours vs ffmpeg -ar (swresample)',
      value: msps(ours),
      baseline: msps(ffNet),
      ratio: ratio(ffNet),
      bound: '',
      notes:
        `${seconds} s of 48 kHz audio. Ours: 20 ms chunks through the streaming kernel (${taps} taps, 80 dB stop band, its default WebAssembly SIMD loop), median of 5, RTF ${(ours / 1000 / seconds).toExponential(2)}; ` +
        `its plain JavaScript loop (engine 'js', the first wave's) ran at ${msps(median(jsMs))}, ${(median(jsMs) / ours).toFixed(1)}x slower. ` +
        `ffmpeg: median over 5 rounds of the wall time of "-ar 16000 -f null" less that round's run of the same command without -ar (medians ${median(resampleMs).toFixed(1)} and ${copy.toFixed(1)} ms per 60 s, input looped 10x): ` +
        `its resampling work alone, SIMD C with its default 32-tap-per-phase filter. ratio = ffmpeg time / ours (> 1: ours faster).`,
    }, {
      name: 'Resample 48k->16k: ours vs ffmpeg, matched filter length',
      value: msps(ours),
      baseline: msps(ffMatched),
      ratio: ratio(ffMatched),
      bound: '',
      notes: `Same input; ffmpeg with ${matched[1]} (about ${taps} taps at 48 kHz, like ours), median of 5 rounds, net of each round's copy run.`,
    }];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

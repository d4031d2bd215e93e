/**
 * `npm run bench [-- part ...]`: one table, every optimised path beside its baseline measured in the same run.
 * Ratios are what count; absolute times move with the machine's load.
 */
import type { BenchRow } from './row.js';
import { peakRssMb } from './stats.js';
import { setLogLevel } from '../../core/log.js';

function table(rows: BenchRow[]): string {
  const cols: (keyof BenchRow)[] = ['name', 'value', 'baseline', 'ratio', 'bound'];
  const head = ['benchmark', 'ours', 'baseline', 'ratio', 'bound'];
  const widths = cols.map((c, i) => Math.max(head[i].length, ...rows.map((r) => r[c].length)));
  const line = (cells: string[]) => '| ' + cells.map((c, i) => c.padEnd(widths[i])).join(' | ') + ' |';
  return [
    line(head),
    '|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|',
    ...rows.map((r) => line(cols.map((c) => r[c]))),
    '',
    ...rows.map((r, i) => `${i + 1}. ${r.name}: ${r.notes}`),
  ].join('\n');
}

async function main(): Promise<void> {
  setLogLevel('warn');
  // `npm run bench -- asr vad` runs only the parts named.
  // Each part loaded when it runs: a part needs only its own modules (bench video-device runs on a
  // GPU machine that carries onnxruntime and little else: scripts/gpu-carry.sh).
  const parts: Record<string, () => Promise<BenchRow[]>> = {
    kernels: async () => (await import('./kernels.bench.js')).benchKernels(),
    resample: async () => (await import('./ffmpeg-resample.bench.js')).benchFfmpegResample(),
    vad: async () => (await import('./vad.bench.js')).benchVad(),
    webrtc: async () => (await import('./webrtc.bench.js')).benchWebrtc(),
    asr: async () => (await import('./asr.bench.js')).benchAsr(),
    binaural: async () => (await import('./binaural.bench.js')).benchBinaural(),
    batch: async () => (await import('./batch.bench.js')).benchBatch(),
    load: async () => (await import('./load.bench.js')).benchLoad(),
    video: async () => (await import('./video.bench.js')).benchVideo(),
    'video-device': async () => (await import('./video-device.bench.js')).benchVideoDevice(),
    streamify: async () => (await import('./streamify.bench.js')).benchStreamify(),
    cluster: async () => (await import('./cluster.bench.js')).benchCluster(),
    rtp: async () => (await import('./rtp.bench.js')).benchRtp(),
    soak: async () => (await import('./soak.bench.js')).benchSoak(),
  };
  // Parts that run only when named: the soak takes 30 minutes by default, and video-device is for
  // a machine with a GPU (a large model's frames take seconds on a CPU).
  const optIn = new Set(['soak', 'video-device']);
  const wanted = process.argv.slice(2);
  for (const w of wanted) if (!(w in parts)) throw new Error(`unknown bench part '${w}'; parts: ${Object.keys(parts).join(', ')}`);
  const rows: BenchRow[] = [];
  for (const [name, part] of Object.entries(parts)) {
    if (wanted.length === 0 ? !optIn.has(name) : wanted.includes(name)) rows.push(...(await part()));
  }
  console.log(table(rows));
  console.log(`\nnode ${process.version}, peak RSS of the whole run ${peakRssMb().toFixed(0)} MB`);
}

main().catch((e) => {
  console.error(`bench failed: ${e instanceof Error ? e.message : String(e)}`);
  process.exitCode = 1;
});

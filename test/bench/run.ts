/**
 * `npm run bench [-- part ...]`: one table, every optimised path beside its baseline measured in the same run.
 * Ratios are what count; absolute times move with the machine's load.
 */
import { benchFfmpegResample } from './ffmpeg-resample.bench.js';
import { benchKernels } from './kernels.bench.js';
import type { BenchRow } from './row.js';
import { peakRssMb } from './stats.js';
import { benchVad } from './vad.bench.js';
import { benchWebrtc } from './webrtc.bench.js';
import { benchAsr } from './asr.bench.js';
import { benchBinaural } from './binaural.bench.js';
import { benchBatch } from './batch.bench.js';
import { benchLoad } from './load.bench.js';
import { benchSoak } from './soak.bench.js';
import { benchVideo } from './video.bench.js';
import { benchVideoDevice } from './video-device.bench.js';
import { benchStreamify } from './streamify.bench.js';
import { benchCluster } from './cluster.bench.js';
import { benchRtp } from './rtp.bench.js';
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
  const parts = { kernels: benchKernels, resample: benchFfmpegResample, vad: benchVad, webrtc: benchWebrtc, asr: benchAsr, binaural: benchBinaural, batch: benchBatch, load: benchLoad, video: benchVideo, 'video-device': benchVideoDevice, streamify: benchStreamify, cluster: benchCluster, rtp: benchRtp, soak: benchSoak };
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

/**
 * Sessions held in real time (src/pipelines/loadtest.ts: no drops, frame age p99 < 200 ms) by the
 * captions pipeline (VAD + command recogniser) in one process on the CPU, in the same run:
 * - today's runtime: batched steps, each model's runs on a worker thread of its own;
 * - the baseline, as every stream ran before batching: one run per step, on the main thread;
 * - between them, one run per step on the worker threads (what batching alone adds).
 * The largest N is found by doubling, then bisecting, 10 s a trial.
 */
import { fileURLToPath } from 'node:url';
import { setLogLevel } from '../../core/log.js';
import { loadtest, type LoadtestReport } from '../../src/pipelines/loadtest.js';
import type { BenchRow } from './row.js';

const clip = fileURLToPath(new URL('../../../examples/assets/speech.ogg', import.meta.url));
const SECONDS = Number(process.env.LOAD_SECONDS ?? 10);

async function largest(batch: boolean, thread?: 'main'): Promise<{ n: number; at: LoadtestReport | undefined }> {
  const trial = (n: number) => loadtest({ sessions: n, seconds: SECONDS, pipeline: 'captions', clip, device: 'cpu', batch: batch ? undefined : { maxBatch: 1 }, thread });
  let good = 0;
  let goodReport: LoadtestReport | undefined;
  let bad = 0;
  for (let n = 4; ; n *= 2) {
    const r = await trial(n);
    if (!r.realtime) {
      bad = n;
      break;
    }
    good = n;
    goodReport = r;
    if (n >= 1024) return { n, at: r };
  }
  while (bad - good > Math.max(1, Math.floor(good / 8))) {
    const mid = Math.floor((good + bad) / 2);
    const r = await trial(mid);
    if (r.realtime) (good = mid), (goodReport = r);
    else bad = mid;
  }
  return { n: good, at: goodReport };
}

export async function benchLoad(): Promise<BenchRow[]> {
  // A trial past the limit drops frames in every session, one warning each: the table says it.
  setLogLevel('error');
  try {
    const before = await largest(false, 'main');
    const unbatched = await largest(false);
    const now = await largest(true);
    const fmt = (r: LoadtestReport | undefined) => (r ? `${r.cpuMsPerSecondPerSession.toFixed(1)} ms CPU/s per session, p99 age ${r.frameAgeP99Ms.toFixed(0)} ms, ${r.batchSizeMean.toFixed(1)} steps a run` : 'none held');
    return [
      {
        name: `caption sessions held in real time in one process (CPU, ${SECONDS} s trials): batched on worker threads vs one run per step on the main thread`,
        value: `${now.n} sessions`,
        baseline: `${before.n} sessions`,
        ratio: before.n > 0 ? `${(now.n / before.n).toFixed(2)}x` : '',
        bound: '',
        notes: `batched, workers: ${fmt(now.at)}; one run per step on the workers: ${unbatched.n} sessions, ${fmt(unbatched.at)}; one run per step, main thread: ${fmt(before.at)}`,
      },
    ];
  } finally {
    setLogLevel('info');
  }
}

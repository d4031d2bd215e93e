/**
 * Soak: 4 real chromium sessions (the example page, chromium's fake microphone playing the demo
 * speech clip in a loop) against the default pipeline (VAD + captions + binaural return) in this
 * process, for SOAK_MINUTES (default 30). Reports the first and last window (one minute each, or
 * half the run when it is shorter than two minutes): this process's RSS (the server; chromium is
 * other processes) and its growth, and the p99 age of the audio frames the pipeline returns
 * (nowMs() - frame.wallMs at the pipeline's output, every frame) beside the frame-age histograms
 * of the asr and vad queues. A session that ends early is reported (when) in the rows' names and
 * notes. Opt-in: `npm run bench -- soak`; plain `npm run bench` leaves it out.
 */
import { lastValueFrom, tap, toArray } from 'rxjs';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { ffmpegAudioInput } from '../../media/ffmpeg/index.js';
import { nowMs } from '../../core/frames.js';
import { metrics } from '../../core/metrics.js';
import { defaultPipeline, type SessionPipeline } from '../../src/server/session-pipeline.js';
import { startBrowserSession, type BrowserSession } from '../browser-session.js';
import { collectGarbage } from '../gc.js';
import type { BenchRow } from './row.js';
import { quantile } from './stats.js';
import { concat } from '../operators/frames-helpers.js';

const clip = fileURLToPath(new URL('../../../examples/assets/speech.ogg', import.meta.url));
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const SESSIONS = 4;

function soakMinutes(): number {
  const raw = process.env.SOAK_MINUTES;
  if (raw === undefined || raw === '') return 30;
  const m = Number(raw);
  if (!Number.isFinite(m) || m <= 0) throw new Error(`SOAK_MINUTES must be a positive number of minutes, got '${raw}'`);
  return m;
}

/** Ages of returned audio frames, by the window they fall in ('first', 'last' or neither). */
interface AgeProbe {
  window: 'first' | 'last' | undefined;
  first: number[];
  last: number[];
}

function withAgeProbe(inner: SessionPipeline, probe: AgeProbe): SessionPipeline {
  return (inputs) => {
    const out = inner(inputs);
    return {
      ...out,
      audio$: out.audio$?.pipe(
        tap((f) => {
          if (probe.window !== undefined) probe[probe.window].push(nowMs() - f.wallMs);
        }),
      ),
    };
  };
}

/** Cumulative frame-age histogram buckets of one operator in an exposition `text`: upper bound -> count. */
function ageBuckets(text: string, operator: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const mm of text.matchAll(/^causeway_frame_age_ms_bucket\{(.*)\} (\S+)$/gm)) {
    if (!mm[1].includes(`operator="${operator}"`)) continue;
    const le = /le="([^"]+)"/.exec(mm[1])?.[1] ?? '';
    out.set(le, (out.get(le) ?? 0) + Number(mm[2]));
  }
  return out;
}

/** p99 over a window of a histogram, as the upper bound of the bucket holding it ("<= 50 ms"). */
function histP99(before: Map<string, number>, after: Map<string, number>): string {
  const d = [...after].map(([le, c]) => [le, c - (before.get(le) ?? 0)] as const);
  const n = d.find(([le]) => le === '+Inf')?.[1] ?? 0;
  if (n <= 0) return 'no frames';
  const hit = d.filter(([le]) => le !== '+Inf').sort((a, b) => Number(a[0]) - Number(b[0])).find(([, c]) => c >= 0.99 * n);
  return hit ? `<= ${hit[0]} ms` : '> 5000 ms';
}

async function counter(series: RegExp): Promise<number> {
  let n = 0;
  for (const line of (await metrics.metrics()).split('\n')) {
    const mm = /^(\S+) (\S+)$/.exec(line);
    if (mm && series.test(mm[1])) n += Number(mm[2]);
  }
  return n;
}
const DROPS = /^causeway_frames_dropped_total\{/;

const rssMb = () => process.memoryUsage().rss / 2 ** 20;
const f1 = (x: number) => x.toFixed(1);

export async function benchSoak(): Promise<BenchRow[]> {
  const minutes = soakMinutes();
  const totalMs = minutes * 60_000;
  const windowMs = Math.min(60_000, totalMs / 2);
  const probe: AgeProbe = { window: undefined, first: [], last: [] };
  const frames = await lastValueFrom(ffmpegAudioInput(clip, { sampleRate: 48000, channels: 1 }).pipe(toArray()));
  const speech = concat(frames);
  let rig: BrowserSession | undefined;
  const pages: Page[] = [];
  try {
    rig = await startBrowserSession('cw-bench-soak-', speech, { pipeline: withAgeProbe(defaultPipeline({ device: 'cpu' }), probe), maxSessions: SESSIONS });
    const { server, browser } = rig;
    pages.push(rig.page);
    while (pages.length < SESSIONS) pages.push(await browser.page(`${server.url}/`));
    const opts = JSON.stringify({ whipUrl: `${server.url}/whip`, audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false } });
    for (const p of pages) await p.evaluate(`window.causeway.start(${opts})`);
    const ids = [...server.sessions.keys()];
    if (ids.length !== SESSIONS) throw new Error(`${ids.length} of ${SESSIONS} sessions open after start`);
    // The clock starts once every session's audio has reached the pipeline (2 s decoded each).
    const tReady = Date.now();
    while ([...server.sessions.values()].some((s) => (s.peer.stats().framesDecoded ?? 0) < 100)) {
      if (Date.now() - tReady > 30_000) throw new Error('sessions did not start decoding audio within 30 s');
      await sleep(200);
    }
    // A session that ends is the soak's finding, not a reason to lose its figures: when is reported.
    const lost = new Map<string, number>();
    const alive = () => {
      for (const id of ids) if (!server.sessions.has(id) && !lost.has(id)) lost.set(id, (Date.now() - t0) / 60_000);
    };

    const t0 = Date.now();
    const rss: { t: number; mb: number }[] = [];
    const ops = ['asr', 'vad'];
    const hist = async (): Promise<Map<string, Map<string, number>>> => {
      const text = await metrics.metrics();
      return new Map(ops.map((op) => [op, ageBuckets(text, op)]));
    };
    const drops0 = await counter(DROPS);
    // First window.
    probe.window = 'first';
    const h0 = await hist();
    while (Date.now() - t0 < windowMs) {
      rss.push({ t: Date.now() - t0, mb: rssMb() });
      await sleep(5000);
      alive();
    }
    probe.window = undefined;
    const h1 = await hist();
    collectGarbage();
    const rssFirstGc = rssMb();
    // The middle: samples only, every 10 s, sessions checked alive.
    while (Date.now() - t0 < totalMs - windowMs) {
      rss.push({ t: Date.now() - t0, mb: rssMb() });
      await sleep(Math.min(10_000, Math.max(0, totalMs - windowMs - (Date.now() - t0))));
      alive();
    }
    probe.window = 'last';
    const h2 = await hist();
    const lastFrom = Date.now() - t0;
    while (Date.now() - t0 < totalMs) {
      rss.push({ t: Date.now() - t0, mb: rssMb() });
      await sleep(Math.min(5000, Math.max(0, totalMs - (Date.now() - t0))));
      alive();
    }
    probe.window = undefined;
    const h3 = await hist();
    const wallS = (Date.now() - t0) / 1000;
    const drops = (await counter(DROPS)) - drops0;
    const stats = (await Promise.all(pages.map((p) => p.evaluate('window.causeway.stats()')))) as { inboundAudioBytes: number }[];
    collectGarbage();
    const rssLastGc = rssMb();

    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
    const rssFirst = mean(rss.filter((s) => s.t <= windowMs).map((s) => s.mb));
    const rssLast = mean(rss.filter((s) => s.t >= lastFrom).map((s) => s.mb));
    const peak = Math.max(...rss.map((s) => s.mb));
    const growth = rssLastGc - rssFirstGc;
    const spanMin = (wallS - windowMs / 1000) / 60;
    const perHour = growth / (spanMin / 60);
    const p = (xs: number[], q: number) => (xs.length === 0 ? NaN : quantile([...xs].sort((a, b) => a - b), q));
    const [a99, b99] = [p(probe.first, 0.99), p(probe.last, 0.99)];
    const lostNote = lost.size === 0 ? `${SESSIONS}/${SESSIONS} sessions alive throughout` : `${lost.size} of ${SESSIONS} sessions LOST at ${[...lost.values()].map((t) => `${t.toFixed(2)} min`).join(', ')}`;
    const label = `${SESSIONS} chromium sessions, default pipeline, ${f1(wallS / 60)} min${lost.size > 0 ? `, ${lost.size} lost` : ''}`;
    return [
      {
        name: `Soak RSS (server process), ${label}`,
        value: `${f1(rssLastGc)} MB end`,
        baseline: `${f1(rssFirstGc)} MB start`,
        ratio: (rssLastGc / rssFirstGc).toFixed(3),
        bound: '1 (flat)',
        notes:
          `after a full gc at the end of the first ${f1(windowMs / 1000)} s and at the end: growth ${growth >= 0 ? '+' : ''}${f1(growth)} MB ` +
          `(${spanMin >= 5 ? `${perHour >= 0 ? '+' : ''}${f1(perHour)} MB/h between them` : 'too short a span for a rate'}); mean RSS without gc ${f1(rssFirst)} MB in the first window, ${f1(rssLast)} MB in the last; ` +
          `peak ${f1(peak)} MB; ${rss.length} samples; ${lostNote}; ` +
          `returned audio per page ${stats.map((s) => `${(s.inboundAudioBytes / 1e6).toFixed(2)} MB`).join(', ')}; frames dropped by model queues ${drops}`,
      },
      {
        name: `Soak returned-audio frame age p99, ${label}`,
        value: `${f1(b99)} ms last`,
        baseline: `${f1(a99)} ms first`,
        ratio: (b99 / a99).toFixed(2),
        bound: '1 (flat)',
        notes:
          `nowMs() - wallMs of every audio frame the pipeline returns, ${probe.first.length} frames in the first ${f1(windowMs / 1000)} s, ${probe.last.length} in the last; ` +
          `p50 ${f1(p(probe.first, 0.5))} -> ${f1(p(probe.last, 0.5))} ms, max ${f1(p(probe.first, 1))} -> ${f1(p(probe.last, 1))} ms; ` +
          `frame-age histogram p99 (bucket bound) first -> last: ${ops.map((op) => `${op} ${histP99(h0.get(op)!, h1.get(op)!)} -> ${histP99(h2.get(op)!, h3.get(op)!)}`).join(', ')}`,
      },
    ];
  } finally {
    await Promise.all(pages.map((pg) => pg.evaluate('window.causeway.stop()').catch(() => undefined)));
    await rig?.close();
  }
}

/**
 * WebRTC, end to end with a real browser (headless Debian chromium, see test/browser-harness.ts)
 * against the real server running in this process.
 *
 * 1. Mouth-to-ear latency of the return path, measured in the browser on one clock: the page's
 *    microphone is a WebAudio graph (40 ms tone bursts every 403 ms, cycling through four
 *    frequencies) sent with `causeway.start({ stream })`; an AudioWorklet in the same
 *    AudioContext records that graph and the returned remote track side by side, and the same
 *    onset detector (tone envelope at the burst's frequency, -6 dB point) runs on both, so its own
 *    delay cancels. A returned burst counts only if its frequency is the one sent (>= 12 dB above
 *    the other three at its peak): with four frequencies a burst cannot be taken for another
 *    within 1.6 s. Causeway's default pipeline (VAD + captions (command recogniser) + binaural HRTF return) beside a passthrough pipeline
 *    (the microphone frames returned untouched), one session of each at once in two pages, over
 *    several rounds: chromium's jitter buffer settles at a different delay in every session, so
 *    one session says little. The server also times how long each pipeline holds the audio of
 *    each returned 20 ms packet (withHoldProbe), which shows the processing's share without the
 *    browser's noise. A control whose server returns silence must yield no marker (nothing
 *    reaches the recorder but the server's audio: no local echo).
 * 2. Server CPU per session: K = 1, 2, 4 pages in one chromium, each its own session whose
 *    microphone is chromium's fake capture of the demo speech clip, default pipeline (CPU VAD);
 *    process.cpuUsage() of this process (the server; chromium is separate processes) over a 10 s
 *    window that starts once every VAD runs at the real-time rate, per session and per second of
 *    decoded audio, beside the passthrough pipeline at K = 4. Real time held: frame-age
 *    histograms, drop counters and Silero step counts of the metrics registry over the same
 *    window, and this process's event-loop delay. Chromium's CPU and every other process's are
 *    reported too: on a small machine they compete with the server, so for this part chromium's
 *    ordinary threads are put at nice +10 and the server at nice -10 (where allowed).
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism, getPriority, setPriority } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EMPTY, lastValueFrom, map, tap, toArray } from 'rxjs';
import type { Page } from 'playwright-core';
import { ffmpegAudioInput } from '../../media/ffmpeg/index.js';
import { toMono } from '../../operators/to-mono.js';
import { audioFrame, type AudioFrame } from '../../core/frames.js';
import { pipelineLatency, type StreamOperator } from '../../core/operator-info.js';
import { binaural } from '../../operators/binaural.js';
import { metrics } from '../../core/metrics.js';
import { startServer, type CausewayServer } from '../../src/server/http-server.js';
import { defaultPipeline, type SessionPipeline } from '../../src/server/session-pipeline.js';
import { launchBrowser, writeWav, type BrowserHarness } from '../browser-harness.js';
import { makeTempDir, removeDir } from '../fixtures-media.js';
import type { BenchRow } from './row.js';
import { quantile } from './stats.js';
import { EXAMPLE_PAGE } from '../example-page.js';

const clip = fileURLToPath(new URL('../../../examples/assets/speech.ogg', import.meta.url));
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// ------------------------------------------------------------------------------ pipelines

/** Baseline: the microphone returned as decoded (mono, like the default pipeline), no processing. */
const passthroughPipeline: SessionPipeline = ({ audio$ }) => ({ events$: EMPTY, audio$: audio$.pipe(toMono()) });

/**
 * The default pipeline as the latency part runs it, and the operators of its audio return path
 * (src/server/session-pipeline.ts: the microphone to mono, then the HRTF binaural renderer at
 * 48 kHz), whose declared algorithmic latencies give the row's bound; the options are spelled
 * out so a change of the pipeline's defaults cannot leave the bound describing another path.
 */
const defaultOptions = { device: 'cpu', returnAudio: 'binaural', binauralEngine: 'hrtf' } as const;
const declaredReturnPath = (): StreamOperator<AudioFrame, AudioFrame>[] => [toMono(), binaural({ engine: 'hrtf', sampleRate: 48000 })];
const declaredPassthroughPath = (): StreamOperator<AudioFrame, AudioFrame>[] => [toMono()];

/** "adds >= X ms (a 0 + b 2.67)": the declared latency the default return path adds over passthrough. */
function declaredBound(): string {
  const ops = declaredReturnPath();
  const added = (pipelineLatency(ops).latencyUs - pipelineLatency(declaredPassthroughPath()).latencyUs) / 1000;
  return `adds >= ${added.toFixed(1)} ms (declared: ${ops.map((op) => `${op.info.name} ${(op.info.latencyUs / 1000).toFixed(2)}`).join(' + ')})`;
}

/** Control: the server returns silence of the same timing, so a marker found would not be the server's. */
const silencePipeline: SessionPipeline = ({ audio$ }) => ({
  events$: EMPTY,
  audio$: audio$.pipe(
    toMono(),
    map((f) => audioFrame(f.pts, f.sampleRate, f.channels, new Float32Array(f.data.length), f.wallMs)),
  ),
});

// ------------------------------------------------------------------------------ latency: page side

interface MarkerConfig {
  whipUrl: string;
  freqs: number[];
  amp: number;
  burstS: number;
  periodS: number;
  markers: number;
  leadS: number;
  tailS: number;
}

interface PageRecording {
  sampleRate: number;
  /** AudioContext frame of the first recorded sample. */
  startFrame: number;
  /** Int16 little-endian PCM, base64: the graph sent as microphone, and the returned track. */
  sent: string;
  recv: string;
  /** Scheduled bursts: AudioContext frame and frequency. */
  sched: { frame: number; f: number }[];
  baseLatencyMs: number;
  outputLatencyMs: number;
  codec: string | null;
  jitterMs: number | null;
  lost: number;
}

/**
 * Runs in the page (as source text: the project compiles without DOM types). Builds the burst
 * graph and the recorder, starts a session with the graph as microphone, records, stops.
 */
const PAGE_MARKER_RUN = String.raw`async (cfg) => {
  const cw = window.causeway;
  const ctx = new AudioContext({ sampleRate: 48000, latencyHint: 'interactive' });
  let rsrc = null;
  try {
    await ctx.resume();
    const totalS = cfg.leadS + cfg.markers * cfg.periodS + cfg.tailS + 1;
    const worklet = ${'`'}
      class CwRec extends AudioWorkletProcessor {
        constructor(o) {
          super();
          const n = o.processorOptions.capacity;
          this.a = new Float32Array(n);
          this.b = new Float32Array(n);
          this.n = 0;
          this.start = -1;
          this.on = false;
          this.port.onmessage = (e) => {
            if (e.data === 'start') this.on = true;
            else if (e.data === 'stop') {
              this.on = false;
              this.port.postMessage({ start: this.start, a: this.a.slice(0, this.n), b: this.b.slice(0, this.n) });
            }
          };
        }
        process(inputs) {
          if (!this.on) return true;
          if (this.start < 0) this.start = currentFrame;
          const a = inputs[0][0];
          const b = inputs[1][0];
          const len = Math.min((a || b || { length: 128 }).length, this.a.length - this.n);
          if (a) this.a.set(a.subarray(0, len), this.n);
          if (b) this.b.set(b.subarray(0, len), this.n);
          this.n += len;
          return true;
        }
      }
      registerProcessor('cw-rec', CwRec);
    ${'`'};
    await ctx.audioWorklet.addModule(URL.createObjectURL(new Blob([worklet], { type: 'text/javascript' })));
    const mix = ctx.createGain();
    const dest = ctx.createMediaStreamDestination();
    dest.channelCount = 1;
    mix.connect(dest);
    const rec = new AudioWorkletNode(ctx, 'cw-rec', {
      numberOfInputs: 2,
      numberOfOutputs: 1,
      outputChannelCount: [1],
      channelCount: 1,
      channelCountMode: 'explicit',
      processorOptions: { capacity: Math.ceil(totalS * ctx.sampleRate) },
    });
    mix.connect(rec, 0, 0);
    const mute = ctx.createGain();
    mute.gain.value = 0;
    rec.connect(mute).connect(ctx.destination);

    await cw.start({ stream: dest.stream, whipUrl: cfg.whipUrl });
    const el = document.getElementById('remote-audio');
    for (let i = 0; i < 100 && !(el.srcObject && el.srcObject.getAudioTracks().length); i++) await new Promise((r) => setTimeout(r, 20));
    if (!el.srcObject) throw new Error('no remote audio track');
    rsrc = ctx.createMediaStreamSource(el.srcObject);
    rsrc.connect(rec, 0, 1);
    rec.port.postMessage('start');

    const sched = [];
    const t0 = ctx.currentTime + cfg.leadS;
    const ramp = 0.003;
    for (let k = 0; k < cfg.markers; k++) {
      const t = t0 + k * cfg.periodS;
      const f = cfg.freqs[k % cfg.freqs.length];
      const o = ctx.createOscillator();
      o.frequency.value = f;
      const g = ctx.createGain();
      g.gain.setValueAtTime(0, t);
      g.gain.linearRampToValueAtTime(cfg.amp, t + ramp);
      g.gain.setValueAtTime(cfg.amp, t + cfg.burstS - ramp);
      g.gain.linearRampToValueAtTime(0, t + cfg.burstS);
      o.connect(g).connect(mix);
      o.start(t);
      o.stop(t + cfg.burstS + 0.01);
      sched.push({ frame: Math.round(t * ctx.sampleRate), f });
    }
    await new Promise((r) => setTimeout(r, (cfg.leadS + cfg.markers * cfg.periodS + cfg.tailS) * 1000));
    const data = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('recorder did not answer')), 5000);
      rec.port.onmessage = (e) => { clearTimeout(timer); resolve(e.data); };
      rec.port.postMessage('stop');
    });
    const st = await cw.stats();
    const b64 = (f32) => {
      const i16 = new Int16Array(f32.length);
      for (let i = 0; i < f32.length; i++) i16[i] = Math.max(-32768, Math.min(32767, Math.round(f32[i] * 32767)));
      const u8 = new Uint8Array(i16.buffer);
      let s = '';
      for (let i = 0; i < u8.length; i += 0x8000) s += String.fromCharCode.apply(null, u8.subarray(i, i + 0x8000));
      return btoa(s);
    };
    return {
      sampleRate: ctx.sampleRate,
      startFrame: data.start,
      sent: b64(data.a),
      recv: b64(data.b),
      sched,
      baseLatencyMs: (ctx.baseLatency || 0) * 1000,
      outputLatencyMs: (ctx.outputLatency || 0) * 1000,
      codec: st.inboundAudioCodec,
      jitterMs: st.inboundAudioJitter === null ? null : st.inboundAudioJitter * 1000,
      lost: st.inboundAudioPacketsLost,
    };
  } finally {
    try { rsrc && rsrc.disconnect(); } catch {}
    await cw.stop();
    await ctx.close().catch(() => {});
  }
}`;

// ------------------------------------------------------------------------------ latency: analysis

function pcm(b64: string): Float32Array {
  const buf = Buffer.from(b64, 'base64');
  const out = new Float32Array(buf.length >> 1);
  for (let i = 0; i < out.length; i++) out[i] = buf.readInt16LE(2 * i) / 32767;
  return out;
}

/** amp[t] = amplitude of the f-Hz component of x over the W samples before t (a causal window). */
function toneEnvelope(x: Float32Array, f: number, sr: number, W: number): Float32Array {
  const w = (2 * Math.PI * f) / sr;
  const cr = new Float64Array(x.length + 1);
  const ci = new Float64Array(x.length + 1);
  for (let n = 0; n < x.length; n++) {
    cr[n + 1] = cr[n] + x[n] * Math.cos(w * n);
    ci[n + 1] = ci[n] - x[n] * Math.sin(w * n);
  }
  const amp = new Float32Array(x.length + 1);
  for (let t = W; t <= x.length; t++) amp[t] = (2 * Math.hypot(cr[t] - cr[t - W], ci[t] - ci[t - W])) / W;
  return amp;
}

interface Onset {
  /** Sample index of the -6 dB point of the rise before the peak. */
  at: number;
  peak: number;
  /** Peak at the marker's frequency over the largest of the other frequencies at that instant. */
  purity: number;
}

/** The burst at frequency index fi within [a, b): peak, walked back to the half-amplitude point. */
function onset(env: Float32Array[], fi: number, a: number, b: number): Onset | undefined {
  const e = env[fi];
  a = Math.max(a, 1);
  b = Math.min(b, e.length);
  if (b <= a) return undefined;
  let tm = a;
  for (let t = a; t < b; t++) if (e[t] > e[tm]) tm = t;
  const peak = e[tm];
  let t = tm;
  while (t > a && e[t - 1] >= peak / 2) t--;
  let other = 1e-9;
  for (let j = 0; j < env.length; j++) if (j !== fi) other = Math.max(other, env[j][tm]);
  return { at: t, peak, purity: peak / other };
}

interface LatencyResult {
  /** Latencies (ms) of the valid markers after warm-up, sorted. */
  ms: number[];
  valid: number;
  considered: number;
  minPurityDb: number;
  meanPeak: number;
  /** How far the recorded sent bursts sit from their schedule (ms, max abs): recorder sanity. */
  schedErrMs: number;
  rec: PageRecording;
}

const MIN_PURITY = 4; // 12 dB
const WARMUP_MARKERS = 1;

function analyse(rec: PageRecording, cfg: MarkerConfig): LatencyResult {
  const sr = rec.sampleRate;
  const sent = pcm(rec.sent);
  const recv = pcm(rec.recv);
  const W = Math.round(0.01 * sr); // 10 ms: 100 Hz bins, the frequencies sit on them
  const envS = cfg.freqs.map((f) => toneEnvelope(sent, f, sr, W));
  const envR = cfg.freqs.map((f) => toneEnvelope(recv, f, sr, W));
  const minPeak = cfg.amp * 0.15;
  const ms: number[] = [];
  let valid = 0;
  let considered = 0;
  let minPurity = Infinity;
  let peaks = 0;
  let schedErr = 0;
  for (let k = WARMUP_MARKERS; k < rec.sched.length; k++) {
    considered++;
    const fi = k % cfg.freqs.length;
    const at = rec.sched[k].frame - rec.startFrame;
    const s = onset(envS, fi, at - Math.round(0.05 * sr), at + Math.round((cfg.burstS + 0.05) * sr));
    if (!s || s.peak < minPeak) continue;
    schedErr = Math.max(schedErr, Math.abs((s.at - at - W / 2) / sr) * 1000);
    // Search up to 1 s after the sent onset: the same frequency comes again only 1.6 s later.
    const r = onset(envR, fi, s.at, s.at + Math.round(1.0 * sr));
    if (!r || r.peak < minPeak || r.purity < MIN_PURITY) continue;
    valid++;
    minPurity = Math.min(minPurity, r.purity);
    peaks += r.peak;
    ms.push(((r.at - s.at) / sr) * 1000);
  }
  ms.sort((a, b) => a - b);
  return {
    ms,
    valid,
    considered,
    minPurityDb: valid > 0 ? 20 * Math.log10(minPurity) : 0,
    meanPeak: valid > 0 ? peaks / valid : 0,
    schedErrMs: schedErr,
    rec,
  };
}

async function measureLatency(page: Page, cfg: MarkerConfig): Promise<LatencyResult> {
  const rec = (await page.evaluate(`(${PAGE_MARKER_RUN})(${JSON.stringify(cfg)})`)) as PageRecording;
  return analyse(rec, cfg);
}

// ------------------------------------------------------------------------------ CPU: snapshots

interface MetricSample {
  /** Series name + labels (without `le`) -> bucket upper bound -> cumulative count. */
  buckets: Map<string, Map<string, number>>;
  counters: Map<string, number>;
}

async function sampleMetrics(): Promise<MetricSample> {
  const buckets = new Map<string, Map<string, number>>();
  const counters = new Map<string, number>();
  for (const line of (await metrics.metrics()).split('\n')) {
    if (line.startsWith('#') || line === '') continue;
    const mm = /^(\w+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!mm) continue;
    const [, name, labels = '', value] = mm;
    if (name === 'causeway_frame_age_ms_bucket') {
      const le = /(?:^|,)le="([^"]+)"/.exec(labels)?.[1] ?? '';
      const op = /operator="([^"]+)"/.exec(labels)?.[1] ?? labels;
      let b = buckets.get(op);
      if (!b) buckets.set(op, (b = new Map()));
      b.set(le, (b.get(le) ?? 0) + Number(value));
    } else if (name === 'causeway_frames_dropped_total' || name === 'causeway_frames_out_total' || name === 'causeway_inference_ms_count') {
      counters.set(`${name}{${labels}}`, Number(value));
    }
  }
  return { buckets, counters };
}

/** p99 of frame age per operator over the window, as the upper bound of its histogram bucket. */
function ageP99(before: MetricSample, after: MetricSample): Map<string, { p99: string; n: number }> {
  const out = new Map<string, { p99: string; n: number }>();
  for (const [op, b] of after.buckets) {
    const b0 = before.buckets.get(op);
    const d = [...b].map(([le, c]) => [le, c - (b0?.get(le) ?? 0)] as const);
    const n = d.find(([le]) => le === '+Inf')?.[1] ?? 0;
    if (n <= 0) continue;
    const sorted = d.filter(([le]) => le !== '+Inf').sort((x, y) => Number(x[0]) - Number(y[0]));
    const hit = sorted.find(([, c]) => c >= 0.99 * n);
    out.set(op, { p99: hit ? hit[0] : '+Inf', n });
  }
  return out;
}

function counterDelta(before: MetricSample, after: MetricSample, series: RegExp): number {
  let d = 0;
  for (const [k, v] of after.counters) if (series.test(k)) d += v - (before.counters.get(k) ?? 0);
  return d;
}

const DROPS = /^causeway_frames_dropped_total\{/;
const VAD_STEPS = /^causeway_inference_ms_count\{model="silero/i;
const MIC_FRAMES = /^causeway_frames_out_total\{operator="webrtc-audio-in"\}/;

/** Busy CPU seconds of the whole machine, from /proc/stat (all CPUs, clock ticks of 10 ms). */
function machineBusyS(): number {
  const f = readFileSync('/proc/stat', 'latin1').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const idle = (f[3] ?? 0) + (f[4] ?? 0); // idle + iowait
  return (f.slice(0, 8).reduce((a, b) => a + b, 0) - idle) / 100;
}

/** Seconds the main thread has waited on the run queue (runnable, no CPU given); NaN off Linux. */
function mainThreadRunqueueWaitS(): number {
  try {
    return Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'latin1').trim().split(' ')[1]) / 1e9;
  } catch {
    return NaN;
  }
}

/** Sets nice +10 on every non-realtime thread of the given processes; returns how many it set. */
function deprioritise(pids: number[]): number {
  let n = 0;
  for (const pid of pids) {
    let tids: string[];
    try {
      tids = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue; // gone
    }
    for (const tid of tids) {
      try {
        if (getPriority(Number(tid)) < 10) {
          setPriority(Number(tid), 10);
          n++;
        }
      } catch {
        // a realtime thread (EPERM/EACCES for some), or gone
      }
    }
  }
  return n;
}

/** utime + stime (s) of the given pids, from /proc (clock ticks of 10 ms). */
function procCpu(pids: number[]): Map<number, number> {
  const out = new Map<number, number>();
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(pid, (Number(f[11]) + Number(f[12])) / 100);
    } catch {
      // gone
    }
  }
  return out;
}

interface CpuResult {
  k: number;
  wallS: number;
  cpuS: number;
  /** Decoded microphone audio in the window, all sessions (s). */
  audioS: number;
  chromiumCpuS: number;
  /** CPU seconds of every other process on the machine in the window (another job skews the figures). */
  othersCpuS: number;
  ages: Map<string, { p99: string; n: number }>;
  drops: number;
  /** Silero steps per session per second of wall time (real time: 1 per 32 ms = 31.25). */
  vadStepsPerS: number;
  /** How long after the sessions connected their models ran at the real-time rate (the window starts then). */
  settleS: number;
  /** Time the server's main thread was runnable but not running (starved of CPU) in the window. */
  runqueueWaitS: number;
  loopP99Ms: number;
  loopMaxMs: number;
}

async function until(what: string, ms: number, f: () => boolean): Promise<void> {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(50);
  }
}

async function measureCpu(
  harness: BrowserHarness,
  pages: Page[],
  server: CausewayServer,
  k: number,
  windowS: number,
  hasVad: boolean,
): Promise<CpuResult> {
  const used = pages.slice(0, k);
  // No echo cancellation etc. in chromium: nothing is played to a speaker, and chromium's audio
  // processing runs on real-time threads that take cores from the server on a small machine.
  const opts = JSON.stringify({ whipUrl: `${server.url}/whip`, audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false } });
  try {
    await Promise.all(used.map((p) => p.evaluate(`window.causeway.start(${opts})`)));
    await until(`${k} sessions`, 5000, () => server.sessions.size === k);
    // The window starts once every session's VAD runs at the real-time rate with nothing dropped
    // (models opened, start-up backlog drained), and at least 1.5 s after connecting.
    const tc = performance.now();
    await sleep(1000);
    for (;;) {
      const a = await sampleMetrics();
      await sleep(500);
      const b = await sampleMetrics();
      const steps = counterDelta(a, b, VAD_STEPS);
      const realTime = hasVad ? (k * 0.5) / 0.032 : 0;
      const settled = steps >= 0.85 * realTime && steps <= 1.15 * realTime && counterDelta(a, b, DROPS) === 0;
      if (settled || performance.now() - tc > 5000) break;
    }
    const settleS = (performance.now() - tc) / 1000;
    const loop = monitorEventLoopDelay({ resolution: 5 });
    const m0 = await sampleMetrics();
    const c0 = procCpu(harness.pids());
    const busy0 = machineBusyS();
    const wait0 = mainThreadRunqueueWaitS();
    const t0 = performance.now();
    const u0 = process.cpuUsage();
    loop.enable();
    await sleep(windowS * 1000);
    loop.disable();
    const u = process.cpuUsage(u0);
    const wallS = (performance.now() - t0) / 1000;
    const c1 = procCpu(harness.pids());
    const busy1 = machineBusyS();
    const runqueueWaitS = mainThreadRunqueueWaitS() - wait0;
    const m1 = await sampleMetrics();
    let chromiumCpuS = 0;
    for (const [pid, v] of c1) chromiumCpuS += v - (c0.get(pid) ?? v);
    const stats = (await Promise.all(used.map((p) => p.evaluate('window.causeway.stats()')))) as { inboundAudioBytes: number }[];
    const silent = stats.filter((s) => !(s.inboundAudioBytes > 10_000)).length;
    if (silent > 0) throw new Error(`${silent} of ${k} pages got no audio back`);
    return {
      k,
      wallS,
      cpuS: (u.user + u.system) / 1e6,
      audioS: counterDelta(m0, m1, MIC_FRAMES) * 0.02,
      chromiumCpuS,
      ages: ageP99(m0, m1),
      drops: counterDelta(m0, m1, DROPS),
      vadStepsPerS: counterDelta(m0, m1, VAD_STEPS) / (k * wallS),
      othersCpuS: Math.max(0, busy1 - busy0 - (u.user + u.system) / 1e6 - chromiumCpuS),
      settleS,
      runqueueWaitS,
      loopP99Ms: loop.percentile(99) / 1e6,
      loopMaxMs: loop.max / 1e6,
    };
  } finally {
    await Promise.all(used.map((p) => p.evaluate('window.causeway.stop()').catch(() => undefined)));
    await until('sessions closed', 5000, () => server.sessions.size === 0).catch(() => undefined);
  }
}

// ------------------------------------------------------------------------------ server hold

/**
 * How long the server holds the returned audio: for each 20 ms Opus packet the sender will cut
 * from the pipeline's output (960 samples, counted from the first output sample, as
 * RtpAudioSender does), the time from the arrival of the input frame holding the packet's last
 * sample to the moment the pipeline emits that sample. Wraps a pipeline without changing it.
 */
interface HoldProbe {
  on: boolean;
  ms: number[];
}

function withHoldProbe(inner: SessionPipeline, probe: HoldProbe): SessionPipeline {
  return (inputs) => {
    const arrivals: { start: number; end: number; t: number }[] = [];
    const at = (us: number, rate: number) => Math.round((us * rate) / 1e6);
    const audio$ = inputs.audio$.pipe(
      tap((f) => {
        const start = at(f.pts, f.sampleRate);
        arrivals.push({ start, end: start + f.data.length / f.channels, t: performance.now() });
        if (arrivals.length > 400) arrivals.splice(0, 200);
      }),
    );
    const out = inner({ ...inputs, audio$ });
    let next: number | undefined;
    const packet = (rate: number) => Math.round(rate * 0.02);
    return {
      ...out,
      audio$: out.audio$?.pipe(
        tap((f) => {
          const s0 = at(f.pts, f.sampleRate);
          const s1 = s0 + f.data.length / f.channels;
          next ??= s0 + packet(f.sampleRate);
          const now = performance.now();
          for (; next <= s1; next += packet(f.sampleRate)) {
            if (!probe.on) continue;
            const last = next - 1;
            for (let i = arrivals.length - 1; i >= 0; i--) {
              if (arrivals[i].start <= last && last < arrivals[i].end) {
                probe.ms.push(now - arrivals[i].t);
                break;
              }
            }
          }
        }),
      ),
    };
  };
}

// ------------------------------------------------------------------------------ the bench

const f1 = (x: number) => x.toFixed(1);

export async function benchWebrtc(): Promise<BenchRow[]> {
  const tStart = performance.now();
  const dir = makeTempDir('cw-bench-webrtc-');
  const servers: CausewayServer[] = [];
  let harness: BrowserHarness | undefined;
  const priority = getPriority();
  let reniced = false;
  try {
    // Fake microphone of the CPU pages: the demo speech clip, 48 kHz mono, looped by chromium.
    const frames = await lastValueFrom(ffmpegAudioInput(clip, { sampleRate: 48000, channels: 1 }).pipe(toArray()));
    const speech = new Float32Array(frames.reduce((a, f) => a + f.data.length, 0));
    let o = 0;
    for (const f of frames) {
      speech.set(f.data, o);
      o += f.data.length;
    }
    const wav = join(dir, 'speech.wav');
    writeWav(wav, [speech], 48000);

    const start = async (pipeline: SessionPipeline) => {
      const s = await startServer({ port: 0, pipeline, page: EXAMPLE_PAGE });
      servers.push(s);
      return s;
    };
    const holdDef: HoldProbe = { on: false, ms: [] };
    const holdPass: HoldProbe = { on: false, ms: [] };
    const def = await start(withHoldProbe(defaultPipeline(defaultOptions), holdDef));
    const pass = await start(withHoldProbe(passthroughPipeline, holdPass));
    const silent = await start(silencePipeline);
    harness = await launchBrowser({ fakeAudioWav: wav, fakeVideo: false });
    const pages: Page[] = [];
    for (let i = 0; i < 4; i++) pages.push(await harness.page(`${def.url}/`));

    // ---- 0. this process with no session (the server idle, the browser connected over CDP)
    const idle = await (async () => {
      const u0 = process.cpuUsage();
      const t0 = performance.now();
      await sleep(1500);
      const u = process.cpuUsage(u0);
      return (u.user + u.system) / 1e6 / ((performance.now() - t0) / 1000);
    })();

    // ---- 1. latency: rounds of one default and one passthrough session at once (two pages, each
    // its own AudioContext clock), pages swapped every round; the silence control in round 1.
    const cfg = (server: CausewayServer, markers: number): MarkerConfig => ({
      whipUrl: `${server.url}/whip`,
      freqs: [600, 1000, 1500, 2200],
      amp: 0.3,
      burstS: 0.04,
      // Not a multiple of 10/20 ms, so markers fall at every phase of the audio blocks and packets.
      periodS: 0.4033,
      markers,
      leadS: 0.5,
      tailS: 0.6,
    });
    const ROUNDS = 4;
    const MARKERS = 10;
    const latDef: LatencyResult[] = [];
    const latPass: LatencyResult[] = [];
    // Warm-up: the process's first model load (ONNX Runtime's own start-up) blocks the event loop
    // for longer than later ones, and chromium's jitter buffer would keep the delay it saw. One
    // default session first, while the control (server returns silence) runs.
    const [, latCtl] = await Promise.all([
      (async () => {
        await pages[0].evaluate(`window.causeway.start(${JSON.stringify({ whipUrl: `${def.url}/whip` })})`);
        await sleep(1000);
        await pages[0].evaluate('window.causeway.stop()');
      })(),
      measureLatency(pages[2], cfg(silent, 6)),
    ]);
    holdDef.on = holdPass.on = true;
    for (let r = 0; r < ROUNDS; r++) {
      const [pd, pp] = r % 2 === 0 ? [pages[0], pages[1]] : [pages[1], pages[0]];
      const [d, q] = await Promise.all([measureLatency(pd, cfg(def, MARKERS)), measureLatency(pp, cfg(pass, MARKERS))]);
      latDef.push(d);
      latPass.push(q);
    }
    holdDef.on = holdPass.on = false;
    const pooled = (rs: LatencyResult[]) => rs.flatMap((r) => r.ms).sort((a, b) => a - b);
    const msDef = pooled(latDef);
    const msPass = pooled(latPass);
    const considered = (rs: LatencyResult[]) => rs.reduce((a, r) => a + r.considered, 0);
    for (const [what, ms, rs] of [
      ['default', msDef, latDef],
      ['passthrough', msPass, latPass],
    ] as const) {
      if (ms.length < 20) throw new Error(`latency (${what}): only ${ms.length} of ${considered(rs)} markers found in the returned audio`);
    }
    if (latCtl.valid > 0) throw new Error(`latency control: ${latCtl.valid} markers found although the server returned silence`);

    // ---- 2. CPU per session
    // Chromium runs most of its threads at nice -8 and its audio threads SCHED_RR; on a 2-CPU
    // machine four pages of it starve the server (nice 0) in 100-400 ms bursts and the VAD queues
    // drop frames, although the server needs a fraction of a core. The browser is only the test
    // rig (a real server does not share its cores with its clients): for this part chromium's
    // ordinary threads go to nice +10 (allowed for one's own processes) and this process to nice
    // -10 where allowed (root); restored at the end. Realtime threads keep their class.
    try {
      setPriority(-10);
      reniced = true;
    } catch {
      // not allowed: the notes say so
    }
    const browserNiced = deprioritise(harness.pids());
    const WINDOW = 10;
    const cpuDef: CpuResult[] = [];
    for (const k of [1, 2, 4]) cpuDef.push(await measureCpu(harness, pages, def, k, WINDOW, true));
    // Real time held in a window: nothing dropped, every VAD at its rate, all the audio decoded.
    const heldIn = (r: CpuResult) =>
      r.drops === 0 && Math.abs(r.vadStepsPerS - 31.25) < 1.5 && r.audioS >= 0.95 * r.k * r.wallS &&
      [...r.ages.values()].every((a) => a.p99 !== '+Inf' && Number(a.p99) <= 100);
    // The row's figure: the most sessions that held real time (fewer sessions amortise less; a
    // window that fell behind skipped work and would look cheaper than it is).
    const d4 = [...cpuDef].reverse().find(heldIn) ?? cpuDef[0];
    const cpuPass = await measureCpu(harness, pages, pass, d4.k, 5, false);

    for (const p of pages) {
      // The page asks for /favicon.ico, which the server does not have: not an error of the run.
      const errs = harness.errors(p).filter((e) => !/Failed to load resource: .* 404/.test(e));
      if (errs.length > 0) throw new Error(`page errors: ${errs.slice(0, 3).join('; ')}`);
    }

    // ---- rows
    const q = (xs: number[], p: number) => quantile(xs, p);
    const sessionP50s = (rs: LatencyResult[]) => rs.map((r) => f1(quantile(r.ms, 0.5))).join(', ');
    const hd = [...holdDef.ms].sort((a, b) => a - b);
    const hp = [...holdPass.ms].sort((a, b) => a - b);
    const rec = latDef[0].rec;
    const amp = cfg(def, 0).amp;
    const levelDb = (rs: LatencyResult[]) => 20 * Math.log10(rs.reduce((x, r) => x + r.meanPeak * r.valid, 0) / rs.reduce((x, r) => x + r.valid, 0) / amp);
    const minPurity = Math.min(...[...latDef, ...latPass].map((r) => r.minPurityDb));
    const latencyRow: BenchRow = {
      name: 'WebRTC mouth-to-ear, chromium -> server -> chromium (default pipeline vs passthrough)',
      value: `p50 ${f1(q(msDef, 0.5))} ms`,
      baseline: `p50 ${f1(q(msPass, 0.5))} ms`,
      ratio: `${(q(msPass, 0.5) / q(msDef, 0.5)).toFixed(2)}x`,
      bound: declaredBound(),
      notes:
        `In the page, on one AudioContext clock: 40 ms tone bursts every 403 ms cycling 600/1000/1500/2200 Hz sent as the microphone ` +
        `(start({ stream })), onsets (-6 dB) found by the same detector in the sent graph and the returned track, a burst counted only at its own ` +
        `frequency (>= ${f1(minPurity)} dB above the other three). ${ROUNDS} sessions per pipeline (one default and one passthrough at once, pages swapped), ` +
        `${MARKERS} markers each less ${WARMUP_MARKERS} warm-up: ${msDef.length}/${considered(latDef)} found (default), ${msPass.length}/${considered(latPass)} (passthrough). ` +
        `Default p50 ${f1(q(msDef, 0.5))} / p95 ${f1(q(msDef, 0.95))} ms (min ${f1(msDef[0])}, max ${f1(msDef[msDef.length - 1])}); ` +
        `passthrough p50 ${f1(q(msPass, 0.5))} / p95 ${f1(q(msPass, 0.95))} ms (min ${f1(msPass[0])}, max ${f1(msPass[msPass.length - 1])}). ` +
        `Per-session p50s: default ${sessionP50s(latDef)}; passthrough ${sessionP50s(latPass)} ms: chromium's jitter buffer (NetEq) settles at a ` +
        `different delay in each session, which moves the figure by more than the server's share, so compare the pooled figures and the server hold. ` +
        `Server hold of the returned audio per 20 ms packet (input arrival -> pipeline output, measured in the server): default p50 ${f1(q(hd, 0.5))} / p95 ${f1(q(hd, 0.95))} / ` +
        `max ${f1(hd[hd.length - 1] ?? NaN)} ms (binaural HRTF renderer, 128-sample blocks: its own latency is 2.7 ms, but a 20 ms packet still leaves with the next input packet), ` +
        `passthrough p50 ${f1(q(hp, 0.5))} / max ${f1(hp[hp.length - 1] ?? NaN)} ms. ` +
        `Control (server returns silence): ${latCtl.valid}/${latCtl.considered} markers found: nothing reaches the recorder but the server's audio. ` +
        `Includes: WebAudio -> MediaStream track, chromium Opus encode, loopback UDP/DTLS-SRTP, werift, server Opus decode, pipeline, Opus encode, ` +
        `chromium NetEq + decode, remote track -> WebAudio; excludes sound-card buffers (this AudioContext: baseLatency ${f1(rec.baseLatencyMs)} ms, ` +
        `outputLatency ${f1(rec.outputLatencyMs)} ms) and the air. Codec ${rec.codec ?? '?'}, inbound jitter ${rec.jitterMs === null ? '?' : f1(rec.jitterMs)} ms, ` +
        `${rec.lost} lost; returned bursts at ${f1(levelDb(latDef))} dB (default) and ${f1(levelDb(latPass))} dB (passthrough) re the sent ones; ` +
        `recorded bursts vs schedule <= ${f1(Math.max(...latDef.map((r) => r.schedErrMs)))} ms.`,
    };

    const perSession = (r: CpuResult) => r.cpuS / (r.k * r.wallS); // CPU s per session per s of wall
    const marginal = (r: CpuResult) => (r.cpuS / r.wallS - idle) / r.k;
    const perAudio = (r: CpuResult) => r.cpuS / r.audioS;
    const fmtAges = (r: CpuResult) =>
      ['webrtc-audio-in', 'resample', 'vad', 'stft', 'istft']
        .filter((op) => r.ages.has(op))
        .map((op) => `${op} <= ${r.ages.get(op)!.p99} ms (n=${r.ages.get(op)!.n})`)
        .join(', ');
    const held = cpuDef.map(heldIn);
    const ms0 = (x: number) => (x * 1000).toFixed(0);
    const cpuRow: BenchRow = {
      name: `WebRTC server CPU per session, ${d4.k} at once (default pipeline vs passthrough)`,
      value: `${ms0(perSession(d4))} ms/s (${(1 / perSession(d4)).toFixed(1)} per core)${heldIn(d4) ? '' : ' NOT real time'}`,
      baseline: `${ms0(perSession(cpuPass))} ms/s (${(1 / perSession(cpuPass)).toFixed(1)} per core)`,
      ratio: `${(perSession(cpuPass) / perSession(d4)).toFixed(2)}x`,
      bound: '',
      notes:
        `CPU time of this process (process.cpuUsage; it runs the server, chromium runs in its own processes) per session per second of wall time; ` +
        `"per core" = sessions one core sustains in real time = 1 / that. Each session a separate page of one chromium whose fake microphone plays ` +
        `the demo speech clip (looped). Default pipeline (Silero VAD + command-recogniser captions on CPU + binaural HRTF return in stereo), measured: ` +
        cpuDef
          .map(
            (r) =>
              `K=${r.k}: ${f1(r.cpuS)} CPU s in ${f1(r.wallS)} s = ${ms0(perSession(r))} ms/s per session ` +
              `(${ms0(perAudio(r))} ms per s of audio, ${f1(r.audioS)} s decoded; less the idle process ${ms0(marginal(r))} ms/s)`,
          )
          .join('; ') +
        `. Passthrough K=${cpuPass.k} (WebRTC transport + Opus decode/encode only, as many sessions as the row's figure): ${ms0(perSession(cpuPass))} ms/s per session ` +
        `(less idle ${ms0(marginal(cpuPass))}). Idle process (no session) ${ms0(idle)} ms/s. ` +
        `Real time held (no drop, VAD at 31.25 steps/s, all audio decoded, frame-age p99 <= 100 ms) at K=${cpuDef.map((r) => r.k).join('/')}: ` +
        `${held.map((h) => (h ? 'yes' : 'NO')).join('/')}; the row's figure is K=${d4.k}${heldIn(d4) ? ', the most sessions that held' : ', none held'} (window started ${cpuDef.map((r) => f1(r.settleS)).join('/')} s after connecting, once the VADs ran at rate): ` +
        `frames dropped ${cpuDef.map((r) => r.drops).join('/')} (K=${cpuDef.map((r) => r.k).join('/')}); ` +
        `Silero steps per session ${cpuDef.map((r) => f1(r.vadStepsPerS)).join('/')}/s (real time 31.25/s); ` +
        `frame age p99 (histogram bucket bound, vad only at its events) at K=${d4.k}: ${fmtAges(d4)}; ` +
        `server main thread starved (runnable, waiting for a CPU) ${cpuDef.map((r) => f1(r.runqueueWaitS)).join('/')} s of each window; ` +
        `event-loop delay p99 ${cpuDef.map((r) => f1(r.loopP99Ms)).join('/')} ms, max ${cpuDef.map((r) => f1(r.loopMaxMs)).join('/')} ms. ` +
        `Priorities for this part: chromium's ordinary threads ${browserNiced > 0 ? `at nice +10 (${browserNiced} threads; its audio threads stay SCHED_RR)` : 'left at nice -8 (renice refused)'}, ` +
        `the server ${reniced ? 'at nice -10' : 'at its default nice (raising it needs root)'}; in trial runs at default priorities, K=4 dropped VAD frames here. ` +
        `Chromium used ${cpuDef.map((r) => f1(r.chromiumCpuS / r.wallS)).join('/')} CPUs meanwhile on this ${availableParallelism()}-CPU machine: ` +
        `it competes with the server for cores, so the sessions-per-core figure assumes a core of its own; the measured CPU seconds are the figure to trust. ` +
        `Other processes used ${cpuDef.map((r) => f1(r.othersCpuS / r.wallS)).join('/')} CPUs in the windows${
          cpuDef.some((r) => r.othersCpuS / r.wallS > 0.3) ? ' (another job was running: the figures are skewed)' : ''
        }. ` +
        `Whole WebRTC bench ${f1((performance.now() - tStart) / 1000)} s.`,
    };
    return [latencyRow, cpuRow];
  } finally {
    if (reniced) setPriority(priority);
    // chromium is closed below: its priority needs no restoring
    await harness?.close().catch(() => undefined);
    for (const s of servers) await s.close().catch(() => undefined);
    removeDir(dir);
  }
}

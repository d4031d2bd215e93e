/**
 * Live captions from the default pipeline: a werift client (test/webrtc/fake-client.ts) sends
 * espeak-ng speech as paced Opus RTP to the real server; the pipeline's `asr` (engine 'conformer')
 * runs on the same mono 16 kHz stream as the VAD, and its partial/final events come back on the
 * data channel and on /events.
 *
 * The model here is the tiny random-weight one in the NeMo contract (models/tiny-cache-aware),
 * chosen with the pipeline's `asrModel` option: its texts mean nothing, but the properties of
 * caption events do not depend on the model. It outputs blanks on loud broadband noise (not on
 * silence), so the utterances are separated by noise: each gap ends one with a final.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { OpusEncoder } from '../../media/webrtc/index.js';
import { resampleOffline } from '../../kernels/resample.js';
import { metricValue, sharedMetrics } from '../../core/metrics.js';
import { loadedModelCount } from '../../core/onnx/shared-models.js';
import { startServer, type CausewayServer } from '../../src/server/http-server.js';
import { defaultPipeline } from '../../src/server/session-pipeline.js';
import { speechFixture } from '../fixtures-speech.js';
import { rng } from '../helpers-random.js';
import { FakeClient, waitFor } from '../webrtc/fake-client.js';

const TINY = fileURLToPath(new URL('../../../models/tiny-cache-aware/step.onnx', import.meta.url));

interface Caption {
  type: 'partial' | 'final';
  text: string;
  startUs: number;
  endUs: number;
  wallMs: number;
}

const isCaption = (e: { type: string }): e is Caption => e.type === 'partial' || e.type === 'final';

/** 48 kHz: [noise, words, noise, words, ...]; utterances `words`, gaps of `gapS` of white noise at +-0.1. */
function speechWithNoiseGaps(utterances: string[], gapS: number): { x: Float32Array; spans: { start: number; end: number }[] } {
  const fx = speechFixture(utterances.flatMap((u) => [gapS, u]).concat([gapS]), 16000);
  const x = resampleOffline(fx.samples, { fromRate: 16000, toRate: 48000 });
  const rand = rng(7);
  const inSpeech = (t: number) => fx.spans.some((s) => t >= s.start && t < s.end);
  for (let i = 0; i < x.length; i++) if (!inSpeech(i / 48000)) x[i] = 0.2 * (rand() - 0.5);
  return { x, spans: fx.spans };
}

/** Checks the caption properties over one channel's events, in order; returns the finals. */
function checkCaptions(events: Caption[], where: string): Caption[] {
  const finals: Caption[] = [];
  let open: Caption[] = [];
  let lastEnd = -Infinity;
  for (const e of events) {
    const what = `${where}: ${JSON.stringify(e)}`;
    assert.equal(typeof e.text, 'string', what);
    assert.ok(Number.isInteger(e.startUs) && Number.isInteger(e.endUs) && e.startUs <= e.endUs, `times: ${what}`);
    assert.ok(typeof e.wallMs === 'number' && e.wallMs > 0, `wallMs: ${what}`);
    assert.ok(e.startUs >= lastEnd, `an utterance starts after the previous final ended (${lastEnd}): ${what}`);
    if (e.type === 'partial') {
      const prev = open[open.length - 1];
      if (prev) {
        assert.ok(e.text.startsWith(prev.text), `partial '${e.text}' does not extend '${prev.text}' (${where})`);
        assert.equal(e.startUs, prev.startUs, `a partial keeps its utterance's start: ${what}`);
        assert.ok(e.endUs >= prev.endUs, `partial ends move forward: ${what}`);
      }
      open.push(e);
    } else {
      const last = open[open.length - 1];
      assert.ok(last !== undefined, `a final comes after partials: ${what}`);
      assert.equal(e.text, last.text, `a final says what the last partial said (${where})`);
      assert.equal(e.startUs, open[0].startUs, `a final starts where its partials did: ${what}`);
      assert.ok(e.endUs > e.startUs, what);
      finals.push(e);
      lastEnd = e.endUs;
      open = [];
    }
  }
  return finals;
}

describe('server captions: the model', function () {
  this.timeout(30_000);

  it('loads the captions model once at start beside the VAD; a missing model fails the start, clearly, with nothing left loaded', async () => {
    const base = loadedModelCount();
    const s = await startServer({ port: 0, pipeline: defaultPipeline({ device: 'cpu', asrModel: TINY }) });
    assert.equal(loadedModelCount(), base + 2, 'Silero VAD and the asr model');
    await s.close();
    assert.equal(loadedModelCount(), base);

    const missing = '/nonexistent/causeway/step.onnx';
    await assert.rejects(startServer({ port: 0, pipeline: defaultPipeline({ device: 'cpu', asrModel: missing }) }), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'model-not-found');
      assert.match(e.message, /captions \(asr\) model \/nonexistent\/causeway\/step\.onnx: missing .*step\.onnx.*tokens\.txt/);
      return true;
    });
    assert.equal(loadedModelCount(), base);
  });
});

describe('server captions: asr partial/final events on the data channel and /events', function () {
  this.timeout(60_000);
  let server: CausewayServer;
  const clients: FakeClient[] = [];

  before(async () => {
    server = await startServer({ port: 0, pipeline: defaultPipeline({ device: 'cpu', asrModel: TINY }) });
  });
  after(async () => {
    for (const c of clients) await c.close();
    await server?.close();
  });

  it('captions arrive on both channels with monotone times, partials only growing, each final equal to the last partial; one resampler feeds VAD and ASR', async () => {
    const utterances = ['lights on', 'volume up', 'stop'];
    const { x, spans } = speechWithNoiseGaps(utterances, 1.0);
    const enc = new OpusEncoder(48000, 1);
    const packets = enc.encode(x);
    enc.dispose();

    const c = await FakeClient.create();
    clients.push(c);
    const r = await fetch(`${server.url}/whip`, { method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: c.offer });
    assert.equal(r.status, 201);
    const id = r.headers.get('location')!.split('/').pop()!;
    await c.accept(await r.text());
    const ws = new WebSocket(`${server.url.replace('http', 'ws')}/events/${id}`);
    const wsEvents: { type: string }[] = [];
    ws.on('message', (d) => wsEvents.push(JSON.parse(String(d))));
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));

    const session = server.sessions.get(id)!;
    let firstPts: number | undefined;
    let lastEndPts = 0;
    const sub = session.peer.audio$.subscribe((f) => {
      firstPts ??= f.pts;
      lastEndPts = f.pts + Math.round((f.data.length / f.channels / f.sampleRate) * 1e6);
    });
    const counters = async () => {
      const m = sharedMetrics;
      const [mono, resampleIn, resampleOut, vadIn, asrIn, asrDrops, vadDrops] = await Promise.all([
        metricValue(m.framesOut, { operator: 'toMono' }),
        metricValue(m.framesIn, { operator: 'resample' }),
        metricValue(m.framesOut, { operator: 'resample' }),
        metricValue(m.framesIn, { operator: 'vad' }),
        metricValue(m.framesIn, { operator: 'asr' }),
        metricValue(m.drops, { operator: 'asr', policy: 'drop-oldest' }),
        metricValue(m.drops, { operator: 'vad', policy: 'drop-oldest' }),
      ]);
      return { mono, resampleIn, resampleOut, vadIn, asrIn, asrDrops, vadDrops };
    };
    const before = await counters();

    // Real-time pacing (20 ms a packet), as a browser sends.
    await c.sendTone(packets, packets.map((_, i) => i), 1000, 5000, 20);
    const dcCaptions = () => c.messages.map((s) => JSON.parse(s) as { type: string }).filter(isCaption);
    // The last utterance's final comes once the noise after it has been heard for the endpoint time.
    const lastStartUs = () => firstPts! + spans[spans.length - 1].start * 1e6;
    await waitFor(() => dcCaptions().some((e) => e.type === 'final' && e.endUs > lastStartUs()), 10_000, 'the final of the last utterance on the data channel');
    await waitFor(() => wsEvents.filter(isCaption).length === dcCaptions().length, 3000, '/events to catch up');
    sub.unsubscribe();
    ws.close();
    const after = await counters();

    const dc = dcCaptions();
    const finals = checkCaptions(dc, 'data channel');
    assert.deepEqual(wsEvents.filter(isCaption), dc, '/events carries the same caption events, in the same order');
    assert.ok(finals.length >= utterances.length, `a final per utterance at least: ${JSON.stringify(finals)}`);
    assert.ok(dc.some((e) => e.type === 'partial' && e.text !== ''), 'partials with text');
    // Captions live on the session's audio timeline, like the VAD events; each final covers
    // (part of) its utterance: the noise gaps are blank to this model.
    for (const e of dc) assert.ok(e.startUs >= firstPts! && e.endUs <= lastEndPts, `${JSON.stringify(e)} within the audio [${firstPts}, ${lastEndPts}]`);
    // Each utterance is closed by a final that starts in it (this model may also emit a token at the very start).
    const slackUs = 200_000; // Opus and resampler delays, and a random model's token timing
    for (const s of spans) {
      const inIt = finals.filter((f) => f.startUs >= firstPts! + s.start * 1e6 - slackUs && f.startUs < firstPts! + s.end * 1e6);
      assert.equal(inIt.length, 1, `one final starts in the utterance at ${s.start.toFixed(2)}-${s.end.toFixed(2)} s: ${JSON.stringify(finals)}`);
    }
    const vadTypes = c.messages.map((s) => (JSON.parse(s) as { type: string }).type).filter((t) => t.startsWith('speech-'));
    assert.ok(vadTypes.includes('speech-end'), `VAD events still arrive beside the captions: ${vadTypes.join(',')}`);

    // One resampler per session: every mono frame is resampled once, and VAD and ASR both get every 16 kHz frame.
    const d = Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - before[k as keyof typeof before]]));
    assert.ok(d.mono >= packets.length - 2, `mono frames ${d.mono} for ${packets.length} packets`);
    assert.equal(d.resampleIn, d.mono, 'the resampler runs once per mono frame, not once per consumer');
    assert.equal(d.vadIn, d.resampleOut);
    assert.equal(d.asrIn, d.resampleOut);
    assert.equal(d.asrDrops + d.vadDrops, 0, 'real time held: nothing dropped');
    await c.close();
    await waitFor(() => server.sessions.size === 0, 8000, 'session closed');
  });
});

/**
 * Warm-up: a server loads its pipeline's models before the first session, through the same code
 * the operators open them with, so a session only ever shares what is loaded (a load blocks the
 * event loop for every other session). Counted, not timed: model loads and leases in the process.
 * A warm-up that drifts from what the session opens (another batch setting) is caught the same way.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { asr } from '../../operators/asr/index.js';
import { binaural } from '../../operators/binaural.js';
import { toMono } from '../../operators/to-mono.js';
import { preloadVad, vad } from '../../operators/vad.js';
import { resample } from '../../operators/resample.js';
import { modelLoadCounts } from '../../core/onnx/shared-models.js';
import { startServer, type CausewayServer } from '../../src/server/http-server.js';
import { generatePipeline } from '../../src/server/generate-pipeline.js';
import { defaultPipeline, type SessionPipeline } from '../../src/server/session-pipeline.js';
import { FakeClient } from '../webrtc/fake-client.js';
import { until } from '../wait.js';

const TINY = fileURLToPath(new URL('../../../models/tiny-cache-aware/step.onnx', import.meta.url));

describe('server warm-up: sessions load no model', function () {
  this.timeout(60_000);
  let server: CausewayServer | undefined;
  let client: FakeClient | undefined;

  afterEach(async () => {
    await client?.close();
    await server?.close();
    client = server = undefined;
  });

  /** Starts a session; resolves once its pipeline has taken `leases` model leases. */
  async function session(leases: number): Promise<void> {
    const before = modelLoadCounts().acquisitions;
    client = await FakeClient.create();
    const r = await fetch(`${server!.url}/whip`, { method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: client.offer });
    assert.equal(r.status, 201);
    await client.accept(await r.text());
    await until(`the session's ${leases} model lease(s)`, 30_000, () => modelLoadCounts().acquisitions >= before + leases, () => JSON.stringify(modelLoadCounts()));
  }

  it('the default pipeline (VAD, captions, neural binaural return): every model a session opens was loaded at start', async () => {
    server = await startServer({ port: 0, pipeline: defaultPipeline({ device: 'cpu', asrModel: TINY, binauralEngine: 'neural' }) });
    const loaded = modelLoadCounts().loads;
    await session(3);
    assert.equal(modelLoadCounts().loads, loaded, 'no model loaded inside the session');
    // The session's first event: the latency its outputs declare, composed from the operators'.
    await until('the pipeline event', 10_000, () => client!.messages.length > 0);
    const declared = JSON.parse(client!.messages[0]!) as { type: string; name: string; latencyMs: { events: number; audio: number } };
    const events = resample({ toRate: 16000, fromRate: 48000 }).info.latencyUs + Math.max(vad({ device: 'cpu' }).info.latencyUs, asr({ engine: 'conformer', model: TINY }).info.latencyUs);
    const audio = binaural({ engine: 'neural', sampleRate: 48000 }).info.latencyUs;
    assert.deepEqual(declared, { type: 'pipeline', name: 'default', latencyMs: { events: Math.round(events / 10) / 100, audio: Math.round(audio / 10) / 100 } });
    const metrics = await (await fetch(`${server!.url}/metrics`)).text();
    const shown = /causeway_pipeline_latency_ms\{pipeline="default",output="audio"\} ([\d.]+)/.exec(metrics)?.[1];
    assert.ok(shown !== undefined && Math.abs(Number(shown) - audio / 1000) < 1e-3, `metric ${shown} vs ${audio / 1000}`);
  });

  it('the generate pipeline: the video-world step and re-cache graphs loaded at start', async () => {
    const video = fileURLToPath(new URL('../../../models/video-world/tiny/step.onnx', import.meta.url));
    server = await startServer({ port: 0, pipeline: generatePipeline({ model: video, device: 'cpu' }) });
    const loaded = modelLoadCounts().loads;
    await session(1);
    client!.dc!.send(JSON.stringify({ type: 'scene', scene: 'dots' }));
    // The re-cache takes the offline graph's lease: shared too.
    const leases = modelLoadCounts().acquisitions;
    await until('the re-cache lease', 30_000, () => modelLoadCounts().acquisitions > leases);
    assert.equal(modelLoadCounts().loads, loaded, 'no model loaded inside the session');
  });

  it('a warm-up that drifts from what the session opens is caught: the session loads its own', async () => {
    const drifted: SessionPipeline = Object.assign(
      ({ audio$ }: Parameters<SessionPipeline>[0]) => ({ events$: audio$.pipe(toMono(), resample({ toRate: 16000 }), vad({ device: 'cpu' })) }),
      // Warmed with another batch setting: another cache entry than the session's.
      { warm: () => preloadVad({ device: 'cpu', batch: { maxBatch: 1 } }) },
    );
    server = await startServer({ port: 0, pipeline: drifted });
    const loaded = modelLoadCounts().loads;
    await session(1);
    assert.equal(modelLoadCounts().loads, loaded + 1);
  });
});

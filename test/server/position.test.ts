/**
 * The binaural return of the default pipeline, driven by `position` messages on the data channel:
 * a werift client (test/webrtc/fake-client.ts) that offers stereo sends white noise as Opus RTP
 * and position messages; the audio that comes back, decoded as stereo, is louder in the ear the
 * voice was moved to. Malformed position messages get an error reply, change nothing, and the
 * session goes on. Also: the message's checks and clamps (core/position.ts) on their own.
 */
import assert from 'node:assert/strict';
import { until } from '../wait.js';
import { fileURLToPath } from 'node:url';
import { OpusDecoder, OpusEncoder } from '../../media/webrtc/index.js';
import { startServer, type CausewayServer } from '../../src/server/http-server.js';
import { normalizePosition } from '../../core/position.js';
import { defaultPipeline } from '../../src/server/session-pipeline.js';
import { rng } from '../helpers-random.js';
import { FakeClient, waitFor } from '../webrtc/fake-client.js';

// The captions model does not matter here: the tiny random-weight one loads fastest.
const TINY = fileURLToPath(new URL('../../../models/tiny-cache-aware/step.onnx', import.meta.url));

/** Left over right energy of interleaved stereo, dB. */
function ildDb(x: Float32Array): number {
  let l = 1e-12;
  let r = 1e-12;
  for (let i = 0; i < x.length; i += 2) {
    l += x[i] * x[i];
    r += x[i + 1] * x[i + 1];
  }
  return 10 * Math.log10(l / r);
}

describe('position messages: parsing', () => {
  it('accepts partial updates, wraps azimuth into [0, 360), clamps elevation to [-90, 90] and distance to [0.25, 10] m', () => {
    assert.deepEqual(normalizePosition({ type: 'position', azimuth: 90 }), { position: { azimuth: 90 } });
    assert.deepEqual(normalizePosition({ type: 'position', azimuth: -90, elevation: 120, distance: 0.01 }), { position: { azimuth: 270, elevation: 90, distance: 0.25 } });
    assert.deepEqual(normalizePosition({ type: 'position', azimuth: 720, elevation: -100, distance: 50, extra: 'ignored' }), { position: { azimuth: 0, elevation: -90, distance: 10 } });
  });
  it('refuses non-numbers and a message without any of the three fields', () => {
    for (const bad of [{ azimuth: 'left' }, { azimuth: null }, { elevation: [10] }, { distance: '1' }, {}, { azimuth: 90, distance: {} }]) {
      const r = normalizePosition({ type: 'position', ...bad });
      assert.ok('error' in r, JSON.stringify(bad));
      assert.match(r.error, /^position: /);
    }
  });
});

describe('position messages move the binaural return (default pipeline, werift client)', function () {
  this.timeout(60_000);
  let server: CausewayServer;
  let client: FakeClient;
  const rand = rng(5);
  const enc = new OpusEncoder(48000, 1);
  let seq = 0;

  before(async () => {
    server = await startServer({ port: 0, pipeline: defaultPipeline({ device: 'cpu', asrModel: TINY }) });
    client = await FakeClient.create({ stereo: true });
    const r = await fetch(`${server.url}/whip`, { method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: client.offer });
    assert.equal(r.status, 201);
    const answer = await r.text();
    assert.match(answer, /a=fmtp:111 [^\r\n]*sprop-stereo=1/, 'the answer says the server sends stereo');
    await client.accept(answer);
  });
  after(async () => {
    enc.dispose();
    await client?.close();
    await server?.close();
  });

  /** Sends `packets` 20 ms packets of white noise (continuing the RTP stream); returns the stereo audio they came back as, minus the first 10 (the glide and the codec settling). */
  async function noiseRoundTrip(packets: number): Promise<Float32Array> {
    const x = new Float32Array(960 * packets);
    for (let i = 0; i < x.length; i++) x[i] = 0.3 * (2 * rand() - 1);
    const payloads = enc.encode(x);
    const before = client.received.length;
    await client.sendTone(payloads, [...payloads.keys()], seq, seq * 960, 8);
    seq += payloads.length;
    await waitFor(() => client.received.length >= before + payloads.length - 1, 5000, 'the noise back');
    const dec = new OpusDecoder(48000, 2);
    const pcm = client.received.slice(before).map((p) => dec.decode(p.payload));
    dec.dispose();
    const kept = pcm.slice(10);
    const out = new Float32Array(kept.reduce((n, a) => n + a.length, 0));
    kept.reduce((o, a) => (out.set(a, o), o + a.length), 0);
    return out;
  }

  /** Messages the server's peers have taken (valid or not). */
  const taken = () => [...server.sessions.values()].reduce((n, s) => n + s.peer.stats().messagesIn + s.peer.stats().messagesInvalid, 0);
  const position = async (msg: object) => {
    const n = taken();
    client.dc!.send(JSON.stringify({ type: 'position', ...msg }));
    // The message and the audio travel apart: wait until the server has it before sending audio.
    await until('the server took the message', 10_000, () => taken() > n);
  };

  it('az 90 puts the voice in the left ear, az 270 in the right; a malformed message is answered with an error and changes nothing', async () => {
    const front = ildDb(await noiseRoundTrip(30));
    await position({ azimuth: 90, distance: 1 });
    const left = ildDb(await noiseRoundTrip(30));
    const errorsBefore = client.messages.filter((m) => JSON.parse(m).type === 'error').length;
    for (const bad of [{ azimuth: 'right' }, {}, { azimuth: 270, distance: 'near' }]) await position(bad);
    client.dc!.send('{"type":"position","azimuth":27'); // not JSON at all
    await waitFor(() => client.messages.filter((m) => JSON.parse(m).type === 'error').length >= errorsBefore + 4, 10_000, 'four error replies');
    const errors = client.messages.map((m) => JSON.parse(m)).filter((e) => e.type === 'error').slice(errorsBefore);
    assert.match(errors[0].message, /position: azimuth must be a finite number, got "right"/);
    assert.match(errors[1].message, /position: give at least one of azimuth/);
    assert.match(errors[2].message, /position: distance must be a finite number/);
    assert.match(errors[3].message, /not JSON/);
    const stillLeft = ildDb(await noiseRoundTrip(30));
    await position({ azimuth: -90 }); // wrapped: 270, the right
    const right = ildDb(await noiseRoundTrip(30));
    console.log(`      ILD (left/right) of the returned noise: front ${front.toFixed(1)} dB, az 90 ${left.toFixed(1)} dB, after the malformed ones ${stillLeft.toFixed(1)} dB, az 270 ${right.toFixed(1)} dB`);
    // Measured: 12.5 dB at ±90° (KEMAR, white noise, through stereo Opus), 0.0 dB in front; bounds with margin.
    assert.ok(Math.abs(front) < 3, `in front: ILD ${front.toFixed(1)} dB, within ±3`);
    assert.ok(left > 8, `az 90: left louder by ${left.toFixed(1)} dB (> 8)`);
    assert.ok(Math.abs(stillLeft - left) < 1.5, `the malformed messages changed nothing: ${left.toFixed(1)} -> ${stillLeft.toFixed(1)} dB`);
    assert.ok(right < -8, `az 270: right louder by ${(-right).toFixed(1)} dB (> 8)`);
    assert.equal(server.sessions.size, 1, 'the session goes on');
  });
});

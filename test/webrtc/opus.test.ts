import assert from 'node:assert/strict';
import { isCausewayError } from '../../core/errors.js';
import { OPUS_FRAME_SAMPLES, OpusDecoder, OpusEncoder, opusPacketSamples } from '../../media/webrtc/index.js';
import { rng } from '../helpers-random.js';
import { channel, rms, sine, toneFit } from './tone.js';

/** libopus's algorithmic delay at 48 kHz for the AUDIO application: 2.5 ms + 4 ms lookahead. */
const CODEC_DELAY = 312;

function decodeAll(dec: OpusDecoder, packets: Uint8Array[]): Float32Array {
  const parts = packets.map((p) => dec.decode(p));
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** SNR (dB) of `out` against `ref` delayed by `lag`, over [from, to) of ref. */
function snrDb(ref: Float32Array, out: Float32Array, lag: number, from: number, to: number): number {
  let e = 0;
  let r = 0;
  for (let i = from; i < to; i++) {
    e += (out[i + lag] - ref[i]) ** 2;
    r += ref[i] ** 2;
  }
  return 10 * Math.log10(r / e);
}

function assertCode(fn: () => unknown, code: string): void {
  assert.throws(fn, (e: unknown) => isCausewayError(e) && e.code === code && !/\n/.test(e.message));
}

describe('media/webrtc opus', () => {
  it('round-trips a 440 Hz tone: 20 ms packets, 960-sample frames, SNR >= 30 dB after the codec delay', () => {
    const enc = new OpusEncoder(48000, 1);
    const dec = new OpusDecoder(48000, 1);
    const ref = sine(440, 0, 48000);
    const packets = enc.encode(ref);
    assert.equal(packets.length, 50, 'one packet per complete 20 ms');
    assert.equal(enc.buffered, 0);
    for (const p of packets) {
      assert.equal(opusPacketSamples(p), OPUS_FRAME_SAMPLES);
      assert.ok(p.byteLength > 10 && p.byteLength < 400, `packet size ${p.byteLength}`);
    }
    const out = decodeAll(dec, packets);
    assert.equal(out.length, 48000);
    // The tone's period (109 samples) makes lags a period apart look alike: search one period around the known delay.
    let best = -Infinity;
    let lag = 0;
    for (let l = CODEC_DELAY - 54; l <= CODEC_DELAY + 54; l++) {
      let s = 0;
      for (let i = 4800; i < 40000; i++) s += out[i + l] * ref[i];
      if (s > best) [best, lag] = [s, l];
    }
    assert.ok(Math.abs(lag - CODEC_DELAY) <= 2, `delay ${lag}, expected ~${CODEC_DELAY}`);
    const snr = snrDb(ref, out, lag, 4800, 40000);
    assert.ok(snr >= 30, `SNR ${snr.toFixed(1)} dB`);
    assert.ok(toneFit(out.subarray(4800), 440) > 0.999);
    enc.dispose();
    dec.dispose();
  });

  it('gives the same packets for any chunking of the input, keeping the remainder buffered', () => {
    const ref = sine(440, 0, 48000 / 2);
    const whole = new OpusEncoder(48000, 1);
    const expected = whole.encode(ref);
    const rand = rng(7);
    const chunked = new OpusEncoder(48000, 1);
    const got: Uint8Array[] = [];
    for (let at = 0; at < ref.length; ) {
      const n = Math.min(ref.length - at, 1 + Math.floor(rand() * 1500));
      got.push(...chunked.encode(ref.subarray(at, at + n)));
      at += n;
    }
    assert.equal(got.length, expected.length);
    got.forEach((p, i) => assert.deepEqual(p, expected[i], `packet ${i}`));
    assert.deepEqual(new OpusEncoder(48000, 1).encode(new Float32Array(1000)).length, 1);
    whole.dispose();
    chunked.dispose();
  });

  it('keeps stereo channels apart, with many coders alive at once', () => {
    // Several stereo coders side by side is what corrupted memory through opusscript's own wrapper.
    const pairs = Array.from({ length: 8 }, () => ({ enc: new OpusEncoder(48000, 2, { bitrate: 96000 }), dec: new OpusDecoder(48000, 2), out: [] as Float32Array[] }));
    const n = 9600;
    const l = sine(440, 0, n);
    const r = sine(660, 0, n);
    const inter = new Float32Array(2 * n);
    for (let i = 0; i < n; i++) [inter[2 * i], inter[2 * i + 1]] = [l[i], r[i]];
    for (let at = 0; at < inter.length; at += 1920) {
      for (const p of pairs) for (const pkt of p.enc.encode(inter.subarray(at, at + 1920))) p.out.push(p.dec.decode(pkt));
    }
    for (const p of pairs) {
      const out = new Float32Array(2 * n);
      p.out.forEach((f, i) => out.set(f, i * f.length));
      const outL = channel(out, 2, 0).subarray(960);
      const outR = channel(out, 2, 1).subarray(960);
      assert.ok(toneFit(outL, 440) > 0.99 && toneFit(outL, 660) < 0.01, `L ${toneFit(outL, 440)}`);
      assert.ok(toneFit(outR, 660) > 0.99 && toneFit(outR, 440) < 0.01, `R ${toneFit(outR, 660)}`);
      p.enc.dispose();
      p.dec.dispose();
    }
  });

  it('conceals a lost packet with audio that continues the tone, and silence before any packet', () => {
    const dec = new OpusDecoder(48000, 1);
    assert.deepEqual(dec.decodeLoss(960), new Float32Array(960), 'nothing to extrapolate yet');
    const enc = new OpusEncoder(48000, 1);
    const packets = enc.encode(sine(440, 0, 960 * 20));
    for (const p of packets.slice(0, 10)) dec.decode(p);
    const plc = dec.decodeLoss(960);
    assert.equal(plc.length, 960);
    assert.ok(rms(plc) > 0.2, `concealment keeps the level (rms ${rms(plc).toFixed(3)}, tone 0.354)`);
    assert.ok(toneFit(plc, 440) > 0.9, `concealment is the tone (${toneFit(plc, 440).toFixed(3)})`);
    assert.equal(dec.decodeLoss(480).length, 480, 'any length');
    assert.equal(dec.decodeLoss(2000).length, 2000, 'longer than one packet');
    // Decoding resumes normally after the loss.
    const after = dec.decode(packets[12]);
    assert.equal(after.length, 960);
    dec.dispose();
    enc.dispose();
  });

  it('rejects bad configuration, corrupt packets and use after dispose with typed errors', () => {
    assertCode(() => new OpusDecoder(44100 as 48000, 1), 'invalid-argument');
    assertCode(() => new OpusEncoder(48000, 3 as 1), 'invalid-argument');
    assertCode(() => new OpusEncoder(48000, 1, { bitrate: 100 }), 'invalid-argument');
    const dec = new OpusDecoder(48000, 1);
    assertCode(() => dec.decode(new Uint8Array(0)), 'invalid-frame');
    assertCode(() => dec.decode(Uint8Array.from([0xff, 0xff, 0xff, 0xff])), 'invalid-frame');
    assertCode(() => dec.decodeLoss(0), 'invalid-argument');
    dec.dispose();
    dec.dispose();
    assertCode(() => dec.decode(Uint8Array.from([0xf8, 1, 2])), 'disposed');
    const enc = new OpusEncoder(48000, 2);
    assertCode(() => enc.encode(new Float32Array(3)), 'invalid-frame');
    enc.dispose();
    assertCode(() => enc.encode(new Float32Array(2)), 'disposed');
  });
});

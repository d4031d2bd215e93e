// The ways a command reaches the recogniser that a clean TTS file does not show: another vocal
// tract and tempo (speed perturbation), a room, a microphone's colour, noise of many kinds, level
// changes and clipping, and half the time the browser's path (48 kHz capture, slow gain control,
// Opus at a WebRTC bitrate, our 48 -> 16 kHz resampler, as the server runs it).
import { PartitionedConvolver, resampleOffline } from '../../dist/kernels/index.js';
import { OpusDecoder, OpusEncoder } from '../../dist/media/webrtc/opus.js';

/** A seeded LCG: the data set is a function of the seed. */
export function makeRng(seed) {
  let s = seed >>> 0 || 1;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296;
}

const logUniform = (rand, a, b) => a * (b / a) ** rand();

function resample(x, fromRate, toRate) {
  return fromRate === toRate ? x : resampleOffline(x, { fromRate, toRate });
}

/** Full-length convolution with a synthetic room response (every tap: no decimation). */
function room(x, rate, rand) {
  const rt60 = 0.1 + rand() * 0.7;
  const len = Math.floor(rt60 * rate);
  const h = new Float32Array(len);
  const reverb = logUniform(rand, 0.05, 0.6);
  for (let i = 1; i < len; i++) h[i] = (rand() * 2 - 1) * reverb * Math.exp((-6.9 * i) / len);
  h[0] = 1;
  // A few early reflections (walls, desk) 2-20 ms after the direct sound.
  for (let k = 0; k < 4; k++) h[Math.floor((0.002 + rand() * 0.018) * rate)] += (rand() * 2 - 1) * 0.6;
  const block = 512;
  const conv = new PartitionedConvolver(h, block);
  const y = new Float32Array(x.length + block);
  y.set(conv.push(x), 0);
  y.set(conv.push(new Float32Array(block)).subarray(0, block), x.length);
  return { y: y.subarray(block), rt60 };
}

/** RBJ biquad, applied in place. */
function biquad(x, rate, type, f0, q, gainDb = 0) {
  const w = (2 * Math.PI * f0) / rate;
  const cw = Math.cos(w);
  const al = Math.sin(w) / (2 * q);
  const A = 10 ** (gainDb / 40);
  let b0, b1, b2, a0, a1, a2;
  if (type === 'lowpass') [b0, b1, b2, a0, a1, a2] = [(1 - cw) / 2, 1 - cw, (1 - cw) / 2, 1 + al, -2 * cw, 1 - al];
  else if (type === 'highpass') [b0, b1, b2, a0, a1, a2] = [(1 + cw) / 2, -(1 + cw), (1 + cw) / 2, 1 + al, -2 * cw, 1 - al];
  else [b0, b1, b2, a0, a1, a2] = [1 + al * A, -2 * cw, 1 - al * A, 1 + al / A, -2 * cw, 1 - al / A];
  let x1 = 0, x2 = 0, y1 = 0, y2 = 0;
  for (let i = 0; i < x.length; i++) {
    const y = (b0 * x[i] + b1 * x1 + b2 * x2 - a1 * y1 - a2 * y2) / a0;
    x2 = x1;
    x1 = x[i];
    y2 = y1;
    y1 = y;
    x[i] = y;
  }
}

function colour(x, rate, rand) {
  const eq = [];
  if (rand() < 0.3) eq.push(['highpass', 50 + rand() * 250, 0.707]);
  if (rand() < 0.3) eq.push(['lowpass', Math.min(0.45 * rate, 3400 + rand() * 4600), 0.707]);
  for (let k = 0; k < 2; k++) if (rand() < 0.4) eq.push(['peaking', logUniform(rand, 150, 6000), 0.5 + rand() * 2, (rand() * 2 - 1) * 8]);
  for (const [type, f, q, g] of eq) biquad(x, rate, type, f, q, g);
  return eq.length;
}

/** `n` samples of one kind of noise at `rate` (white, pink, brown, babble of `babblePool`'s 16 kHz voices, music, hum). */
export function noise(n, rate, rand, babblePool) {
  const kinds = ['white', 'pink', 'brown', 'babble', 'music', 'hum'];
  let kind = kinds[Math.floor(rand() * kinds.length)];
  if (kind === 'babble' && babblePool.length < 3) kind = 'pink';
  const v = new Float32Array(n);
  if (kind === 'white') for (let i = 0; i < n; i++) v[i] = rand() * 2 - 1;
  else if (kind === 'pink' || kind === 'brown') {
    // Integrated white noise, leaky: brown; half-way (two poles): roughly pink.
    const a = kind === 'brown' ? 0.995 : 0.9;
    let s1 = 0, s2 = 0;
    for (let i = 0; i < n; i++) {
      s1 = a * s1 + (rand() * 2 - 1);
      s2 = 0.5 * s2 + s1 * 0.1;
      v[i] = kind === 'brown' ? s1 : s1 + s2;
    }
  } else if (kind === 'babble') {
    // Other voices' utterances (at 16 kHz in the pool), each resampled to this rate and shifted.
    for (let k = 0; k < 3 + Math.floor(rand() * 3); k++) {
      const u = resample(babblePool[Math.floor(rand() * babblePool.length)], 16000, rate);
      const at = Math.floor(rand() * n);
      for (let i = 0; i < n; i++) v[i] += u[(i + at) % u.length];
    }
  } else if (kind === 'music') {
    // Chords of harmonic notes with plucked envelopes.
    const noteLen = Math.floor((0.15 + rand() * 0.5) * rate);
    for (let start = 0; start < n; start += noteLen) {
      for (let k = 0; k < 3; k++) {
        const f = 110 * 2 ** (Math.floor(rand() * 36) / 12);
        for (let i = start; i < Math.min(n, start + 2 * noteLen); i++) {
          const t = (i - start) / rate;
          const env = Math.exp(-t * 4);
          v[i] += env * (Math.sin(2 * Math.PI * f * t) + 0.5 * Math.sin(4 * Math.PI * f * t) + 0.25 * Math.sin(6 * Math.PI * f * t));
        }
      }
    }
  } else {
    const f = rand() < 0.5 ? 50 : 60;
    for (let i = 0; i < n; i++) for (let h = 1; h <= 5; h++) v[i] += Math.sin((2 * Math.PI * f * h * i) / rate) / h;
  }
  return { v, kind };
}

const power = (x) => {
  let p = 0;
  for (let i = 0; i < x.length; i++) p += x[i] * x[i];
  return p / Math.max(1, x.length);
};

/** Speech at `rate` -> degraded 16 kHz samples, what was done (for the manifest), and the speech's [start, end) sample there. */
export function degrade(speech, rate, rand, babblePool) {
  const info = {};
  // Speed perturbation (Kaldi's): read the samples as if recorded at another rate: tempo,
  // pitch and formants all move by the factor. Rates on a 50 Hz grid keep the resampler small.
  const alpha = rand() < 0.6 ? [0.88, 0.94, 1.06, 1.12][Math.floor(rand() * 4)] : 1;
  info.speed = alpha;
  const browser = rand() < 0.45;
  info.path = browser ? 'opus' : 'direct';
  const work = browser ? 48000 : 16000;
  let x = resample(speech, Math.round((rate * alpha) / 50) * 50, work);
  const lead = Math.floor(rand() * 0.5 * work);
  const tail = Math.floor((0.1 + rand() * 0.5) * work);
  const padded = new Float32Array(lead + x.length + tail);
  padded.set(x, lead);
  // Where the speech lies in the 16 kHz output (the room's tail after it not counted).
  const span = [Math.round((lead * 16000) / work), Math.round(((lead + x.length) * 16000) / work)];
  x = padded;
  const speechPower = power(x);
  if (rand() < 0.5) {
    const r = room(x, work, rand);
    x = Float32Array.from(r.y);
    info.rt60 = Math.round(r.rt60 * 100) / 100;
  }
  info.eq = colour(x, work, rand);
  if (rand() < 0.85) {
    const { v, kind } = noise(x.length, work, rand, babblePool);
    // SNR against the speech itself (not the reverberant tail): 0-40 dB, mostly 10-30.
    const snr = Math.min(40, Math.max(0, 20 + (rand() + rand() + rand() - 1.5) * 20));
    const k = Math.sqrt(speechPower / 10 ** (snr / 10) / Math.max(1e-12, power(v)));
    for (let i = 0; i < x.length; i++) x[i] += k * v[i];
    info.noise = kind;
    info.snr = Math.round(snr);
  }
  // Level: speech at -46 to -10 dBFS rms, then a slow gain wander like a browser's gain control, then clipping.
  const gain = logUniform(rand, 0.05, 3) / Math.sqrt(Math.max(1e-9, power(x)) / 0.01);
  const wander = browser || rand() < 0.3 ? 6 : 0;
  let g = 0;
  for (let i = 0; i < x.length; i++) {
    if (i % 480 === 0 && wander) g = Math.max(-wander, Math.min(wander, g + (rand() * 2 - 1) * 0.6));
    x[i] = Math.max(-1, Math.min(1, x[i] * gain * 10 ** (g / 20)));
  }
  info.level = Math.round(10 * Math.log10(power(x) + 1e-12));
  if (browser) {
    const bitrate = [12000, 16000, 24000, 32000, 48000, 64000][Math.floor(rand() * 6)];
    info.bitrate = bitrate;
    const enc = new OpusEncoder(48000, 1, { bitrate });
    const dec = new OpusDecoder(48000, 1);
    const padTo = Math.ceil(x.length / 960) * 960;
    const src = new Float32Array(padTo);
    src.set(x);
    const out = new Float32Array(padTo);
    let o = 0;
    for (const p of enc.encode(src)) {
      const d = dec.decode(p);
      out.set(d, o);
      o += d.length;
    }
    enc.dispose();
    dec.dispose();
    x = out.subarray(0, x.length);
  }
  return { samples: Float32Array.from(resample(x, work, 16000)), info, span };
}

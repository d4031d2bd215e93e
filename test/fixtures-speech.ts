/**
 * Speech fixtures made at test time with espeak-ng or flite (never committed): sentences separated by
 * known silences, resampled to the wanted rate with our own kernel, plus the true speech spans
 * measured on the samples themselves (first/last sample above a small amplitude).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resampleOffline } from '../kernels/resample.js';
import { encodeWav, parseWav } from '../media/wav.js';

export interface SpeechFixture {
  sampleRate: number;
  samples: Float32Array;
  /** True speech spans in seconds. */
  spans: { start: number; end: number }[];
}

/** `voice`: an espeak-ng voice (`en-us`, `en-gb+f4`) or a flite voice as `flite:NAME`. */
function say(text: string, voice: string, dir: string): { rate: number; x: Float32Array } {
  const file = join(dir, 'say.wav');
  if (voice.startsWith('flite:')) execFileSync('flite', ['-voice', voice.slice(6), '-t', text, '-o', file]);
  else execFileSync('espeak-ng', ['-v', voice, '-s', '150', '-w', file, text]);
  const w = parseWav(readFileSync(file), file);
  return { rate: w.sampleRate, x: w.samples };
}

/** `parts`: alternating silence seconds and sentences, e.g. [1.0, 'hello there', 1.5, 'bye', 1.0]. */
export function speechFixture(parts: (number | string)[], sampleRate = 16000, voice = 'en-us'): SpeechFixture {
  const dir = mkdtempSync(join(tmpdir(), 'cw-speech-'));
  try {
    const chunks: Float32Array[] = [];
    const spans: { start: number; end: number }[] = [];
    let t = 0;
    for (const p of parts) {
      if (typeof p === 'number') {
        const n = Math.round(p * sampleRate);
        chunks.push(new Float32Array(n));
        t += n;
        continue;
      }
      const s = say(p, voice, dir);
      let x = s.rate === sampleRate ? s.x : resampleOffline(s.x, { fromRate: s.rate, toRate: sampleRate });
      // espeak pads its output with silence: cut it so the span is the speech itself.
      let a = 0;
      let b = x.length - 1;
      while (a < b && Math.abs(x[a]) < 0.01) a++;
      while (b > a && Math.abs(x[b]) < 0.01) b--;
      x = x.slice(a, b + 1);
      spans.push({ start: t / sampleRate, end: (t + x.length) / sampleRate });
      chunks.push(x);
      t += x.length;
    }
    const samples = new Float32Array(t);
    let o = 0;
    for (const c of chunks) {
      samples.set(c, o);
      o += c.length;
    }
    return { sampleRate, samples, spans };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Writes a fixture as a 16-bit WAV file and returns its path. */
export function writeFixtureWav(f: SpeechFixture, dir: string, name = 'speech.wav'): string {
  const path = join(dir, name);
  writeFileSync(path, encodeWav({ sampleRate: f.sampleRate, channels: 1, samples: f.samples }));
  return path;
}

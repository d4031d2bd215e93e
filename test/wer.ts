/**
 * Word error rate for recogniser tests: (substitutions + deletions + insertions) / reference words,
 * from a word-level Levenshtein alignment. Both sides are normalised first so that only the words
 * count, not how they are written:
 * - lower case;
 * - hyphens and dashes become spaces ("cold-hearted" = "cold hearted");
 * - every other character that is not a letter, a digit or an apostrophe is dropped (punctuation);
 * - a few written abbreviations are spelled out as they are read ("mr" -> "mister", "mrs" -> "missus",
 *   "dr" -> "doctor"), since a transcript of read speech writes the spoken form.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseWav } from '../media/wav.js';

const SPOKEN: Record<string, string> = { mr: 'mister', mrs: 'missus', dr: 'doctor' };

export function normaliseWords(text: string): string[] {
  return text
    .toLowerCase()
    .replace(/[-\u2010-\u2015]/g, ' ')
    .replace(/[^\p{L}\p{N}'\s]/gu, '')
    .split(/\s+/)
    .map((w) => w.replace(/^'+|'+$/g, ''))
    .filter((w) => w.length > 0)
    .map((w) => SPOKEN[w] ?? w);
}

/** Word edit distance between two word lists. */
export function wordErrors(ref: readonly string[], hyp: readonly string[]): number {
  let prev = Array.from({ length: hyp.length + 1 }, (_, j) => j);
  for (let i = 1; i <= ref.length; i++) {
    const cur = [i];
    for (let j = 1; j <= hyp.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ref[i - 1] === hyp[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[hyp.length];
}

export interface WerResult {
  errors: number;
  words: number;
  wer: number;
}

export function wer(reference: string, hypothesis: string): WerResult {
  const r = normaliseWords(reference);
  const errors = wordErrors(r, normaliseWords(hypothesis));
  return { errors, words: r.length, wer: r.length === 0 ? (errors > 0 ? 1 : 0) : errors / r.length };
}

/** Corpus WER: errors summed over all utterances / reference words summed (not a mean of rates). */
export function corpusWer(pairs: readonly { reference: string; hypothesis: string }[]): WerResult {
  let errors = 0;
  let words = 0;
  for (const p of pairs) {
    const w = wer(p.reference, p.hypothesis);
    errors += w.errors;
    words += w.words;
  }
  return { errors, words, wer: words === 0 ? 0 : errors / words };
}

/**
 * Real read speech with transcripts: the five LibriVox clips (Sense and Sensibility, one male
 * reader, 16 kHz mono WAV) that Debian's pocketsphinx-testdata installs with a `transcription`
 * file of `<s> words </s> (utterance id)` lines.
 */
export const LIBRIVOX_DIR = '/usr/share/pocketsphinx/test/data/librivox';

export interface Utterance {
  id: string;
  samples: Float32Array;
  reference: string;
}

export function librivoxUtterances(): Utterance[] {
  let transcription: string;
  try {
    transcription = readFileSync(join(LIBRIVOX_DIR, 'transcription'), 'utf8');
  } catch {
    throw new Error(`no LibriVox test clips in ${LIBRIVOX_DIR}: install the Debian package pocketsphinx-testdata (npm run setup)`);
  }
  return transcription
    .split('\n')
    .map((line) => /^<s>\s*(.*?)\s*<\/s>\s*\((\S+)\)$/.exec(line.trim()))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => {
      const file = join(LIBRIVOX_DIR, `${m[2]}.wav`);
      const w = parseWav(readFileSync(file), file);
      if (w.sampleRate !== 16000 || w.channels !== 1) throw new Error(`${file}: expected 16 kHz mono, got ${w.sampleRate} Hz x ${w.channels}`);
      return { id: m[2], samples: w.samples, reference: m[1] };
    });
}

/** The clips one after another at 16 kHz, each after `gap` seconds of silence (and `gap` after the last), with their spans in seconds. */
export function programme(clips: readonly Utterance[], gap = 1): { samples: Float32Array; spans: { start: number; end: number }[] } {
  const g = Math.round(gap * 16000);
  const samples = new Float32Array(clips.reduce((n, c) => n + g + c.samples.length, 0) + g);
  const spans: { start: number; end: number }[] = [];
  let o = 0;
  for (const c of clips) {
    o += g;
    samples.set(c.samples, o);
    spans.push({ start: o / 16000, end: (o + c.samples.length) / 16000 });
    o += c.samples.length;
  }
  return { samples, spans };
}

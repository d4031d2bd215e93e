// Which synthetic voices train the command recogniser and which are held out for evaluation.
// Whole voices are held out: a held-out espeak-ng variant never speaks in training with any
// accent, a held-out accent never with any variant, and flite's awb never at all. The test
// (test/operators/asr-commands.test.ts) speaks with these held-out voices only. festival's voices
// are used by neither: they are reserved for an independent evaluation.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parseWav } from '../../dist/media/wav.js';

export const HELD_OUT = {
  variants: ['m7', 'f4', 'Andy', 'Storm', 'belinda', 'rob', 'klatt4', 'grandma'],
  accents: ['en-gb-x-gbcwmd'],
  flite: ['awb'],
};

const ACCENTS = ['en-us', 'en-gb', 'en-gb-scotland', 'en-gb-x-gbclan', 'en-gb-x-rp', 'en-gb-x-gbcwmd', 'en-029', 'en-us-nyc'];
const FLITE = ['kal', 'kal16', 'rms', 'slt', 'awb'];

/**
 * espeak-ng's variants by the name `-v lang+NAME` looks up: the file name (column 5, after
 * "!v/"), not the display name in column 4. espeak-ng silently speaks the plain voice for an
 * unknown name, which is how earlier recipes trained on the default voice 60 times over.
 */
export function espeakVariants() {
  const lines = execFileSync('espeak-ng', ['--voices=variant']).toString().trim().split('\n').slice(1);
  return lines
    .map((l) => l.trim().split(/\s+/))
    // A file name with a space ("Mr serious") cannot be named after "+": the column after it is
    // then not a language list in parentheses.
    .filter((c) => c[4]?.startsWith('!v/') && (c.length === 5 || c[5].startsWith('(')))
    .map((c) => c[4].slice(3))
    .filter((v) => !SILENT_VARIANTS.includes(v));
}

/** Variants that change nothing audible at the speeds used here (fast: only the top speed). */
const SILENT_VARIANTS = ['fast'];

export function voicesFor(split) {
  const held = split === 'eval';
  const keep = (list, out) => list.filter((v) => out.includes(v) === held);
  const all = espeakVariants();
  for (const v of HELD_OUT.variants) if (!all.includes(v)) throw new Error(`held-out variant ${v} is not an espeak-ng variant`);
  return {
    variants: keep(all, HELD_OUT.variants),
    // Eval speaks every accent, the held-out one included, but only with held-out variants.
    accents: held ? ACCENTS : keep(ACCENTS, HELD_OUT.accents),
    flite: keep(FLITE, HELD_OUT.flite),
  };
}

/** Throws naming every variant whose audio equals the plain voice's (an unknown name). */
export function checkVariantsDiffer(variants) {
  const say = (v) => execFileSync('espeak-ng', ['-v', v, '--stdout', 'seven three nine']);
  const plain = say('en-us');
  const same = variants.filter((v) => say(`en-us+${v}`).equals(plain));
  if (same.length) throw new Error(`espeak-ng variants that speak as the plain voice (unknown names?): ${same.join(', ')}`);
}

/**
 * A voice of `voices` (voicesFor's lists): flite with probability `fliteShare`, else an espeak-ng
 * accent, with a variant unless drawn plain (probability `plainShare` of the espeak-ng ones).
 */
export function drawVoice(rand, voices, fliteShare, plainShare) {
  const pick = (a) => a[Math.floor(rand() * a.length)];
  const flite = rand() < fliteShare;
  const plain = !flite && plainShare > 0 && rand() < plainShare;
  return flite ? `flite:${pick(voices.flite)}` : plain ? pick(voices.accents) : `${pick(voices.accents)}+${pick(voices.variants)}`;
}

/** How a voice speaks: flite's duration stretch and f0 mean; espeak-ng's words/min, pitch and word gap. */
export function drawStyle(rand) {
  const range = (a, b) => a + rand() * (b - a);
  return { stretch: range(0.75, 1.35), f0: Math.floor(range(80, 220)), wpm: Math.floor(range(110, 230)), pitch: Math.floor(range(10, 90)), gap: Math.floor(range(0, 8)) };
}

/**
 * `phrase` spoken by `voice` (`flite:NAME` or an espeak-ng voice) in `style`, through the WAV file
 * `tmp`; the synthesiser's leading and trailing silence trimmed (first and last sample above 1e-3),
 * so pauses put around it are the ones chosen. Needs `npm run build` (dist/media/wav.js).
 */
export function speakWith(voice, style, phrase, tmp) {
  if (voice.startsWith('flite:')) {
    execFileSync('flite', ['-voice', voice.slice(6), '--setf', `duration_stretch=${style.stretch.toFixed(2)}`, '--setf', `int_f0_target_mean=${style.f0}`, '-t', phrase, '-o', tmp]);
  } else {
    execFileSync('espeak-ng', ['-v', voice, '-s', String(style.wpm), '-p', String(style.pitch), '-g', String(style.gap), '-w', tmp, phrase]);
  }
  const w = parseWav(readFileSync(tmp), tmp);
  let a = 0;
  let b = w.samples.length - 1;
  while (a < b && Math.abs(w.samples[a]) < 1e-3) a++;
  while (b > a && Math.abs(w.samples[b]) < 1e-3) b--;
  return { rate: w.sampleRate, x: w.samples.subarray(a, b + 1) };
}

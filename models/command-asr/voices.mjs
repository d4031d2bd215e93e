// Which synthetic voices train the command recogniser and which are held out for evaluation.
// Whole voices are held out: a held-out espeak-ng variant never speaks in training with any
// accent, a held-out accent never with any variant, and flite's awb never at all. The test
// (test/operators/asr-commands.test.ts) speaks with these held-out voices only. festival's voices
// are used by neither: they are reserved for an independent evaluation.
import { execFileSync } from 'node:child_process';

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

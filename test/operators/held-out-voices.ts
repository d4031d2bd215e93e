/**
 * The voices the command recogniser and the keyword spotter never trained on, as their held-out
 * tests speak them (models/command-asr/voices.mjs holds them out: espeak-ng variants with any
 * accent, the West Midlands accent with any variant, flite's awb), and the check that a list of
 * voices is held out indeed.
 */
import assert from 'node:assert/strict';

export const HELD_OUT_VOICES = ['en-us+m7', 'en-gb+f4', 'en-us+Andy', 'en-us-nyc+Storm', 'en-gb-x-gbcwmd+belinda', 'en-029+rob', 'en-gb-scotland+klatt4', 'en-gb-x-rp+grandma', 'en-gb-x-gbcwmd', 'flite:awb'];

/** Fails naming the first voice of `voices` that training may have heard. */
export async function assertHeldOut(voices: readonly string[]): Promise<void> {
  const held: { variants: string[]; accents: string[]; flite: string[] } = (await import(new URL('../../../models/command-asr/voices.mjs', import.meta.url).href)).HELD_OUT;
  for (const v of voices) {
    const [accent, variant] = v.split('+');
    const isHeld = v.startsWith('flite:') ? held.flite.includes(v.slice(6)) : held.accents.includes(accent) || held.variants.includes(variant);
    assert.ok(isHeld, `${v} is not held out of training (models/command-asr/voices.mjs)`);
  }
}

/**
 * Command-line parsing for `causeway`, on top of node:util's parseArgs.
 *
 * parseArgs reads `--azimuth -90` as the option `--azimuth` followed by the short option `-9`
 * (a usage error), so a value that looks like a negative number is glued to its option
 * (`--azimuth=-90`) first. Only options that take a value are glued, so a boolean flag is never
 * given one.
 */
import type { ParseArgsConfig } from 'node:util';

export type OptionSpecs = NonNullable<ParseArgsConfig['options']>;

const NEGATIVE_NUMBER = /^-(\d|\.\d)/;

/** `--name -5` -> `--name=-5` for every option of `specs` that takes a string. */
export function glueNegativeValues(argv: readonly string[], specs: OptionSpecs): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const next = argv[i + 1];
    if (a === '--') {
      out.push(...argv.slice(i));
      break;
    }
    const name = a.startsWith('--') && !a.includes('=') ? a.slice(2) : undefined;
    if (name !== undefined && specs[name]?.type === 'string' && next !== undefined && NEGATIVE_NUMBER.test(next)) {
      out.push(`${a}=${next}`);
      i++;
    } else out.push(a);
  }
  return out;
}

/**
 * A real, full garbage collection for leak tests. `globalThis.gc?.()` without --expose-gc is a
 * silent no-op, and a heap comparison after it measures garbage, not leaks; this one exposes gc
 * in a fresh context when the flag was not given, and throws if that fails.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

let gc: (() => void) | undefined;

export function collectGarbage(): void {
  if (gc === undefined) {
    const global = (globalThis as { gc?: unknown }).gc;
    if (typeof global === 'function') gc = global as () => void;
    else {
      setFlagsFromString('--expose-gc');
      const fresh: unknown = runInNewContext('gc');
      if (typeof fresh !== 'function') throw new Error('cannot force a garbage collection: gc is not exposed (run node with --expose-gc)');
      gc = fresh as () => void;
    }
  }
  gc();
}

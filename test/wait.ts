/** Waiting in tests: a plain sleep, and polling until a condition holds or a deadline passes. */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `f` every 100 ms until it returns something other than undefined/false; `last` describes the state for the timeout message. */
export async function until<T>(what: string, ms: number, f: () => Promise<T | undefined | false> | T | undefined | false, last?: () => string): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined && v !== false) return v as T;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? `; last seen ${last()}` : ''}`);
    await sleep(100);
  }
}

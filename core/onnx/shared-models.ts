/**
 * Process-wide cache of loaded step models, reference counted: many streams of the same model
 * share one ORT session (sessions are stateless; each stream keeps its own StepState), and the
 * session is released when the last stream lets go.
 */
import type { ModelContract } from './contract.js';
import type { SessionOptions } from './session.js';
import { StepModel } from './step-model.js';

interface Entry {
  promise: Promise<StepModel>;
  refs: number;
}

const cache = new Map<string, Entry>();
/** Loads (sessions created) and leases taken since the process started. */
let loads = 0;
let acquisitions = 0;

export interface ModelLease {
  readonly model: StepModel;
  release(): void;
}

export async function acquireModel(path: string, contract: ModelContract, options: SessionOptions = {}): Promise<ModelLease> {
  const key = JSON.stringify([path, contract.name, options.device ?? 'auto', options.threads ?? 1, options.batch ?? {}, options.thread ?? contract.thread ?? 'main']);
  acquisitions++;
  let entry = cache.get(key);
  if (!entry) {
    loads++;
    entry = { promise: StepModel.load(path, contract, options), refs: 0 };
    cache.set(key, entry);
    // A failed load must not poison the cache: the next caller tries again.
    entry.promise.catch(() => cache.delete(key));
  }
  entry.refs++;
  const e = entry;
  let model: StepModel;
  try {
    model = await e.promise;
  } catch (err) {
    e.refs--;
    throw err;
  }
  let released = false;
  return {
    model,
    release: () => {
      if (released) return;
      released = true;
      e.refs--;
      if (e.refs === 0 && cache.get(key) === e) {
        cache.delete(key);
        void model.dispose();
      }
    },
  };
}

/** Number of models currently loaded (for leak tests and metrics). */
export function loadedModelCount(): number {
  return cache.size;
}

/**
 * How many times a model was loaded (a new session) and leased (loaded or shared) in this
 * process: a server's tests check that sessions after warm-up only ever share.
 */
export function modelLoadCounts(): { loads: number; acquisitions: number } {
  return { loads, acquisitions };
}

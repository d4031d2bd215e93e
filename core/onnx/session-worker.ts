/**
 * The worker side of worker-session.ts: one CPU session of one model, run on this thread so the
 * process's JavaScript thread is free while it computes. Messages in: `{ id, feeds }`; out:
 * `{ id, outputs }` (their buffers transferred, not copied) or `{ id, error }`.
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import type { WireTensor, WorkerReply, WorkerRequest, WorkerStart } from './worker-session.js';

const start = workerData as WorkerStart;
const port = parentPort!;

function toWire(t: ort.Tensor): WireTensor {
  return { type: t.type, data: t.data as WireTensor['data'], dims: [...t.dims] };
}

async function main(): Promise<void> {
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(start.path, {
      executionProviders: ['cpu'],
      intraOpNumThreads: start.threads,
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
      logSeverityLevel: 3,
    });
  } catch (e) {
    port.postMessage({ id: 0, error: (e as Error).message } satisfies WorkerReply);
    return;
  }
  port.postMessage({ id: 0, outputs: {} } satisfies WorkerReply);
  port.on('message', (m: WorkerRequest) => {
    if (m.release) {
      void session.release().finally(() => port.close());
      return;
    }
    const feeds: Record<string, ort.Tensor> = {};
    for (const [k, v] of Object.entries(m.feeds)) feeds[k] = new ort.Tensor(v.type as 'float32', v.data as Float32Array, v.dims);
    session.run(feeds).then(
      (out) => {
        const outputs: Record<string, WireTensor> = {};
        const transfer: ArrayBuffer[] = [];
        for (const [k, t] of Object.entries(out)) {
          outputs[k] = toWire(t as ort.Tensor);
          transfer.push(outputs[k].data.buffer as ArrayBuffer);
        }
        port.postMessage({ id: m.id, outputs } satisfies WorkerReply, transfer);
      },
      (e: unknown) => port.postMessage({ id: m.id, error: (e instanceof Error ? e.message : String(e)) } satisfies WorkerReply),
    );
  });
}

void main();

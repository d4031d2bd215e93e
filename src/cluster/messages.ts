/**
 * The NATS subjects and messages between fronts and workers (docs/deployment.md). Every message
 * is JSON; a session's events travel as the JSON text its data channel carries.
 */

export const subjects = {
  /** Workers publish their load here, every heartbeat. */
  heartbeat: 'causeway.heartbeat',
  /** Request: an offer for this worker. */
  offer: (worker: string) => `causeway.worker.${worker}.offer`,
  /** Request: end one of this worker's sessions. */
  remove: (worker: string) => `causeway.worker.${worker}.delete`,
  /** Request: a WHEP viewer of one of this worker's sessions. */
  viewer: (worker: string) => `causeway.worker.${worker}.whep`,
  /** Request: end a viewer. */
  removeViewer: (worker: string) => `causeway.worker.${worker}.whep-delete`,
  /** Request: this worker's metrics, as prom-client's JSON. */
  metrics: (worker: string) => `causeway.worker.${worker}.metrics`,
  /** A session's events, as they are sent on its data channel. */
  events: (session: string) => `causeway.session.${session}.events`,
  /** Published once when a session ends, with why. */
  ended: (session: string) => `causeway.session.${session}.ended`,
};

export interface Heartbeat {
  name: string;
  /** The ids of the sessions it runs. */
  sessions: string[];
  maxSessions: number;
  /** True from SIGTERM (or drain()) on: it takes no new session. */
  draining: boolean;
  /** Process CPU over the last heartbeat interval, percent of one core. */
  cpuPercent: number;
}

export interface OfferRequest {
  offer: string;
  /** The pipeline asked for by name (`?pipeline=`), null for the default. */
  pipeline: string | null;
}

export type OfferReply = { id: string; answer: string } | { status: number; error: string };

export type RemoveReply = { ok: true } | { status: number; error: string };

export interface ViewerRequest {
  session: string;
  offer: string;
}

export interface Ended {
  reason: string;
}

/** Heartbeats are this often unless configured; a worker silent for `WORKER_TIMEOUT_MS` is dropped. */
export const HEARTBEAT_MS = 1000;
export const WORKER_TIMEOUT_MS = 3000;

/** A worker's name goes into subjects: letters, digits, '-' and '_' only. */
export function checkWorkerName(name: string): string {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(name)) throw new Error(`worker names are 1-64 letters, digits, '-' or '_', got '${name}'`);
  return name;
}

/**
 * A scale-out worker (`causeway worker --nats <url>`): models and pipelines, no public HTTP. A
 * front hands it WHIP offers over NATS; it answers with its own SDP (its own ICE candidates), so
 * the browser then talks to the worker directly. Its sessions' events go out on per-session
 * subjects, which any front relays to `/events/<session>`; its load goes out as heartbeats.
 *
 * Drain (SIGTERM, or drain()): it says so in a heartbeat at once and takes no new session; the
 * running ones may finish until the deadline, then each gets an `ending` event saying why and is
 * closed.
 */
import { hostname } from 'node:os';
import type { NatsConnection, Subscription } from 'nats';
import type { WhipPeerOptions } from '../../media/webrtc/index.js';
import { logger } from '../../core/log.js';
import { metrics } from '../../core/metrics.js';
import { HttpError } from '../server/http-util.js';
import { pipelineTable } from '../server/pipeline-table.js';
import type { Session } from '../server/session.js';
import type { SessionPipeline } from '../server/session-pipeline.js';
import { openSession } from '../server/whip-routes.js';
import { openViewer } from '../server/whep-routes.js';
import { checkWorkerName, HEARTBEAT_MS, subjects, type Heartbeat, type OfferReply, type OfferRequest, type RemoveReply, type ViewerRequest } from './messages.js';
import { connectNats } from './nats.js';

const log = logger('worker');

export interface WorkerOptions {
  nats: string;
  /** A NATS credentials file; a token comes from CAUSEWAY_NATS_TOKEN. */
  natsCredsFile?: string;
  /** Unique among the workers (default: host name and process id). */
  name?: string;
  maxSessions?: number;
  pipeline?: SessionPipeline;
  pipelines?: Readonly<Record<string, SessionPipeline>>;
  peer?: WhipPeerOptions;
  /** WHEP viewers per session (default 4). */
  maxViewers?: number;
  heartbeatMs?: number;
}

export interface CausewayWorker {
  readonly name: string;
  readonly sessions: ReadonlyMap<string, Session>;
  /** Takes no new session; waits for the running ones until `deadlineMs`, then ends them (reason 'drain'). */
  drain(deadlineMs: number): Promise<void>;
  /** Ends every session (reason 'worker-shutdown') and leaves NATS. */
  close(): Promise<void>;
}

const json = new TextEncoder();
const text = new TextDecoder();
const encode = (v: unknown) => json.encode(JSON.stringify(v));

export async function startWorker(o: WorkerOptions): Promise<CausewayWorker> {
  const name = checkWorkerName(o.name ?? `${hostname()}-${process.pid}`.replace(/[^A-Za-z0-9_-]/g, '-'));
  const maxSessions = o.maxSessions ?? 8;
  const table = pipelineTable(o.pipeline, o.pipelines);
  const releaseWarm = await table.warm();
  let nc: NatsConnection;
  try {
    nc = await connectNats({ url: o.nats, credsFile: o.natsCredsFile, name: `causeway worker ${name}` });
  } catch (e) {
    releaseWarm();
    throw e;
  }
  const sessions = new Map<string, Session>();
  const ctx = {
    sessions,
    pendingSessions: 0,
    pendingViewers: new Map<string, number>(),
    maxViewers: o.maxViewers ?? 4,
    viewerTimeoutSec: 15,
    peerOptions: (): WhipPeerOptions => ({ iceAdditionalHostAddresses: ['127.0.0.1'], timeoutSec: 4, ...o.peer }),
  };
  let draining = false;
  let cpu = process.cpuUsage();
  let cpuAt = performance.now();
  const beat = () => {
    const now = performance.now();
    const used = process.cpuUsage(cpu);
    const cpuPercent = (100 * (used.user + used.system)) / 1000 / Math.max(1, now - cpuAt);
    cpu = process.cpuUsage();
    cpuAt = now;
    const hb: Heartbeat = { name, sessions: [...sessions.keys()], maxSessions, draining, cpuPercent: Math.round(cpuPercent * 10) / 10 };
    nc.publish(subjects.heartbeat, encode(hb));
  };

  const onOffer = async (req: OfferRequest): Promise<OfferReply> => {
    if (draining) return { status: 503, error: `worker ${name} is draining` };
    if (sessions.size + ctx.pendingSessions >= maxSessions) return { status: 503, error: `worker ${name} full (${maxSessions} sessions)` };
    try {
      const session = await openSession(ctx, req.offer, table.pick(req.pipeline), (s) => {
        nc.publish(subjects.ended(s.id), encode({ reason: s.endReason ?? 'ended' }));
        beat();
      });
      session.attachSink((event) => {
        // A closed connection (the worker shutting down) throws: the event has nowhere to go.
        try {
          nc.publish(subjects.events(session.id), json.encode(event));
        } catch {
          // dropped with the connection
        }
      });
      log.info(`session ${session.id}: started (${sessions.size} open)`);
      beat();
      return { id: session.id, answer: session.peer.answer };
    } catch (e) {
      return e instanceof HttpError ? { status: e.status, error: e.message } : { status: 500, error: (e as Error).message };
    }
  };

  const subs: Subscription[] = [];
  const serve = <Q, A>(subject: string, handle: (q: Q) => Promise<A>) => {
    subs.push(
      nc.subscribe(subject, {
        callback: (err, msg) => {
          if (err) return;
          let q: Q;
          try {
            q = JSON.parse(text.decode(msg.data)) as Q;
          } catch {
            msg.respond(encode({ status: 400, error: 'not JSON' }));
            return;
          }
          void handle(q).then(
            (a) => msg.respond(encode(a)),
            (e: unknown) => msg.respond(encode({ status: 500, error: (e as Error).message })),
          );
        },
      }),
    );
  };
  serve<OfferRequest, OfferReply>(subjects.offer(name), onOffer);
  serve<{ id: string }, RemoveReply>(subjects.remove(name), async ({ id }) => {
    const s = sessions.get(id);
    if (!s) return { status: 404, error: `no session ${id}` };
    await s.close('deleted');
    return { ok: true };
  });
  serve<ViewerRequest, OfferReply>(subjects.viewer(name), async ({ session, offer }) => {
    try {
      return await openViewer(ctx, session, offer);
    } catch (e) {
      return e instanceof HttpError ? { status: e.status, error: e.message } : { status: 500, error: (e as Error).message };
    }
  });
  serve<{ session: string; viewer: string }, RemoveReply>(subjects.removeViewer(name), async ({ session, viewer }) => {
    const s = sessions.get(session);
    if (!s || !(await s.removeViewer(viewer))) return { status: 404, error: `no viewer ${viewer} of session ${session}` };
    return { ok: true };
  });
  serve<unknown, unknown>(subjects.metrics(name), async () => metrics.getMetricsAsJSON());
  const timer = setInterval(beat, o.heartbeatMs ?? HEARTBEAT_MS);
  beat();
  log.info(`worker ${name}: serving on NATS ${o.nats} (${maxSessions} sessions at most)`);

  let closing: Promise<void> | undefined;
  const closeAll = async (reason: string) => {
    await Promise.all(
      [...sessions.values()].map((s) => {
        s.emit({ type: 'ending', reason });
        return s.close(reason);
      }),
    );
  };
  return {
    name,
    sessions,
    async drain(deadlineMs) {
      draining = true;
      beat();
      log.info(`worker ${name}: draining (${sessions.size} session(s), deadline ${Math.round(deadlineMs / 1000)} s)`);
      const end = Date.now() + deadlineMs;
      while (sessions.size > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
      if (sessions.size > 0) log.info(`worker ${name}: drain deadline: ending ${sessions.size} session(s)`);
      await closeAll('drain');
    },
    close() {
      closing ??= (async () => {
        draining = true;
        clearInterval(timer);
        await closeAll('worker-shutdown');
        beat();
        for (const s of subs) s.unsubscribe();
        await nc.drain();
        releaseWarm();
      })();
      return closing;
    },
  };
}

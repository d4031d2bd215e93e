/**
 * A scale-out front (`causeway serve --nats <url> --role front`): the public HTTP of a cluster
 * (the page, WHIP, WHEP viewers, /events, /metrics, /healthz) and no models. It places each WHIP offer on the
 * least loaded live worker (by the workers' heartbeats; a worker that is full or draining
 * declines and the next is asked), returns that worker's answer, and relays sessions' events
 * from NATS to `/events/<session>` sockets. Any front can serve any session: what it needs to
 * know (who runs which session) is in the heartbeats every front hears.
 *
 * A worker silent for workerTimeoutMs is dropped from placement, and the `/events` sockets of
 * its sessions get `{"type":"ended","reason":"worker-lost"}`.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { NatsConnection, Subscription } from 'nats';
import { AggregatorRegistry } from 'prom-client';
import { WebSocketServer, type WebSocket } from 'ws';
import { logger } from '../../core/log.js';
import { collectProcessMetrics, metrics } from '../../core/metrics.js';
import { answeringErrors, CORS, HttpError, MAX_SDP_BYTES, readBody, requireSdp } from '../server/http-util.js';
import { serveStatic } from '../server/static-files.js';
import { routeWhipWhep, type WhipWhepHandlers } from '../server/whip-whep-table.js';
import { subjects, WORKER_TIMEOUT_MS, type Ended, type Heartbeat, type OfferReply, type RemoveReply } from './messages.js';
import { connectNats } from './nats.js';

const log = logger('front');

export interface FrontOptions {
  nats: string;
  natsCredsFile?: string;
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** The same bearer token as a single server's (ServerOptions.token). */
  token?: string;
  page?: string;
  /** A worker silent this long is dropped (default 3000 ms: three missed heartbeats). */
  workerTimeoutMs?: number;
  /** How long a worker has to answer an offer (default 10000 ms: it makes a peer connection). */
  offerTimeoutMs?: number;
  bodyTimeoutMs?: number;
}

export interface CausewayFront {
  readonly url: string;
  /** The workers heard from within workerTimeoutMs, by name. */
  readonly workers: ReadonlyMap<string, Heartbeat>;
  close(): Promise<void>;
}

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();
const encode = (v: unknown) => utf8.encode(JSON.stringify(v));

export async function startFront(o: FrontOptions): Promise<CausewayFront> {
  const host = o.host ?? '127.0.0.1';
  const workerTimeoutMs = o.workerTimeoutMs ?? WORKER_TIMEOUT_MS;
  const offerTimeoutMs = o.offerTimeoutMs ?? 10_000;
  const bodyTimeoutMs = o.bodyTimeoutMs ?? 5000;
  collectProcessMetrics();
  const nc: NatsConnection = await connectNats({ url: o.nats, credsFile: o.natsCredsFile, name: 'causeway front' });

  const workers = new Map<string, Heartbeat>();
  const heardAt = new Map<string, number>();
  /** Which worker runs a session: from heartbeats, and from this front's own placements before the next one. */
  const owner = new Map<string, string>();
  const sockets = new Map<string, { set: Set<WebSocket>; sub: Subscription }>();
  const subs: Subscription[] = [];

  const endSockets = (session: string, event: { type: 'ended'; reason: string; worker?: string }) => {
    const entry = sockets.get(session);
    if (!entry) return;
    const text = JSON.stringify(event);
    for (const ws of entry.set) {
      ws.send(text);
      ws.close(1000, 'session ended');
    }
    entry.sub.unsubscribe();
    sockets.delete(session);
  };
  subs.push(
    nc.subscribe(subjects.heartbeat, {
      callback: (err, msg) => {
        if (err) return;
        let hb: Heartbeat;
        try {
          hb = JSON.parse(fromUtf8.decode(msg.data)) as Heartbeat;
        } catch {
          return;
        }
        if (!workers.has(hb.name)) log.info(`worker ${hb.name}: joined (${hb.sessions.length}/${hb.maxSessions} sessions)`);
        workers.set(hb.name, hb);
        heardAt.set(hb.name, Date.now());
        for (const [s, w] of owner) if (w === hb.name && !hb.sessions.includes(s)) owner.delete(s);
        for (const s of hb.sessions) owner.set(s, hb.name);
      },
    }),
    nc.subscribe(subjects.ended('*'), {
      callback: (err, msg) => {
        if (err) return;
        const session = msg.subject.split('.')[2]!;
        let ended: Ended;
        try {
          ended = JSON.parse(fromUtf8.decode(msg.data)) as Ended;
        } catch {
          return;
        }
        owner.delete(session);
        endSockets(session, { type: 'ended', reason: ended.reason });
      },
    }),
  );
  const sweep = setInterval(() => {
    const now = Date.now();
    for (const [name, at] of heardAt) {
      if (now - at <= workerTimeoutMs) continue;
      const lost = workers.get(name)!;
      workers.delete(name);
      heardAt.delete(name);
      log.warn(`worker ${name}: no heartbeat for ${Math.round((now - at) / 100) / 10} s: dropped, ${lost.sessions.length} session(s) lost`);
      for (const [s, w] of owner) {
        if (w !== name) continue;
        owner.delete(s);
        endSockets(s, { type: 'ended', reason: 'worker-lost', worker: name });
      }
    }
  }, Math.max(50, Math.min(500, workerTimeoutMs / 4)));

  const authorized = (req: IncomingMessage, url: URL): boolean => !o.token || req.headers.authorization === `Bearer ${o.token}` || url.searchParams.get('token') === o.token;
  const requireAuth = (req: IncomingMessage, url: URL) => {
    if (!authorized(req, url)) throw new HttpError(401, 'missing or wrong bearer token', { 'WWW-Authenticate': 'Bearer' });
  };

  /** Live workers with room, least loaded first. */
  const candidates = (): Heartbeat[] =>
    [...workers.values()].filter((w) => !w.draining && w.sessions.length < w.maxSessions).sort((a, b) => a.sessions.length / a.maxSessions - b.sessions.length / b.maxSessions || a.name.localeCompare(b.name));

  async function place(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    requireAuth(req, url);
    requireSdp(req);
    const offer = await readBody(req, MAX_SDP_BYTES, bodyTimeoutMs);
    const declined: string[] = [];
    for (const w of candidates()) {
      let reply: OfferReply;
      try {
        const msg = await nc.request(subjects.offer(w.name), encode({ offer, pipeline: url.searchParams.get('pipeline') }), { timeout: offerTimeoutMs });
        reply = JSON.parse(fromUtf8.decode(msg.data)) as OfferReply;
      } catch (e) {
        declined.push(`${w.name}: ${(e as Error).message}`);
        continue;
      }
      if ('id' in reply) {
        owner.set(reply.id, w.name);
        res.writeHead(201, { ...CORS, 'Content-Type': 'application/sdp', Location: `/whip/${reply.id}`, ETag: `"${reply.id}"`, 'X-Causeway-Worker': w.name });
        res.end(reply.answer);
        log.info(`session ${reply.id}: placed on worker ${w.name}`);
        return;
      }
      // The offer itself is wrong (400): another worker would say the same.
      if (reply.status !== 503) throw new HttpError(reply.status, reply.error);
      declined.push(`${w.name}: ${reply.error}`);
    }
    throw new HttpError(503, workers.size === 0 ? 'no worker is live' : `no worker has room (${declined.join('; ') || 'all full or draining'})`, { 'Retry-After': '5' });
  }

  async function remove(req: IncomingMessage, res: ServerResponse, url: URL, id: string): Promise<void> {
    requireAuth(req, url);
    await askOwner<RemoveReply>(id, subjects.remove, { id });
    res.writeHead(200, CORS);
    res.end();
  }

  /** A request to the worker running `session`; its error reply becomes the same HTTP error. */
  async function askOwner<A extends object>(session: string, subject: (w: string) => string, body: unknown): Promise<Exclude<A, { status: number; error: string }>> {
    const w = owner.get(session);
    if (!w) throw new HttpError(404, `no session ${session}`);
    let reply: A | { status: number; error: string };
    try {
      reply = JSON.parse(fromUtf8.decode((await nc.request(subject(w), encode(body), { timeout: offerTimeoutMs })).data)) as A;
    } catch (e) {
      throw new HttpError(502, `worker ${w} did not answer (${(e as Error).message})`);
    }
    const failed = reply as { status?: number; error?: string };
    if (typeof failed.status === 'number' && typeof failed.error === 'string') throw new HttpError(failed.status, failed.error, failed.status === 503 ? { 'Retry-After': '5' } : {});
    return reply as Exclude<A, { status: number; error: string }>;
  }

  async function watch(req: IncomingMessage, res: ServerResponse, url: URL, session: string): Promise<void> {
    requireAuth(req, url);
    requireSdp(req);
    if (!owner.has(session)) throw new HttpError(404, `no session ${session}`);
    const offer = await readBody(req, MAX_SDP_BYTES, bodyTimeoutMs);
    const viewer = await askOwner<OfferReply>(session, subjects.viewer, { session, offer });
    res.writeHead(201, { ...CORS, 'Content-Type': 'application/sdp', Location: `/whep/${session}/${viewer.id}`, ETag: `"${viewer.id}"` });
    res.end(viewer.answer);
  }

  async function clusterMetrics(): Promise<string> {
    type Json = Awaited<ReturnType<typeof metrics.getMetricsAsJSON>>;
    const parts: Json[] = [await metrics.getMetricsAsJSON()];
    await Promise.all(
      [...workers.keys()].map(async (w) => {
        try {
          parts.push(JSON.parse(fromUtf8.decode((await nc.request(subjects.metrics(w), encode({}), { timeout: 2000 })).data)) as Json);
        } catch (e) {
          log.warn(`worker ${w}: metrics not read (${(e as Error).message})`);
        }
      }),
    );
    return AggregatorRegistry.aggregate(parts).metrics();
  }

  const whipWhep: WhipWhepHandlers = {
    publish: place,
    end: remove,
    watch,
    async stopWatching(req, res, url, session, viewer) {
      requireAuth(req, url);
      await askOwner<RemoveReply>(session, subjects.removeViewer, { session, viewer });
      res.writeHead(200, CORS);
      res.end();
    },
  };

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname;
    const method = req.method ?? 'GET';
    if (await routeWhipWhep(req, res, url, whipWhep)) return;
    if (path === '/healthz' && method === 'GET') {
      const live = [...workers.values()];
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(
        JSON.stringify({
          status: live.length > 0 ? 'ok' : 'no-workers',
          role: 'front',
          workers: live.length,
          sessions: live.reduce((a, w) => a + w.sessions.length, 0),
          capacity: live.filter((w) => !w.draining).reduce((a, w) => a + w.maxSessions, 0),
          list: live.map((w) => ({ name: w.name, sessions: w.sessions.length, maxSessions: w.maxSessions, draining: w.draining, cpuPercent: w.cpuPercent, heardMsAgo: Date.now() - heardAt.get(w.name)! })),
        }),
      );
      return;
    }
    if (path === '/metrics' && method === 'GET') {
      const text = await clusterMetrics();
      res.writeHead(200, { 'Content-Type': metrics.contentType });
      res.end(text);
      return;
    }
    if (method === 'GET' && o.page !== undefined && (await serveStatic(o.page, path, res))) return;
    throw new HttpError(404, `not found: ${method} ${path}`);
  }

  // The single server's deadlines: a client that stalls its headers or body holds nothing for long.
  const headersTimeout = 10_000;
  const server: Server = createServer(
    { headersTimeout, requestTimeout: headersTimeout + bodyTimeoutMs + 1000, connectionsCheckingInterval: 1000 },
    answeringErrors(route, (req, status, message) => {
      if (status === 500) log.error(`${req.method} ${req.url}: ${message}`);
    }),
  );
  const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const m = /^\/events\/([0-9a-f-]{36})$/.exec(url.pathname);
    const refuse = (status: string) => socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    if (!m) return refuse('404 Not Found');
    if (!authorized(req, url)) return refuse('401 Unauthorized');
    const id = m[1]!;
    if (!owner.has(id)) return refuse('404 Not Found');
    let entry = sockets.get(id);
    if (!entry) {
      const set = new Set<WebSocket>();
      const sub = nc.subscribe(subjects.events(id), {
        callback: (err, msg) => {
          if (err) return;
          const event = fromUtf8.decode(msg.data);
          for (const s of set) if (s.bufferedAmount < 1 << 20) s.send(event);
        },
      });
      entry = { set, sub };
      sockets.set(id, entry);
    }
    const mine = entry;
    const drop = (ws?: WebSocket) => {
      if (ws) mine.set.delete(ws);
      if (mine.set.size === 0 && sockets.get(id) === mine) {
        mine.sub.unsubscribe();
        sockets.delete(id);
      }
    };
    // The socket opens only once NATS has the subscription (a flush is a round trip to the
    // server): an event published right after the client sees the socket open is not missed.
    nc.flush().then(
      () =>
        wss.handleUpgrade(req, socket, head, (ws) => {
          if (sockets.get(id) !== mine) {
            // The session ended while the socket was being opened.
            ws.close(1000, 'session ended');
            return;
          }
          mine.set.add(ws);
          ws.on('message', () => ws.send(JSON.stringify({ type: 'error', message: '/events is read-only; send control on the data channel' })));
          ws.on('close', () => drop(ws));
        }),
      () => {
        drop();
        refuse('503 Service Unavailable');
      },
    );
  });

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(o.port ?? 8080, host, () => resolve());
    });
  } catch (e) {
    clearInterval(sweep);
    await nc.close();
    throw e;
  }
  const addr = server.address() as AddressInfo;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${addr.port}`;
  log.info(`front: serving on ${url}, placing sessions over NATS ${o.nats}`);
  return {
    url,
    workers,
    async close() {
      clearInterval(sweep);
      // Stop taking requests; those in flight finish (a placement waits for its worker's answer).
      await new Promise<void>((r) => server.close(() => r()));
      for (const id of [...sockets.keys()]) endSockets(id, { type: 'ended', reason: 'front-shutdown' });
      wss.close();
      for (const s of subs) s.unsubscribe();
      await nc.drain();
    },
  };
}

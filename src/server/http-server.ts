/**
 * Causeway's one HTTP server: WHIP ingest (RFC 9725), WHEP viewers of a live session
 * (`POST /whep/<session>`, `DELETE /whep/<session>/<viewer>`), /events WebSockets, /metrics,
 * /healthz and the example page. Every failure a client can cause is a 4xx/503 with a one-line
 * text reason; nothing a client sends can take the process down or disturb another session.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { createWhepPeer, createWhipPeer, type WhepPeer, type WhipPeerOptions } from '../../media/webrtc/index.js';
import { invalidArgument, isCausewayError } from '../../core/errors.js';
import { logger } from '../../core/log.js';
import { metrics } from '../../core/metrics.js';
import { Session } from './session.js';
import { defaultPipeline, type SessionPipeline } from './session-pipeline.js';
import { isStaticPath, serveStatic } from './static-files.js';

const log = logger('server');

export interface ServerOptions {
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** When set, POST/DELETE on WHIP need `Authorization: Bearer <token>`, and /events needs `?token=`. */
  token?: string;
  /** Sessions open at once; the next offer gets 503 (default 8). */
  maxSessions?: number;
  /** WHEP viewers per session; the next one gets 503 (default 4). Each encodes its own video. */
  maxViewers?: number;
  /** Seconds without RTCP from a viewer before it is considered gone (default 15: browsers report audio every ~5 s). */
  viewerTimeoutSec?: number;
  /** Milliseconds a client has to send a request body (an SDP offer) once its headers are in; then 408 (default 5000). */
  bodyTimeoutMs?: number;
  /** Milliseconds a client has to send a request's headers; then 408 (default 10000). */
  headersTimeoutMs?: number;
  /** What a session runs (default: defaultPipeline()). */
  pipeline?: SessionPipeline;
  /**
   * More pipelines a client can ask for by name: `POST /whip?pipeline=<name>` (e.g. `generate`,
   * src/server/generate-pipeline.ts); a WHIP offer without the parameter gets `pipeline`. An
   * unknown name is refused with 400 and the names there are. Each is warmed at start.
   */
  pipelines?: Readonly<Record<string, SessionPipeline>>;
  peer?: WhipPeerOptions;
  /**
   * A folder served at `/`: its index.html and the plain files beside it, by exact name. Absent:
   * no page, the HTTP API only. `causeway serve` passes Causeway's example page (examples/web).
   */
  page?: string;
}

export interface CausewayServer {
  readonly url: string;
  readonly sessions: ReadonlyMap<string, Session>;
  close(): Promise<void>;
}

const MAX_SDP_BYTES = 64 * 1024;
const httpErrors = metrics.counter('causeway_http_errors_total', 'HTTP requests answered with an error, by route and status');

/**
 * The `route` label of an HTTP error: one of a fixed few, never taken from the path, so a client
 * walking through unknown paths cannot add a metric series per path.
 */
export function routeLabel(pathname: string): 'whip' | 'whep' | 'events' | 'metrics' | 'static' | 'other' {
  const first = pathname.split('/')[1] ?? '';
  if (first === 'whip' || first === 'whep' || first === 'events' || first === 'metrics') return first;
  return isStaticPath(pathname) ? 'static' : 'other';
}

function positiveMs(name: string, v: number): number {
  if (!(Number.isFinite(v) && v > 0)) throw invalidArgument(`startServer: ${name} must be a positive number of milliseconds, got ${v}`);
  return v;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/**
 * Reads a request body of at most `limit` bytes within `timeoutMs`: a client that stalls mid-body
 * gets 408 and its connection closed, instead of holding it (and whatever it waits for) for
 * Node's 300 s request timeout.
 */
function readBody(req: IncomingMessage, limit: number, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    const done = () => {
      clearTimeout(timer);
      req.off('data', onData);
    };
    const timer = setTimeout(() => {
      done();
      reject(new HttpError(408, `request body not received within ${timeoutMs} ms`, { Connection: 'close' }));
    }, timeoutMs);
    const onData = (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        // Stop keeping it, but let the client finish sending so it can read the 413 we answer.
        done();
        req.resume();
        reject(new HttpError(413, `offer larger than ${limit} bytes`, { Connection: 'close' }));
        return;
      }
      parts.push(c);
    };
    req.on('data', onData);
    req.on('end', () => {
      done();
      resolve(Buffer.concat(parts).toString('utf8'));
    });
    req.on('error', (e) => {
      done();
      reject(e);
    });
  });
}

/** The request's path; '' when its target does not parse (the error path must not throw again). */
function pathOf(req: IncomingMessage): string {
  try {
    return new URL(req.url ?? '/', 'http://localhost').pathname;
  } catch {
    return '';
  }
}

const CORS = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Allow-Methods': 'POST, DELETE, OPTIONS',
  'Access-Control-Allow-Headers': 'Authorization, Content-Type',
  'Access-Control-Expose-Headers': 'Location',
};

export async function startServer(options: ServerOptions = {}): Promise<CausewayServer> {
  const host = options.host ?? '127.0.0.1';
  const maxSessions = options.maxSessions ?? 8;
  const maxViewers = options.maxViewers ?? 4;
  const bodyTimeoutMs = positiveMs('bodyTimeoutMs', options.bodyTimeoutMs ?? 5000);
  const headersTimeoutMs = positiveMs('headersTimeoutMs', options.headersTimeoutMs ?? 10_000);
  /** Viewers being set up, by session: they count against maxViewers before they exist. */
  const pendingViewers = new Map<string, number>();
  const pipeline = options.pipeline ?? defaultPipeline();
  const named = new Map(Object.entries(options.pipelines ?? {}));
  for (const name of named.keys()) {
    if (name === 'default') throw invalidArgument("startServer: 'default' is the `pipeline` option's name; give the others another");
    if (!/^[a-z][a-z0-9-]{0,31}$/.test(name)) throw invalidArgument(`startServer: pipeline names are lower-case words (a-z, 0-9, -), got '${name}'`);
  }
  // Models load before the first session, not inside one (a load blocks the event loop).
  const releases: (() => void)[] = [];
  try {
    for (const p of [pipeline, ...named.values()]) {
      const release = await p.warm?.();
      if (release) releases.push(release);
    }
  } catch (e) {
    releases.forEach((r) => r());
    throw e;
  }
  const releaseWarm = () => releases.forEach((r) => r());
  const pipelineFor = (url: URL): { name: string; pipeline: SessionPipeline } => {
    const name = url.searchParams.get('pipeline');
    if (name === null || name === 'default') return { name: 'default', pipeline };
    const p = named.get(name);
    if (p === undefined) {
      const names = ['default', ...named.keys()].join(', ');
      throw new HttpError(400, `no pipeline '${name.slice(0, 40)}' on this server (pipelines: ${names})`);
    }
    return { name, pipeline: p };
  };
  const sessions = new Map<string, Session>();
  let pending = 0;
  const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });

  const authorized = (req: IncomingMessage, url: URL): boolean => {
    if (!options.token) return true;
    return req.headers.authorization === `Bearer ${options.token}` || url.searchParams.get('token') === options.token;
  };
  const requireAuth = (req: IncomingMessage, url: URL) => {
    if (!authorized(req, url)) throw new HttpError(401, 'missing or wrong bearer token', { 'WWW-Authenticate': 'Bearer' });
  };

  const requireSdp = (req: IncomingMessage) => {
    const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
    if (type !== 'application/sdp') throw new HttpError(415, `offer must be Content-Type application/sdp, got '${type || 'none'}'`);
  };
  const peerOptions = (): WhipPeerOptions => ({ iceAdditionalHostAddresses: ['127.0.0.1'], timeoutSec: 4, ...options.peer });
  /** A bad offer is the client's fault (400); anything else is ours (500). */
  const asHttp = (e: unknown): unknown => (isCausewayError(e) && e.code === 'bad-offer' ? new HttpError(400, e.message) : e);

  async function whipPost(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    requireAuth(req, url);
    requireSdp(req);
    const chosen = pipelineFor(url);
    const full = () => new HttpError(503, `server full (${maxSessions} sessions)`, { 'Retry-After': '5' });
    if (sessions.size + pending >= maxSessions) throw full();
    // The slot is taken only once the offer is in: a client that stalls mid-body holds nothing.
    const offer = await readBody(req, MAX_SDP_BYTES, bodyTimeoutMs);
    if (sessions.size + pending >= maxSessions) throw full();
    pending++;
    let session: Session | undefined;
    try {
      // 4 s without RTP means the client is gone (a browser sends 50 packets/s while connected;
      // a killed one sends no DTLS close, and werift's ICE consent timeout is 30 s).
      const peer = await createWhipPeer(offer, peerOptions()).catch((e: unknown) => {
        throw asHttp(e);
      });
      session = new Session(peer, (s) => sessions.delete(s.id));
      sessions.set(session.id, session);
    } finally {
      pending--;
    }
    session.start(chosen.pipeline, chosen.name);
    const location = `/whip/${session.id}`;
    res.writeHead(201, { ...CORS, 'Content-Type': 'application/sdp', Location: location, ETag: `"${session.id}"` });
    res.end(session.peer.answer);
    log.info(`session ${session.id}: started (${sessions.size} open)`);
  }

  async function whipDelete(req: IncomingMessage, res: ServerResponse, url: URL, id: string): Promise<void> {
    requireAuth(req, url);
    const s = sessions.get(id);
    if (!s) throw new HttpError(404, `no session ${id}`);
    await s.close('deleted');
    res.writeHead(200, CORS);
    res.end();
  }

  async function whepPost(req: IncomingMessage, res: ServerResponse, url: URL, id: string): Promise<void> {
    requireAuth(req, url);
    requireSdp(req);
    const session = sessions.get(id);
    if (!session) throw new HttpError(404, `no session ${id}`);
    if (session.viewers + (pendingViewers.get(id) ?? 0) >= maxViewers) {
      throw new HttpError(503, `session ${id} has its ${maxViewers} viewers`, { 'Retry-After': '5' });
    }
    const offer = await readBody(req, MAX_SDP_BYTES, bodyTimeoutMs);
    if (!sessions.has(id)) throw new HttpError(404, `session ${id} has ended`);
    if (session.viewers + (pendingViewers.get(id) ?? 0) >= maxViewers) {
      throw new HttpError(503, `session ${id} has its ${maxViewers} viewers`, { 'Retry-After': '5' });
    }
    pendingViewers.set(id, (pendingViewers.get(id) ?? 0) + 1);
    let peer: WhepPeer;
    try {
      // A viewer sends no RTP; its receiver reports (every 1-7.5 s) say it is still there.
      peer = await createWhepPeer(offer, { ...peerOptions(), timeoutSec: options.viewerTimeoutSec ?? 15 }).catch((e: unknown) => {
        throw asHttp(e);
      });
    } finally {
      const n = (pendingViewers.get(id) ?? 1) - 1;
      if (n > 0) pendingViewers.set(id, n);
      else pendingViewers.delete(id);
    }
    const viewerId = session.addViewer(peer);
    if (viewerId === undefined) {
      // The session ended while the viewer was being set up.
      await peer.close();
      throw new HttpError(404, `session ${id} has ended`);
    }
    res.writeHead(201, { ...CORS, 'Content-Type': 'application/sdp', Location: `/whep/${id}/${viewerId}`, ETag: `"${viewerId}"` });
    res.end(peer.answer);
    log.info(`session ${id}: viewer ${viewerId} joined (${session.viewers} watching)`);
  }

  async function whepDelete(req: IncomingMessage, res: ServerResponse, url: URL, id: string, viewerId: string): Promise<void> {
    requireAuth(req, url);
    const session = sessions.get(id);
    if (!session || !(await session.removeViewer(viewerId))) throw new HttpError(404, `no viewer ${viewerId} of session ${id}`);
    res.writeHead(200, CORS);
    res.end();
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname;
    const method = req.method ?? 'GET';
    if (method === 'OPTIONS' && (path === '/whip' || path.startsWith('/whip/') || path.startsWith('/whep/'))) {
      res.writeHead(204, CORS);
      res.end();
      return;
    }
    if (path === '/whip') {
      if (method !== 'POST') throw new HttpError(405, 'use POST with an SDP offer', { Allow: 'POST, OPTIONS' });
      return whipPost(req, res, url);
    }
    const m = /^\/whip\/([0-9a-f-]{36})$/.exec(path);
    if (m) {
      if (method === 'DELETE') return whipDelete(req, res, url, m[1]);
      // Trickle ICE and ICE restarts (PATCH) are not supported: answers carry all candidates.
      throw new HttpError(405, 'only DELETE is supported on a session', { Allow: 'DELETE, OPTIONS' });
    }
    const whep = /^\/whep\/([0-9a-f-]{36})$/.exec(path);
    if (whep) {
      if (method !== 'POST') throw new HttpError(405, 'use POST with a recvonly SDP offer to watch a session', { Allow: 'POST, OPTIONS' });
      return whepPost(req, res, url, whep[1]);
    }
    const viewer = /^\/whep\/([0-9a-f-]{36})\/([0-9a-f-]{36})$/.exec(path);
    if (viewer) {
      if (method === 'DELETE') return whepDelete(req, res, url, viewer[1], viewer[2]);
      throw new HttpError(405, 'only DELETE is supported on a viewer', { Allow: 'DELETE, OPTIONS' });
    }
    if (path === '/whep' || path.startsWith('/whep/')) throw new HttpError(404, 'watch a session with POST /whep/<session id>');
    if (path === '/healthz' && method === 'GET') {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ status: 'ok', sessions: sessions.size, maxSessions }));
      return;
    }
    if (path === '/metrics' && method === 'GET') {
      for (const s of sessions.values()) s.updatePeerMetrics();
      res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4' });
      res.end(metrics.render());
      return;
    }
    if (method === 'GET' && options.page !== undefined && (await serveStatic(options.page, path, res))) return;
    throw new HttpError(404, `not found: ${method} ${path}`);
  }

  // Node checks these deadlines on a timer (30 s by default): check often enough to honour short ones.
  const requestTimeout = headersTimeoutMs + bodyTimeoutMs + 1000;
  const timeouts = { headersTimeout: headersTimeoutMs, requestTimeout, connectionsCheckingInterval: Math.max(50, Math.min(1000, headersTimeoutMs / 4)) };
  const server: Server = createServer(timeouts, (req, res) => {
    route(req, res).catch((e: unknown) => {
      const status = e instanceof HttpError ? e.status : 500;
      const message = e instanceof HttpError ? e.message : `internal error: ${(e as Error)?.message ?? String(e)}`;
      if (status === 500) log.error(`${req.method} ${req.url}: ${message}`);
      httpErrors.inc({ route: routeLabel(pathOf(req)), status: String(status) });
      if (res.headersSent) {
        res.destroy();
        return;
      }
      res.writeHead(status, { ...CORS, 'Content-Type': 'text/plain; charset=utf-8', ...(e instanceof HttpError ? e.headers : {}) });
      res.end(message.split('\n')[0] + '\n');
    });
  });

  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const m = /^\/events\/([0-9a-f-]{36})$/.exec(url.pathname);
    const session = m ? sessions.get(m[1]) : undefined;
    const refuse = (status: string) => {
      socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    };
    if (!m) return refuse('404 Not Found');
    if (!authorized(req, url)) return refuse('401 Unauthorized');
    if (!session) return refuse('404 Not Found');
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.on('message', () => ws.send(JSON.stringify({ type: 'error', message: '/events is read-only; send control on the data channel' })));
      session.attachSocket(ws);
    });
  });
  // A request that never completed its headers (timeout) or could not be parsed: one status line, then the connection goes.
  server.on('clientError', (e: NodeJS.ErrnoException, socket) => {
    if (!socket.writable) return socket.destroy();
    const status = e.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : '400 Bad Request';
    socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`, () => socket.destroy());
  });

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 8080, host, () => resolve());
    });
  } catch (e) {
    releaseWarm();
    throw e;
  }
  const addr = server.address() as AddressInfo;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${addr.port}`;

  return {
    url,
    sessions,
    async close() {
      await Promise.all([...sessions.values()].map((s) => s.close('server-shutdown')));
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      releaseWarm();
    },
  };
}

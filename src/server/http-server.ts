/**
 * Causeway's one HTTP server: WHIP ingest (RFC 9725), WHEP viewers of a live session
 * (`POST /whep/<session>`, `DELETE /whep/<session>/<viewer>`), /events WebSockets, /metrics,
 * /healthz and the page it is given. The WHIP and WHEP routes are whip-routes.ts and
 * whep-routes.ts; this file holds the server's state, the routing and the WebSockets. Every failure a client can cause is a 4xx/503 with a one-line
 * text reason; nothing a client sends can take the process down or disturb another session.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import type { WhipPeerOptions } from '../../media/webrtc/index.js';
import { invalidArgument } from '../../core/errors.js';
import { logger } from '../../core/log.js';
import { collectProcessMetrics, counter, metrics } from '../../core/metrics.js';
import type { Session } from './session.js';
import type { SessionPipeline } from './session-pipeline.js';
import { pipelineTable } from './pipeline-table.js';
import { answeringErrors, HttpError } from './http-util.js';
import type { RouteContext } from './route-context.js';
import { isStaticPath, serveStatic } from './static-files.js';
import { whepDelete, whepPost } from './whep-routes.js';
import { whipDelete, whipPost } from './whip-routes.js';
import { rtpAllowList, rtpPost } from './rtp-routes.js';
import { routeWhipWhep, type WhipWhepHandlers } from './whip-whep-table.js';

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
   * Networks allowed to open plain RTP sessions (`POST /rtp`), as CIDRs (default loopback only:
   * ['127.0.0.0/8', '::1/128']). Plain RTP is neither encrypted nor authenticated on the wire.
   */
  rtpNetworks?: readonly string[];
  /** Seconds without a packet before a plain RTP session ends (default 10). */
  rtpIdleTimeoutSec?: number;
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

const httpErrors = counter('causeway_http_errors_total', 'HTTP requests answered with an error, by route and status', ['route', 'status']);

/**
 * The `route` label of an HTTP error: one of a fixed few, never taken from the path, so a client
 * walking through unknown paths cannot add a metric series per path.
 */
export function routeLabel(pathname: string): 'whip' | 'whep' | 'rtp' | 'events' | 'metrics' | 'static' | 'other' {
  const first = pathname.split('/')[1] ?? '';
  if (first === 'whip' || first === 'whep' || first === 'rtp' || first === 'events' || first === 'metrics') return first;
  return isStaticPath(pathname) ? 'static' : 'other';
}

function positiveMs(name: string, v: number): number {
  if (!(Number.isFinite(v) && v > 0)) throw invalidArgument(`startServer: ${name} must be a positive number of milliseconds, got ${v}`);
  return v;
}



/** The request's path; '' when its target does not parse (the error path must not throw again). */
function pathOf(req: IncomingMessage): string {
  try {
    return new URL(req.url ?? '/', 'http://localhost').pathname;
  } catch {
    return '';
  }
}


export async function startServer(options: ServerOptions = {}): Promise<CausewayServer> {
  const host = options.host ?? '127.0.0.1';
  const maxSessions = options.maxSessions ?? 8;
  const maxViewers = options.maxViewers ?? 4;
  const bodyTimeoutMs = positiveMs('bodyTimeoutMs', options.bodyTimeoutMs ?? 5000);
  const headersTimeoutMs = positiveMs('headersTimeoutMs', options.headersTimeoutMs ?? 10_000);
  const table = pipelineTable(options.pipeline, options.pipelines);
  // /metrics shows the process too: CPU, memory, GC and event-loop lag (prom-client's default metrics).
  collectProcessMetrics();
  const releaseWarm = await table.warm();
  const pipelineFor = (url: URL) => table.pick(url.searchParams.get('pipeline'));
  const rtpAllowed = rtpAllowList(options.rtpNetworks);
  const sessions = new Map<string, Session>();
  const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });

  const authorized = (req: IncomingMessage, url: URL): boolean => {
    if (!options.token) return true;
    return req.headers.authorization === `Bearer ${options.token}` || url.searchParams.get('token') === options.token;
  };
  const ctx: RouteContext = {
    sessions,
    pendingSessions: 0,
    pendingViewers: new Map(),
    maxSessions,
    maxViewers,
    bodyTimeoutMs,
    viewerTimeoutSec: options.viewerTimeoutSec ?? 15,
    requireAuth(req, url) {
      if (!authorized(req, url)) throw new HttpError(401, 'missing or wrong bearer token', { 'WWW-Authenticate': 'Bearer' });
    },
    pipelineFor,
    peerOptions: () => ({ iceAdditionalHostAddresses: ['127.0.0.1'], timeoutSec: 4, ...options.peer }),
  };

  const whipWhep: WhipWhepHandlers = {
    publish: (req, res, url) => whipPost(ctx, req, res, url),
    end: (req, res, url, session) => whipDelete(ctx, req, res, url, session),
    watch: (req, res, url, session) => whepPost(ctx, req, res, url, session),
    stopWatching: (req, res, url, session, viewer) => whepDelete(ctx, req, res, url, session, viewer),
  };

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname;
    const method = req.method ?? 'GET';
    if (await routeWhipWhep(req, res, url, whipWhep)) return;
    if (path === '/rtp') {
      if (method !== 'POST') throw new HttpError(405, 'use POST with a plain RTP SDP offer', { Allow: 'POST' });
      // RTP listens where the request came in (the address the media server reached).
      return rtpPost(ctx, rtpAllowed, { host: (req.socket.localAddress ?? host).replace(/^::ffff:/, ''), idleTimeoutSec: options.rtpIdleTimeoutSec ?? 10 }, req, res, url);
    }
    const rtpSession = /^\/rtp\/([0-9a-f-]{36})$/.exec(path);
    if (rtpSession) {
      if (method === 'DELETE') return whipDelete(ctx, req, res, url, rtpSession[1]!);
      throw new HttpError(405, 'only DELETE is supported on a session', { Allow: 'DELETE' });
    }
    if (path === '/healthz' && method === 'GET') {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ status: 'ok', sessions: sessions.size, maxSessions }));
      return;
    }
    if (path === '/metrics' && method === 'GET') {
      for (const s of sessions.values()) s.updatePeerMetrics();
      const text = await metrics.metrics();
      res.writeHead(200, { 'Content-Type': metrics.contentType });
      res.end(text);
      return;
    }
    if (method === 'GET' && options.page !== undefined && (await serveStatic(options.page, path, res))) return;
    throw new HttpError(404, `not found: ${method} ${path}`);
  }

  // Node checks these deadlines on a timer (30 s by default): check often enough to honour short ones.
  const requestTimeout = headersTimeoutMs + bodyTimeoutMs + 1000;
  const timeouts = { headersTimeout: headersTimeoutMs, requestTimeout, connectionsCheckingInterval: Math.max(50, Math.min(1000, headersTimeoutMs / 4)) };
  const server: Server = createServer(
    timeouts,
    answeringErrors(route, (req, status, message) => {
      if (status === 500) log.error(`${req.method} ${req.url}: ${message}`);
      httpErrors.inc({ route: routeLabel(pathOf(req)), status: String(status) });
    }),
  );

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

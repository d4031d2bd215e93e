/**
 * The WHIP and WHEP routes, one table for the two servers that answer them: the single server
 * (http-server.ts: sessions in this process) and the scale-out front (cluster/front.ts: sessions
 * on workers). Each gives what a route does; the paths, methods, CORS preflight and the 405 and
 * 404 answers are the same for both.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { CORS, HttpError } from './http-util.js';

type Req = IncomingMessage;
type Res = ServerResponse;

export interface WhipWhepHandlers {
  /** POST /whip: a new session from an SDP offer. */
  publish(req: Req, res: Res, url: URL): Promise<void>;
  /** DELETE /whip/<session>. */
  end(req: Req, res: Res, url: URL, session: string): Promise<void>;
  /** POST /whep/<session>: a viewer of a session from a recvonly offer. */
  watch(req: Req, res: Res, url: URL, session: string): Promise<void>;
  /** DELETE /whep/<session>/<viewer>. */
  stopWatching(req: Req, res: Res, url: URL, session: string, viewer: string): Promise<void>;
}

const ID = '([0-9a-f-]{36})';
const SESSION = new RegExp(`^/whip/${ID}$`);
const WATCH = new RegExp(`^/whep/${ID}$`);
const VIEWER = new RegExp(`^/whep/${ID}/${ID}$`);

/** Answers `req` when its path is a WHIP or WHEP route (true), else leaves it (false). */
export async function routeWhipWhep(req: Req, res: Res, url: URL, h: WhipWhepHandlers): Promise<boolean> {
  const path = url.pathname;
  const method = req.method ?? 'GET';
  const whip = path === '/whip' || path.startsWith('/whip/');
  const whep = path === '/whep' || path.startsWith('/whep/');
  if (!whip && !whep) return false;
  if (method === 'OPTIONS') {
    res.writeHead(204, CORS);
    res.end();
    return true;
  }
  if (path === '/whip') {
    if (method !== 'POST') throw new HttpError(405, 'use POST with an SDP offer', { Allow: 'POST, OPTIONS' });
    await h.publish(req, res, url);
    return true;
  }
  const session = SESSION.exec(path);
  if (session) {
    // Trickle ICE and ICE restarts (PATCH) are not supported: answers carry all candidates.
    if (method !== 'DELETE') throw new HttpError(405, 'only DELETE is supported on a session', { Allow: 'DELETE, OPTIONS' });
    await h.end(req, res, url, session[1]!);
    return true;
  }
  const watch = WATCH.exec(path);
  if (watch) {
    if (method !== 'POST') throw new HttpError(405, 'use POST with a recvonly SDP offer to watch a session', { Allow: 'POST, OPTIONS' });
    await h.watch(req, res, url, watch[1]!);
    return true;
  }
  const viewer = VIEWER.exec(path);
  if (viewer) {
    if (method !== 'DELETE') throw new HttpError(405, 'only DELETE is supported on a viewer', { Allow: 'DELETE, OPTIONS' });
    await h.stopWatching(req, res, url, viewer[1]!, viewer[2]!);
    return true;
  }
  if (whep) throw new HttpError(404, 'watch a session with POST /whep/<session id>');
  throw new HttpError(404, `not found: ${method} ${path}`);
}

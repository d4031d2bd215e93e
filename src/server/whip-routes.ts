/**
 * WHIP ingest (RFC 9725): `POST /whip` opens a session from the client's offer, `DELETE
 * /whip/<id>` ends it. A session's slot is taken only once its offer is in, so a client that
 * stalls mid-body holds nothing.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createWhipPeer, type WhipPeer } from '../../media/webrtc/index.js';
import { logger } from '../../core/log.js';
import { asHttp, CORS, HttpError, MAX_SDP_BYTES, readBody, requireSdp } from './http-util.js';
import type { RouteContext } from './route-context.js';
import type { SessionPipeline } from './session-pipeline.js';
import { Session } from './session.js';

const log = logger('server');

export async function whipPost(ctx: RouteContext, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  const { sessions, maxSessions } = ctx;
  ctx.requireAuth(req, url);
  requireSdp(req);
  const chosen = ctx.pipelineFor(url);
  const full = () => new HttpError(503, `server full (${maxSessions} sessions)`, { 'Retry-After': '5' });
  if (sessions.size + ctx.pendingSessions >= maxSessions) throw full();
  const offer = await readBody(req, MAX_SDP_BYTES, ctx.bodyTimeoutMs);
  if (sessions.size + ctx.pendingSessions >= maxSessions) throw full();
  const session = await openSession(ctx, offer, chosen);
  const location = `/whip/${session.id}`;
  res.writeHead(201, { ...CORS, 'Content-Type': 'application/sdp', Location: location, ETag: `"${session.id}"` });
  res.end(session.peer.answer);
  log.info(`session ${session.id}: started (${sessions.size} open)`);
}

/**
 * A session from a WHIP offer, counted against maxSessions while its peer is made, started on
 * `chosen`. An offer the peer cannot take is an HttpError (400). Also what a scale-out worker
 * runs for an offer a front hands it (src/cluster/worker.ts).
 */
export async function openSession(
  ctx: Pick<RouteContext, 'sessions' | 'pendingSessions' | 'peerOptions'>,
  offer: string,
  chosen: { name: string; pipeline: SessionPipeline },
  /** Called once the session has ended and left `sessions`. */
  onClosed?: (s: Session) => void,
  /** Makes the session's peer from the offer (default: a WebRTC peer; plain RTP has its own, rtp-routes.ts). */
  makePeer?: (offer: string) => Promise<WhipPeer>,
): Promise<Session> {
  ctx.pendingSessions++;
  let session: Session;
  try {
    // 4 s without RTP means the client is gone (a browser sends 50 packets/s while connected;
    // a killed one sends no DTLS close, and werift's ICE consent timeout is 30 s).
    const peer = await (makePeer ?? ((o: string) => createWhipPeer(o, ctx.peerOptions())))(offer).catch((e: unknown) => {
      throw asHttp(e);
    });
    session = new Session(peer, (s) => {
      ctx.sessions.delete(s.id);
      onClosed?.(s);
    });
    ctx.sessions.set(session.id, session);
  } finally {
    ctx.pendingSessions--;
  }
  session.start(chosen.pipeline, chosen.name);
  return session;
}

export async function whipDelete(ctx: RouteContext, req: IncomingMessage, res: ServerResponse, url: URL, id: string): Promise<void> {
  ctx.requireAuth(req, url);
  const s = ctx.sessions.get(id);
  if (!s) throw new HttpError(404, `no session ${id}`);
  await s.close('deleted');
  res.writeHead(200, CORS);
  res.end();
}

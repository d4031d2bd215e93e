/**
 * WHEP viewers of a live session: `POST /whep/<session>` adds a viewer from its recvonly offer,
 * `DELETE /whep/<session>/<viewer>` removes it. Viewers being set up count against the session's
 * limit before they exist.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createWhepPeer, type WhepPeer } from '../../media/webrtc/index.js';
import { logger } from '../../core/log.js';
import { asHttp, CORS, HttpError, MAX_SDP_BYTES, readBody, requireSdp } from './http-util.js';
import type { RouteContext } from './route-context.js';

const log = logger('server');

export async function whepPost(ctx: RouteContext, req: IncomingMessage, res: ServerResponse, url: URL, id: string): Promise<void> {
  const { sessions, pendingViewers, maxViewers } = ctx;
  ctx.requireAuth(req, url);
  requireSdp(req);
  const session = sessions.get(id);
  if (!session) throw new HttpError(404, `no session ${id}`);
  if (session.viewers + (pendingViewers.get(id) ?? 0) >= maxViewers) {
    throw new HttpError(503, `session ${id} has its ${maxViewers} viewers`, { 'Retry-After': '5' });
  }
  const offer = await readBody(req, MAX_SDP_BYTES, ctx.bodyTimeoutMs);
  const viewer = await openViewer(ctx, id, offer);
  res.writeHead(201, { ...CORS, 'Content-Type': 'application/sdp', Location: `/whep/${id}/${viewer.id}`, ETag: `"${viewer.id}"` });
  res.end(viewer.answer);
}

/**
 * A viewer of session `id` from its recvonly offer (the caller has checked the session and its
 * viewer limit): counted as pending while its peer is made. Also what a scale-out worker runs for
 * a viewer a front hands it (src/cluster/worker.ts).
 */
export async function openViewer(
  ctx: Pick<RouteContext, 'sessions' | 'pendingViewers' | 'maxViewers' | 'peerOptions' | 'viewerTimeoutSec'>,
  id: string,
  offer: string,
): Promise<{ id: string; answer: string }> {
  const { sessions, pendingViewers, maxViewers } = ctx;
  const session = sessions.get(id);
  if (!session) throw new HttpError(404, `session ${id} has ended`);
  if (session.viewers + (pendingViewers.get(id) ?? 0) >= maxViewers) {
    throw new HttpError(503, `session ${id} has its ${maxViewers} viewers`, { 'Retry-After': '5' });
  }
  pendingViewers.set(id, (pendingViewers.get(id) ?? 0) + 1);
  let peer: WhepPeer;
  try {
    // A viewer sends no RTP; its receiver reports (every 1-7.5 s) say it is still there.
    peer = await createWhepPeer(offer, { ...ctx.peerOptions(), timeoutSec: ctx.viewerTimeoutSec }).catch((e: unknown) => {
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
  log.info(`session ${id}: viewer ${viewerId} joined (${session.viewers} watching)`);
  return { id: viewerId, answer: peer.answer };
}

export async function whepDelete(ctx: RouteContext, req: IncomingMessage, res: ServerResponse, url: URL, id: string, viewerId: string): Promise<void> {
  ctx.requireAuth(req, url);
  const session = ctx.sessions.get(id);
  if (!session || !(await session.removeViewer(viewerId))) throw new HttpError(404, `no viewer ${viewerId} of session ${id}`);
  res.writeHead(200, CORS);
  res.end();
}

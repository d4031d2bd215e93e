/**
 * Plain RTP sessions (docs/media-servers.md): `POST /rtp` opens a session from a media server's
 * SDP offer (the Opus it sends, optionally VP8 video, and where it takes results back),
 * answering with the UDP ports Causeway listens on; `DELETE /rtp/<id>` ends it. The same pipelines and `/events/<id>` as WHIP.
 * Plain RTP has no encryption or authentication of its own, so only the networks the server is
 * told to trust may open one (default: loopback), and the bearer token applies as for WHIP.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { BlockList, isIPv4 } from 'node:net';
import { createRtpPeer } from '../../media/rtp/index.js';
import { invalidArgument } from '../../core/errors.js';
import { logger } from '../../core/log.js';
import { CORS, HttpError, MAX_SDP_BYTES, readBody, requireSdp } from './http-util.js';
import type { RouteContext } from './route-context.js';
import { openSession } from './whip-routes.js';

const log = logger('server');

/** The networks allowed to open plain RTP sessions: CIDRs like '10.0.0.0/8'; default loopback. */
export function rtpAllowList(networks: readonly string[] = ['127.0.0.0/8', '::1/128']): BlockList {
  const list = new BlockList();
  for (const n of networks) {
    const [address, bits] = n.split('/');
    const prefix = Number(bits);
    const type = isIPv4(address ?? '') ? 'ipv4' : 'ipv6';
    if (!address || !Number.isInteger(prefix) || prefix < 0 || prefix > (type === 'ipv4' ? 32 : 128)) throw invalidArgument(`startServer: rtpNetworks entries are CIDRs like '10.0.0.0/8', got '${n}'`);
    list.addSubnet(address, prefix, type);
  }
  return list;
}

export async function rtpPost(ctx: RouteContext, allowed: BlockList, rtp: { host: string; idleTimeoutSec: number }, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  const remote = (req.socket.remoteAddress ?? '').replace(/^::ffff:/, '');
  if (!allowed.check(remote, isIPv4(remote) ? 'ipv4' : 'ipv6')) throw new HttpError(403, `plain RTP sessions are not open to ${remote} (ServerOptions.rtpNetworks)`);
  ctx.requireAuth(req, url);
  requireSdp(req);
  const chosen = ctx.pipelineFor(url);
  if (ctx.sessions.size + ctx.pendingSessions >= ctx.maxSessions) throw new HttpError(503, `server full (${ctx.maxSessions} sessions)`, { 'Retry-After': '5' });
  const offer = await readBody(req, MAX_SDP_BYTES, ctx.bodyTimeoutMs);
  // The decoded video's size and the returned video's encoder: the same settings as WHIP's peers.
  const { video, ffmpegPath } = ctx.peerOptions();
  const options = { ...rtp, ...(video !== undefined ? { video } : {}), ...(ffmpegPath !== undefined ? { ffmpegPath } : {}) };
  const session = await openSession(ctx, offer, chosen, undefined, (o) => createRtpPeer(o, options));
  res.writeHead(201, { ...CORS, 'Content-Type': 'application/sdp', Location: `/rtp/${session.id}`, ETag: `"${session.id}"` });
  res.end(session.peer.answer);
  log.info(`session ${session.id}: plain RTP${session.peer.hasVideo ? ' with video' : ''}, started (${ctx.sessions.size} open)`);
}

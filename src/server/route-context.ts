/** What the WHIP and WHEP routes share with the server that owns them (http-server.ts). */
import type { IncomingMessage } from 'node:http';
import type { WhipPeerOptions } from '../../media/webrtc/index.js';
import type { Session } from './session.js';
import type { SessionPipeline } from './session-pipeline.js';

export interface RouteContext {
  readonly sessions: Map<string, Session>;
  /** Sessions being set up (their offers read, their peers not yet made): they count against maxSessions. */
  pendingSessions: number;
  /** Viewers being set up, by session: they count against maxViewers before they exist. */
  readonly pendingViewers: Map<string, number>;
  readonly maxSessions: number;
  readonly maxViewers: number;
  readonly bodyTimeoutMs: number;
  readonly viewerTimeoutSec: number;
  requireAuth(req: IncomingMessage, url: URL): void;
  /** The pipeline a WHIP offer asks for (`?pipeline=`); 400 for a name the server does not have. */
  pipelineFor(url: URL): { name: string; pipeline: SessionPipeline };
  peerOptions(): WhipPeerOptions;
}

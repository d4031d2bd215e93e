/**
 * One WHIP session: one peer connection and one pipeline subscription, torn down together
 * and completely (peer, pipeline, /events sockets, metric series) whatever ends it: DELETE,
 * the peer leaving or failing, a pipeline error, or server shutdown.
 */
import { randomUUID } from 'node:crypto';
import { Subscription, filter } from 'rxjs';
import type { WebSocket } from 'ws';
import type { WhipPeer } from '../../media/webrtc/index.js';
import { isCausewayError } from '../core/errors.js';
import { logger } from '../core/log.js';
import { metrics } from '../core/metrics.js';
import type { SessionPipeline } from './session-pipeline.js';

const log = logger('session');

export const sessionMetrics = {
  active: metrics.gauge('causeway_sessions', 'Sessions currently open'),
  started: metrics.counter('causeway_sessions_started_total', 'Sessions created'),
  ended: metrics.counter('causeway_sessions_ended_total', 'Sessions ended, by reason'),
  eventsOut: metrics.counter('causeway_events_sent_total', 'JSON events sent to clients, by channel'),
  wsDrops: metrics.counter('causeway_events_dropped_total', 'Events not sent to a slow /events socket'),
  peer: metrics.gauge('causeway_peer_stat', 'Per-session peer counters (packets, bytes, frames), by session and stat'),
};

/** A slow /events reader gets events dropped beyond this much unsent data, never unbounded memory. */
const WS_MAX_BUFFERED = 1 << 20;

type Json = { type: string; [k: string]: unknown };
type Out = { readonly type: string };

export class Session {
  readonly id = randomUUID();
  readonly createdAt = Date.now();
  private readonly sockets = new Set<WebSocket>();
  private readonly subs = new Subscription();
  private closing: Promise<void> | undefined;

  constructor(
    readonly peer: WhipPeer,
    private readonly onClosed: (s: Session) => void,
  ) {
    sessionMetrics.started.inc();
    sessionMetrics.active.add({}, 1);
  }

  start(pipeline: SessionPipeline): void {
    const control$ = this.peer.messages$.pipe(
      filter((msg): msg is Json => typeof msg === 'object' && msg !== null && typeof (msg as Json).type === 'string'),
    );
    // Built-in control handled here so every pipeline gets it: ping -> pong (RTT for the page).
    this.subs.add(
      control$.pipe(filter((c) => c.type === 'ping')).subscribe((c) => this.emit({ type: 'pong', t: c.t, serverMs: Date.now() })),
    );
    this.subs.add(
      this.peer.messages$
        .pipe(filter((msg) => typeof msg !== 'object' || msg === null || typeof (msg as Json).type !== 'string'))
        .subscribe(() => this.emit({ type: 'error', message: 'control messages must be JSON objects with a string "type"' })),
    );
    let out: ReturnType<SessionPipeline>;
    try {
      out = pipeline({ audio$: this.peer.audio$, control$: control$.pipe(filter((c) => c.type !== 'ping')) });
    } catch (e) {
      this.fail(e);
      return;
    }
    this.subs.add(out.events$.subscribe({ next: (e) => this.emit(e), error: (e) => this.fail(e) }));
    if (out.audio$) {
      this.subs.add(
        out.audio$.subscribe({
          next: (f) => {
            try {
              this.peer.sendAudio(f);
            } catch (e) {
              this.fail(e);
            }
          },
          error: (e) => this.fail(e),
        }),
      );
    }
    this.subs.add(
      this.peer.state$.subscribe((s) => {
        if (s === 'failed' || s === 'closed') void this.close(s === 'failed' ? 'peer-failed' : 'peer-closed');
      }),
    );
  }

  /** Sends an event to the peer's data channel and every /events socket. */
  emit(event: Out | Json): void {
    if (this.closing) return;
    this.peer.send(event);
    sessionMetrics.eventsOut.inc({ channel: 'datachannel' });
    if (this.sockets.size === 0) return;
    const text = JSON.stringify(event);
    for (const ws of this.sockets) {
      if (ws.bufferedAmount > WS_MAX_BUFFERED) {
        sessionMetrics.wsDrops.inc();
        continue;
      }
      ws.send(text);
      sessionMetrics.eventsOut.inc({ channel: 'websocket' });
    }
  }

  attachSocket(ws: WebSocket): void {
    this.sockets.add(ws);
    ws.on('close', () => this.sockets.delete(ws));
    ws.on('error', () => this.sockets.delete(ws));
  }

  private fail(e: unknown): void {
    const msg = isCausewayError(e) ? `${e.message} [${e.code}]` : e instanceof Error ? e.message : String(e);
    log.warn(`session ${this.id}: pipeline failed: ${msg}`);
    this.emit({ type: 'error', message: msg });
    void this.close('pipeline-error');
  }

  updatePeerMetrics(): void {
    if (this.closing) return;
    for (const [stat, v] of Object.entries(this.peer.stats())) sessionMetrics.peer.set({ session: this.id, stat }, v);
  }

  close(reason: string): Promise<void> {
    if (this.closing) return this.closing;
    this.closing = (async () => {
      log.info(`session ${this.id}: closing (${reason})`);
      this.subs.unsubscribe();
      for (const ws of this.sockets) ws.close(1000, 'session ended');
      this.sockets.clear();
      try {
        await this.peer.close();
      } finally {
        for (const stat of Object.keys(this.peer.stats())) sessionMetrics.peer.remove({ session: this.id, stat });
        sessionMetrics.active.add({}, -1);
        sessionMetrics.ended.inc({ reason });
        this.onClosed(this);
      }
    })();
    return this.closing;
  }
}

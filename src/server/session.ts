/**
 * One WHIP session: one peer connection and one pipeline subscription, torn down together
 * and completely (peer, pipeline, WHEP viewers, /events sockets, metric series) whatever ends
 * it: DELETE, the peer leaving or failing, a pipeline error, or server shutdown.
 *
 * Outputs are fanned out, never recomputed: the pipeline is subscribed once, and its audio,
 * video and events go through Subjects to the WHIP peer and to each WHEP viewer. Every
 * consumer's send is non-blocking (Opus encoding in-process; VP8 into a bounded drop-oldest
 * encoder queue; RTP over UDP; data-channel JSON dropped past 1 MiB unsent), so a slow or
 * vanished viewer costs only its own frames; a viewer whose send throws is closed alone.
 */
import { randomUUID } from 'node:crypto';
import { Subject, Subscription, filter, mergeMap } from 'rxjs';
import type { WebSocket } from 'ws';
import type { WhepPeer, WhipPeer } from '../../media/webrtc/index.js';
import { isCausewayError } from '../../core/errors.js';
import type { AudioFrame, VideoFrame } from '../../core/frames.js';
import { logger } from '../../core/log.js';
import { counter, gauge } from '../../core/metrics.js';
import { normalizePosition } from '../../core/position.js';
import type { SessionPipeline } from './session-pipeline.js';

const log = logger('session');

export const sessionMetrics = {
  active: gauge('causeway_sessions', 'Sessions currently open'),
  started: counter('causeway_sessions_started_total', 'Sessions created'),
  ended: counter('causeway_sessions_ended_total', 'Sessions ended, by reason', ['reason']),
  eventsOut: counter('causeway_events_sent_total', 'JSON events sent to clients, by channel', ['channel']),
  wsDrops: counter('causeway_events_dropped_total', 'Events not sent to a slow /events socket'),
  peer: gauge('causeway_peer_stat', 'Per-session peer counters (packets, bytes, frames), by session and stat', ['session', 'stat']),
  viewers: gauge('causeway_whep_viewers', 'WHEP viewers currently watching'),
  viewersEnded: counter('causeway_whep_viewers_ended_total', 'WHEP viewers ended, by reason', ['reason']),
  latency: gauge('causeway_pipeline_latency_ms', "Algorithmic latency a pipeline's output declares (its operators' sum), by pipeline and output", ['pipeline', 'output']),
};

/** A slow /events reader gets events dropped beyond this much unsent data, never unbounded memory. */
const WS_MAX_BUFFERED = 1 << 20;

type Json = { type: string; [k: string]: unknown };
type Out = { readonly type: string };

export class Session {
  readonly id = randomUUID();
  readonly createdAt = Date.now();
  private readonly sockets = new Set<WebSocket>();
  /** Other receivers of the session's events as JSON text (a scale-out worker's NATS subject). */
  private readonly sinks = new Set<(text: string) => void>();
  /** Why the session ended, once it has (close()'s reason). */
  endReason: string | undefined;
  private readonly subs = new Subscription();
  private closing: Promise<void> | undefined;
  /** The pipeline's outputs, shared by the WHIP peer and the viewers. */
  private readonly audioOut = new Subject<AudioFrame>();
  private readonly videoOut = new Subject<VideoFrame>();
  private readonly eventsOut = new Subject<Out>();
  private readonly viewerList = new Map<string, { peer: WhepPeer; subs: Subscription; closing?: Promise<void> }>();

  constructor(
    readonly peer: WhipPeer,
    private readonly onClosed: (s: Session) => void,
  ) {
    sessionMetrics.started.inc();
    sessionMetrics.active.inc();
  }

  /** Runs `pipeline` (its name, as the client chose it, labels its latency metric). */
  start(pipeline: SessionPipeline, name = 'default'): void {
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
    // Built-in too: `position` messages (docs/server.md) are checked here, once; a refused one is
    // answered with an error and never reaches the pipeline, an accepted one reaches it in range.
    this.subs.add(
      control$.pipe(filter((c) => c.type === 'position')).subscribe((c) => {
        const r = normalizePosition(c);
        if ('error' in r) this.emit({ type: 'error', message: r.error });
      }),
    );
    const pipelineControl$ = control$.pipe(
      filter((c) => c.type !== 'ping'),
      mergeMap((c): Json[] => {
        if (c.type !== 'position') return [c];
        const r = normalizePosition(c);
        return 'error' in r ? [] : [{ type: 'position', ...r.position }];
      }),
    );
    let out: ReturnType<SessionPipeline>;
    try {
      out = pipeline({
        audio$: this.peer.audio$,
        ...(this.peer.hasVideo ? { video$: this.peer.video$ } : {}),
        control$: pipelineControl$,
      });
    } catch (e) {
      this.fail(e);
      return;
    }
    if (out.latencyUs !== undefined) {
      // What the operators declare, composed: the client learns what to expect, the metric shows it.
      const latencyMs: Record<string, number> = {};
      for (const [output, us] of Object.entries(out.latencyUs)) {
        if (us === undefined) continue;
        latencyMs[output] = Math.round(us / 10) / 100;
        sessionMetrics.latency.set({ pipeline: name, output }, us / 1000);
      }
      this.emit({ type: 'pipeline', name, latencyMs });
    }
    // The WHIP peer first: a frame it refuses is a pipeline bug, which ends the session.
    this.subs.add(this.audioOut.subscribe((f) => this.guard(() => this.peer.sendAudio(f))));
    this.subs.add(this.videoOut.subscribe((f) => this.guard(() => this.peer.sendVideo(f))));
    this.subs.add(
      out.events$.subscribe({
        next: (e) => {
          this.emit(e);
          this.eventsOut.next(e);
        },
        error: (e) => this.fail(e),
      }),
    );
    if (out.audio$) this.subs.add(out.audio$.subscribe({ next: (f) => this.audioOut.next(f), error: (e) => this.fail(e) }));
    if (out.video$) this.subs.add(out.video$.subscribe({ next: (f) => this.videoOut.next(f), error: (e) => this.fail(e) }));
    this.subs.add(
      this.peer.state$.subscribe((s) => {
        if (s === 'failed' || s === 'closed') void this.close(s === 'failed' ? 'peer-failed' : 'peer-closed');
      }),
    );
    // A media process that dies is this session's problem only: its client is told, the session goes on.
    this.subs.add(this.peer.faults$.subscribe((message) => this.emit({ type: 'error', source: 'media', message })));
  }

  /** Sends an event to the peer's data channel and every /events socket. */
  emit(event: Out | Json): void {
    if (this.closing) return;
    this.peer.send(event);
    sessionMetrics.eventsOut.inc({ channel: 'datachannel' });
    if (this.sockets.size === 0 && this.sinks.size === 0) return;
    const text = JSON.stringify(event);
    for (const sink of this.sinks) sink(text);
    for (const ws of this.sockets) {
      if (ws.bufferedAmount > WS_MAX_BUFFERED) {
        sessionMetrics.wsDrops.inc();
        continue;
      }
      ws.send(text);
      sessionMetrics.eventsOut.inc({ channel: 'websocket' });
    }
  }

  get viewers(): number {
    return this.viewerList.size;
  }

  /**
   * Adds a WHEP viewer: from now on it gets the session's audio, video and pipeline events.
   * Returns its id (for DELETE /whep/<session>/<id>), or undefined if the session is ending (the
   * caller closes the peer). The viewer ends on its own when it leaves, and with the session.
   */
  addViewer(peer: WhepPeer): string | undefined {
    if (this.closing) return undefined;
    const id = randomUUID();
    const subs = new Subscription();
    const entry: { peer: WhepPeer; subs: Subscription; closing?: Promise<void> } = { peer, subs };
    this.viewerList.set(id, entry);
    sessionMetrics.viewers.inc();
    const safely = (what: string, f: () => void) => {
      try {
        f();
      } catch (e) {
        log.warn(`session ${this.id}: viewer ${id}: ${what} failed: ${(e as Error).message}`);
        void this.removeViewer(id, 'send-error');
      }
    };
    subs.add(this.audioOut.subscribe((f) => safely('audio', () => peer.sendAudio(f))));
    if (peer.hasVideo) subs.add(this.videoOut.subscribe((f) => safely('video', () => peer.sendVideo(f))));
    subs.add(this.eventsOut.subscribe((e) => safely('event', () => peer.send(e))));
    subs.add(
      peer.messages$.subscribe((msg) => {
        const m = msg as Json | null;
        if (typeof m === 'object' && m !== null && m.type === 'ping') peer.send({ type: 'pong', t: m.t, serverMs: Date.now() });
      }),
    );
    subs.add(
      peer.state$.subscribe((s) => {
        if (s === 'failed' || s === 'closed') void this.removeViewer(id, s === 'failed' ? 'peer-failed' : 'peer-closed');
      }),
    );
    return id;
  }

  /** Ends a viewer (DELETE, or it left); false if there is no such viewer. */
  async removeViewer(id: string, reason = 'deleted'): Promise<boolean> {
    const v = this.viewerList.get(id);
    if (v === undefined) return false;
    if (v.closing === undefined) {
      v.subs.unsubscribe();
      v.closing = v.peer.close().finally(() => {
        this.viewerList.delete(id);
        sessionMetrics.viewers.dec();
        sessionMetrics.viewersEnded.inc({ reason });
      });
    }
    await v.closing;
    return true;
  }

  /** Sends every later event, as JSON text, to `sink` too (it must not block); returns the detach. */
  attachSink(sink: (text: string) => void): () => void {
    this.sinks.add(sink);
    return () => this.sinks.delete(sink);
  }

  attachSocket(ws: WebSocket): void {
    this.sockets.add(ws);
    ws.on('close', () => this.sockets.delete(ws));
    ws.on('error', () => this.sockets.delete(ws));
  }

  /** Runs a send to the WHIP peer; a throw (a malformed frame) fails the session. */
  private guard(send: () => void): void {
    try {
      send();
    } catch (e) {
      this.fail(e);
    }
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
    this.endReason = reason;
    this.closing = (async () => {
      log.info(`session ${this.id}: closing (${reason})`);
      this.subs.unsubscribe();
      this.sinks.clear();
      for (const ws of this.sockets) ws.close(1000, 'session ended');
      this.sockets.clear();
      const viewers = [...this.viewerList.keys()].map((id) => this.removeViewer(id, 'session-ended'));
      try {
        await Promise.all([this.peer.close(), ...viewers]);
      } finally {
        for (const stat of Object.keys(this.peer.stats())) sessionMetrics.peer.remove({ session: this.id, stat });
        sessionMetrics.active.dec();
        sessionMetrics.ended.inc({ reason });
        this.onClosed(this);
      }
    })();
    return this.closing;
  }
}

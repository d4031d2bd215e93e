/**
 * The door of a plain RTP receiver: every datagram on its RTP and RTCP sockets sorted into RTP
 * of its payload type (passed on), RTCP (rtcp-intake.ts: counted, sender reports to the
 * timeline, BYE), and what is neither (counted in `causeway_rtp_dropped_total{why}`, dropped).
 * A BYE only counts when it names the source whose packets are being received.
 */
import type { Socket } from 'node:dgram';
import { CausewayError } from '../../core/errors.js';
import { nowMs } from '../../core/frames.js';
import { rtpDropped } from './metrics.js';
import { newRtcpStats, takeRtcp, type RtcpStats } from './rtcp-intake.js';
import { isRtcp } from './rtcp-packet.js';
import { parseRtp, type RtpPacketView } from './rtp-packet.js';
import type { RtpTimeline } from './sender-clock.js';
import { bindRtpSockets, closeSockets, type RtcpPort, type RtpSockets } from './udp-ports.js';

export interface DoorStats extends RtcpStats {
  datagrams: number;
  notRtp: number;
  otherPayloadType: number;
}

export function newDoorStats(): DoorStats {
  return { datagrams: 0, notRtp: 0, otherPayloadType: 0, ...newRtcpStats() };
}

export interface DoorOptions {
  readonly payloadType: number;
  readonly timeline: RtpTimeline;
  readonly stats: DoorStats;
  /** An RTP packet of the payload type, with its arrival (ms, Unix epoch). */
  readonly onPacket: (p: RtpPacketView, arrivalMs: number) => void;
  /** The source being received sent a BYE. */
  readonly onBye: () => void;
}

export class RtpDoor {
  private ssrc: number | undefined;

  constructor(private readonly o: DoorOptions) {}

  /** Listens on the RTP socket (RTP, and RTCP muxed) and the RTCP one, when there is one. */
  attach(rtp: Socket, rtcp: Socket | undefined): void {
    rtp.on('message', (d) => this.take(d));
    rtcp?.on('message', (d) => {
      this.o.stats.datagrams++;
      if (isRtcp(d)) this.rtcp(d);
      else this.drop('not-rtcp');
    });
  }

  take(d: Uint8Array): void {
    const stats = this.o.stats;
    stats.datagrams++;
    if (isRtcp(d)) return this.rtcp(d);
    const p = parseRtp(d);
    if (p === null) return this.drop('not-rtp');
    if (p.payloadType !== this.o.payloadType) {
      stats.otherPayloadType++;
      rtpDropped.inc({ why: 'payload-type' });
      return;
    }
    this.ssrc = p.ssrc;
    this.o.onPacket(p, nowMs());
  }

  private rtcp(d: Uint8Array): void {
    takeRtcp(d, nowMs(), this.o.timeline, this.o.stats, (ssrc) => {
      if (ssrc === this.ssrc) this.o.onBye();
    });
  }

  private drop(why: 'not-rtp' | 'not-rtcp'): void {
    this.o.stats.notRtp++;
    rtpDropped.inc({ why });
  }
}

/**
 * Binds a receiver's sockets (udp-ports.ts) and lets `door` listen on them; a socket error, or
 * a port that cannot be bound, goes to `fail`. Returns the teardown: it closes the sockets,
 * also when they are bound only after it ran.
 */
export function openDoor(
  door: RtpDoor,
  where: { host: string; port: number; rtcpPort: RtcpPort; who: string },
  fail: (e: unknown) => void,
  onListening?: (port: number, rtcpPort: number | undefined) => void,
): () => void {
  let sockets: RtpSockets | undefined;
  let closed = false;
  bindRtpSockets(where.host, where.port, where.rtcpPort, where.who).then(
    (s) => {
      sockets = s;
      if (closed) return closeSockets(s);
      const failed = (e: Error) => fail(new CausewayError('input-not-found', `${where.who}: socket error on ${where.host}:${s.port} (${e.message})`, { cause: e }));
      s.rtp.on('error', failed);
      s.rtcp?.on('error', failed);
      door.attach(s.rtp, s.rtcp);
      onListening?.(s.port, s.rtcpPort);
    },
    fail,
  );
  return () => {
    closed = true;
    if (sockets) closeSockets(sockets);
  };
}

/** What every plain RTP input (audio, video) takes: where it listens, and how a stream ends. */
export interface RtpInputOptions {
  /** The stream's SDP: its audio (or video) section's port and payload type are used. */
  readonly sdp?: string;
  /** Without an SDP: the UDP port to listen on (0 picks a free one; `onListening` says which)... */
  readonly port?: number;
  /** ...and the payload type (default 111 for Opus audio, 96 for VP8 video). */
  readonly payloadType?: number;
  /** Address to listen on (default 127.0.0.1: loopback only; '0.0.0.0' for a media server elsewhere). */
  readonly host?: string;
  /**
   * Where RTCP comes (it is also always accepted muxed on the RTP port): a port, 'mux' for only
   * there; default the SDP's `a=rtcp:` port, or none with its `a=rtcp-mux`, else the RTP port + 1
   * when that is free.
   */
  readonly rtcpPort?: number | 'mux';
  /** Shared with the inputs of the same sender so their pts line up (sender-clock.ts); default one of its own. */
  readonly timeline?: RtpTimeline;
  /** A BYE from the source ends the stream (default true); false keeps listening (a sender may come back with a new SSRC). */
  readonly endOnBye?: boolean;
  /** Ends the stream this long after the last packet, once one has come (default: never, a live input). */
  readonly idleTimeoutMs?: number;
  /** Called with the bound port (and the RTCP port, when one is listened on apart) once the sockets listen. */
  readonly onListening?: (port: number, rtcpPort?: number) => void;
}

/**
 * When a live plain RTP input ends: `idleTimeoutMs` after its last packet, once one has come
 * (never without it), or a short wait after a BYE, for what the sender sent just before it. The
 * idle check waits for the I/O phase (setImmediate runs after it): the timer may fire after the
 * event loop was held up (a model loading downstream) with datagrams still unread.
 */
export class LiveEnd {
  private timer: NodeJS.Timeout | undefined;
  private lastMs = 0;

  constructor(
    private readonly idleTimeoutMs: number | undefined,
    private readonly end: () => void,
  ) {}

  packet(): void {
    this.lastMs = Date.now();
    if (this.idleTimeoutMs !== undefined && this.timer === undefined) this.timer = setTimeout(this.check, this.idleTimeoutMs);
  }

  bye(waitMs: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => setImmediate(this.end), waitMs);
  }

  stop(): void {
    clearTimeout(this.timer);
  }

  private readonly check = (): void => {
    setImmediate(() => {
      const quiet = Date.now() - this.lastMs;
      if (quiet >= this.idleTimeoutMs!) this.end();
      else this.timer = setTimeout(this.check, this.idleTimeoutMs! - quiet);
    });
  };
}

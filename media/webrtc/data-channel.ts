/**
 * JSON over the client's data channels. Incoming text that is not JSON is answered on the same
 * channel with {"type":"error"} and counted, never emitted: a client bug must not end a session.
 * Outgoing messages wait in a bounded queue (drop-oldest, counted) until a channel opens, so a
 * pipeline can speak before the client's channel is up without growing memory. A client that
 * stops reading (or vanished without closing) gets messages dropped, counted, once the channel
 * holds `maxBufferedBytes` unsent: SCTP would otherwise buffer for it without bound.
 * Incoming messages are bounded too: beyond `maxMessagesPerSec` (a token bucket with a burst of
 * twice that) they are dropped unread and counted, so a flood costs neither CPU (parsing, replies)
 * nor memory; one larger than `maxMessageBytes` is refused with an error reply.
 */
import type { RTCDataChannel } from 'werift';
import { invalidArgument } from '../../core/errors.js';
import { sharedMetrics } from '../../core/metrics.js';

export interface JsonChannelsOptions {
  readonly onMessage: (message: unknown) => void;
  /** Messages kept while no channel is open (default 256). */
  readonly maxQueue?: number;
  /** Label preferred for sending when the client opened several (default 'causeway'). */
  readonly preferredLabel?: string;
  /** Unsent bytes a channel may hold before messages to it are dropped (default 1 MiB). */
  readonly maxBufferedBytes?: number;
  /** Incoming messages a second, all channels together, before more are dropped (default 100; bursts of twice that pass). */
  readonly maxMessagesPerSec?: number;
  /** Largest incoming message, bytes (default 64 KiB). */
  readonly maxMessageBytes?: number;
}

export interface JsonChannelsStats {
  messagesIn: number;
  messagesOut: number;
  messagesInvalid: number;
  messagesDropped: number;
  /** Incoming messages dropped unread by the rate bound. */
  messagesInDropped: number;
}

/** How much of a bad message is quoted back: enough to recognise it, not to echo a flood. */
const QUOTE_CHARS = 40;

export class JsonChannels {
  readonly stats: JsonChannelsStats = { messagesIn: 0, messagesOut: 0, messagesInvalid: 0, messagesDropped: 0, messagesInDropped: 0 };
  private readonly channels: RTCDataChannel[] = [];
  private readonly unsubscribes: Array<() => void> = [];
  private queue: string[] = [];
  private closed = false;
  private readonly maxQueue: number;
  private readonly preferred: string;
  private readonly ratePerMs: number;
  private readonly burst: number;
  private tokens: number;
  private refilledMs = performance.now();

  constructor(private readonly options: JsonChannelsOptions) {
    this.maxQueue = options.maxQueue ?? 256;
    this.preferred = options.preferredLabel ?? 'causeway';
    const rate = options.maxMessagesPerSec ?? 100;
    if (!(rate > 0)) throw invalidArgument(`JsonChannels: maxMessagesPerSec must be positive, got ${rate}`);
    this.ratePerMs = rate / 1000;
    this.burst = 2 * rate;
    this.tokens = this.burst;
  }

  attach(channel: RTCDataChannel): void {
    if (this.closed) return;
    this.channels.push(channel);
    const msg = channel.onMessage.subscribe((data) => this.receive(channel, data));
    const state = channel.stateChanged.subscribe((s) => {
      if (s === 'open') this.flushQueue();
    });
    this.unsubscribes.push(msg.unSubscribe, state.unSubscribe);
    if (channel.readyState === 'open') this.flushQueue();
  }

  /** Sends now if a channel is open, else queues; false when closed (or unserialisable input throws). */
  send(message: unknown): boolean {
    if (this.closed) return false;
    let text: string | undefined;
    try {
      text = JSON.stringify(message);
    } catch (e) {
      throw invalidArgument(`send: message is not JSON-serialisable (${(e as Error).message})`);
    }
    if (text === undefined) throw invalidArgument(`send: message is not JSON-serialisable (${typeof message})`);
    const ch = this.openChannel();
    if (ch !== undefined && this.queue.length === 0) return this.write(ch, text);
    this.queue.push(text);
    if (this.queue.length > this.maxQueue) {
      this.queue.shift();
      this.stats.messagesDropped++;
      sharedMetrics.drops.inc({ operator: 'webrtc-messages', policy: 'drop-oldest' });
    }
    if (ch !== undefined) this.flushQueue();
    return true;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const u of this.unsubscribes) u();
    this.unsubscribes.length = 0;
    this.stats.messagesDropped += this.queue.length;
    this.queue = [];
    this.channels.length = 0;
  }

  private openChannel(): RTCDataChannel | undefined {
    const open = this.channels.filter((c) => c.readyState === 'open');
    return open.find((c) => c.label === this.preferred) ?? open[0];
  }

  private flushQueue(): void {
    while (this.queue.length > 0) {
      const ch = this.openChannel();
      if (ch === undefined) return;
      this.write(ch, this.queue.shift()!);
    }
  }

  private write(ch: RTCDataChannel, text: string): boolean {
    if (ch.bufferedAmount > (this.options.maxBufferedBytes ?? 1 << 20)) {
      this.stats.messagesDropped++;
      sharedMetrics.drops.inc({ operator: 'webrtc-messages', policy: 'drop-newest' });
      return false;
    }
    try {
      ch.send(text);
      this.stats.messagesOut++;
      return true;
    } catch {
      this.stats.messagesDropped++;
      return false;
    }
  }

  /** Takes one token from the bucket; false (counted) when a flood has emptied it. */
  private admit(): boolean {
    const now = performance.now();
    this.tokens = Math.min(this.burst, this.tokens + (now - this.refilledMs) * this.ratePerMs);
    this.refilledMs = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return true;
    }
    this.stats.messagesInDropped++;
    sharedMetrics.drops.inc({ operator: 'webrtc-messages-in', policy: 'rate-limit' });
    return false;
  }

  private receive(ch: RTCDataChannel, data: string | Buffer): void {
    if (this.closed || !this.admit()) return;
    const maxBytes = this.options.maxMessageBytes ?? 64 * 1024;
    const bytes = typeof data === 'string' ? Buffer.byteLength(data) : data.length;
    if (bytes > maxBytes) {
      this.stats.messagesInvalid++;
      this.write(ch, JSON.stringify({ type: 'error', message: `message of ${bytes} bytes is over the ${maxBytes}-byte limit` }));
      return;
    }
    const text = typeof data === 'string' ? data : data.toString('utf8');
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (e) {
      this.stats.messagesInvalid++;
      const quote = text.length > QUOTE_CHARS ? `${text.slice(0, QUOTE_CHARS)}…` : text;
      const why = (e as Error).message.split('\n')[0];
      this.write(ch, JSON.stringify({ type: 'error', message: `message is not JSON (${why}): ${JSON.stringify(quote)}` }));
      return;
    }
    this.stats.messagesIn++;
    this.options.onMessage(value);
  }
}

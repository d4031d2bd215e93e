/**
 * Cuts a byte stream (ffmpeg's stdout) into fixed-size frames, copying out of the pipe buffers
 * (chunks split frames and samples anywhere), optionally paced to wall clock.
 *
 * Pacing (realtime): frame k is emitted when its last byte is "due", at
 * t0 + bytesUpToAndIncludingK / bytesPerSecond, with t0 the arrival of the first byte. Due times
 * come from the byte (= sample or frame) count, not from summed timer delays, so there is no drift;
 * a late timer emits every frame that is due at once. Like a capture device, a frame becomes
 * available only once it is complete, so N seconds of media take >= N seconds. Decoded frames wait
 * in a queue of at most `maxQueuedFrames` (+ one pipe chunk); above it stdout is paused, so ffmpeg
 * blocks on its write and decodes no further ahead (bounded memory, real backpressure). We pace in
 * Node rather than with ffmpeg's `-re` because `-re` paces the *demuxer* (bursty after resampling,
 * buffering in the pipe, no control over the emission instant) and is not applied to lavfi sources.
 *
 * Without pacing frames are emitted synchronously from the 'data' handler: a consumer that does
 * its work synchronously inside `next` holds the stream back (Node does not read the next chunk
 * until the handler returns, and ffmpeg blocks on the full pipe). A consumer that goes async
 * (mergeMap to a promise, observeOn) cannot hold back a plain Observable: its own buffer grows.
 * For those, `setPaused()` (wired to a shared FlowControl, see core/flow.ts) stops emission
 * at the next frame boundary and stops reading stdout, so ffmpeg blocks on the full pipe: memory
 * stays bounded by one pipe chunk plus the consumer's queue.
 *
 * `idle` is a no-data watchdog (network inputs, see network.ts): `onIdle` is called once if no
 * byte arrives for `firstMs` from the start, or for `gapMs` after the last byte. Time while the
 * stream is held back on our side (consumer paused, realtime queue full) does not count: silence
 * we asked for is not the server's.
 */
import type { Readable } from 'node:stream';
import { nowMs } from '../../core/frames.js';

export interface FrameReaderOptions {
  readonly frameBytes: number;
  /** The trailing partial frame is cut to a multiple of this; 0 drops a partial frame. */
  readonly partialUnitBytes: number;
  readonly realtime?: { readonly bytesPerSecond: number; readonly maxQueuedFrames: number };
  /** Receives a fresh Uint8Array the receiver owns (offset 0, its own ArrayBuffer). */
  readonly onFrame: (bytes: Uint8Array) => void;
  /** Every frame has been handed over after the stream ended. */
  readonly onDone: (stats: { readonly bytes: number; readonly droppedTailBytes: number }) => void;
  readonly idle?: { readonly firstMs: number; readonly gapMs: number; readonly onIdle: () => void };
}

export class FrameReader {
  private cur: Uint8Array;
  private fill = 0;
  /** Part of a pipe chunk not yet cut into frames because the consumer paused us. */
  private pending: Buffer | undefined;
  private deliveredBytes = 0;
  private emittedBytes = 0;
  private droppedTailBytes = 0;
  private queue: Uint8Array[] = [];
  private t0: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  private externalPause = false;
  private streamEnded = false;
  private ended = false;
  private finished = false;
  private disposed = false;
  private lastActivity = nowMs();
  private gotData = false;
  private idleTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly stream: Readable,
    private readonly o: FrameReaderOptions,
  ) {
    this.cur = new Uint8Array(o.frameBytes);
    stream.on('data', this.onData);
    stream.on('end', this.onStreamEnd);
    // A destroyed/broken pipe ends the data as well; the process exit status tells what happened.
    stream.on('close', this.onStreamEnd);
    this.armIdle();
  }

  /** ms since a byte last arrived (or since the start, or since we last held the stream back). */
  idleMs(): number {
    return nowMs() - this.lastActivity;
  }

  /**
   * Consumer-driven flow control (non-realtime): while paused no frame is emitted and stdout is
   * not read, so ffmpeg blocks on the full pipe. Takes effect at the next frame boundary, even in
   * the middle of a pipe chunk (the rest of the chunk waits here).
   */
  setPaused(paused: boolean): void {
    if (this.disposed || this.externalPause === paused) return;
    this.externalPause = paused;
    if (!paused) this.consumePending();
    this.updateStream();
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.clearIdle();
    this.queue = [];
    this.pending = undefined;
    this.stream.removeListener('data', this.onData);
    this.stream.removeListener('end', this.onStreamEnd);
    this.stream.removeListener('close', this.onStreamEnd);
  }

  private readonly onData = (chunk: Buffer): void => {
    if (this.t0 === undefined) this.t0 = nowMs();
    this.lastActivity = nowMs();
    this.gotData = true;
    this.pending = this.pending === undefined ? chunk : Buffer.concat([this.pending, chunk]);
    this.consumePending();
    this.updateStream();
  };

  private consumePending(): void {
    const { frameBytes } = this.o;
    const chunk = this.pending;
    if (chunk === undefined) return;
    let off = 0;
    while (off < chunk.length && !this.disposed && !this.externalPause) {
      const n = Math.min(chunk.length - off, frameBytes - this.fill);
      this.cur.set(chunk.subarray(off, off + n), this.fill);
      this.fill += n;
      off += n;
      if (this.fill === frameBytes) {
        const frame = this.cur;
        this.cur = new Uint8Array(frameBytes);
        this.fill = 0;
        this.deliver(frame);
      }
    }
    if (this.disposed) return;
    this.pending = off < chunk.length ? chunk.subarray(off) : undefined;
    if (this.pending === undefined && this.streamEnded) this.onEnd();
  }

  private readonly onStreamEnd = (): void => {
    if (this.streamEnded || this.disposed) return;
    this.streamEnded = true;
    this.clearIdle();
    if (this.pending === undefined) this.onEnd();
  };

  private onEnd(): void {
    if (this.ended || this.disposed) return;
    this.ended = true;
    const unit = this.o.partialUnitBytes;
    const usable = unit > 0 ? this.fill - (this.fill % unit) : 0;
    this.droppedTailBytes = this.fill - usable;
    if (usable > 0) this.deliver(this.cur.slice(0, usable));
    this.fill = 0;
    this.maybeFinish();
  }

  /** stdout flows only when nobody holds it back: the consumer, a pending chunk or a full realtime queue. */
  private updateStream(): void {
    if (this.disposed || this.streamEnded) return;
    const rt = this.o.realtime;
    const hold =
      this.externalPause ||
      this.pending !== undefined ||
      (rt !== undefined && this.queue.length >= (this.stream.isPaused() ? rt.maxQueuedFrames / 2 : rt.maxQueuedFrames));
    if (hold && !this.stream.isPaused()) this.stream.pause();
    else if (!hold && this.stream.isPaused()) {
      this.stream.resume();
      this.lastActivity = nowMs();
    }
  }

  private armIdle(): void {
    const idle = this.o.idle;
    if (idle === undefined || this.idleTimer !== undefined || this.disposed || this.streamEnded) return;
    const limit = this.gotData ? idle.gapMs : idle.firstMs;
    this.idleTimer = setTimeout(this.checkIdle, Math.max(1, Math.ceil(this.lastActivity + limit - nowMs())));
  }

  private readonly checkIdle = (): void => {
    this.idleTimer = undefined;
    const idle = this.o.idle;
    if (idle === undefined || this.disposed || this.streamEnded) return;
    if (this.stream.isPaused()) this.lastActivity = nowMs();
    else if (this.idleMs() >= (this.gotData ? idle.gapMs : idle.firstMs)) {
      idle.onIdle();
      return;
    }
    this.armIdle();
  };

  private clearIdle(): void {
    if (this.idleTimer !== undefined) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
  }

  private deliver(frame: Uint8Array): void {
    this.deliveredBytes += frame.length;
    if (this.o.realtime === undefined) {
      this.o.onFrame(frame);
      return;
    }
    this.queue.push(frame);
    this.schedule();
  }

  private schedule(): void {
    const rt = this.o.realtime;
    if (rt === undefined || this.timer !== undefined || this.disposed || this.t0 === undefined) return;
    while (this.queue.length > 0 && !this.disposed) {
      const next = this.queue[0]!;
      const due = this.t0 + ((this.emittedBytes + next.length) / rt.bytesPerSecond) * 1000;
      const wait = due - nowMs();
      if (wait > 0) {
        this.timer = setTimeout(this.tick, Math.max(1, Math.ceil(wait)));
        break;
      }
      this.queue.shift();
      this.emittedBytes += next.length;
      this.o.onFrame(next);
    }
    if (this.disposed) return;
    this.updateStream();
    this.maybeFinish();
  }

  private readonly tick = (): void => {
    this.timer = undefined;
    this.schedule();
  };

  private maybeFinish(): void {
    if (this.finished || this.disposed || !this.ended || this.queue.length > 0 || this.timer !== undefined) return;
    this.finished = true;
    this.o.onDone({ bytes: this.deliveredBytes, droppedTailBytes: this.droppedTailBytes });
  }
}

/**
 * `binaural`: a mono voice rendered for headphones at a position that can move while it plays.
 * Mono AudioFrames in (any rate: the HRIRs are resampled to the rate of the first frame, once
 * per file and rate per process), interleaved stereo AudioFrames (left, right) out, at the same
 * rate.
 *
 * Engine 'hrtf' (the one available): measured HRIRs from a SOFA file (default: Debian's
 * libmysofa1 MIT KEMAR set), interpolated for any direction (kernels/binaural-renderer and
 * src/core/hrtf say how), partitioned FFT convolution in blocks of `blockSize` samples.
 *
 * Positions: `azimuth` / `elevation` / `distance` set where the source starts; `position$`
 * moves it. The operator subscribes to `position$` once per subscription (so each stream has
 * its own) and unsubscribes on teardown. Updates are targets applied at the next block
 * boundary: the source glides there (time constant `smoothingMs`) and every filter change is
 * crossfaded over one block, so a moving source makes no clicks. Updates that arrive before
 * the first frame set the starting position. An invalid update (non-finite, |elevation| > 90,
 * distance <= 0) errors the stream with 'invalid-argument'.
 *
 * Timing: the output is aligned to the source timeline. The renderer's one block of latency is
 * trimmed from the start and flushed at the end, so output sample j is input sample j rendered,
 * output pts are the input's, and the output has as many samples as the input (the HRIRs' last
 * few ms of decay after the end are not emitted). Declared latency: blockSize samples at
 * `sampleRate` (48 kHz when not given); no look-ahead.
 *
 * Loading: with `hrtf` (a set from `loadHrtf`) everything is synchronous and position updates
 * land exactly between the frames around them. Otherwise the SOFA file is read on subscription
 * and frames wait in a bounded queue meanwhile (`queue`, default 256 frames, 'drop-oldest';
 * use `{ policy: 'pause', flow }` for files decoded faster than real time).
 */
import { Observable, type OperatorFunction } from 'rxjs';
import { BinauralRenderer, type SourcePosition } from '../kernels/binaural-renderer.js';
import { CausewayError } from '../src/core/errors.js';
import { audioFrame, samplePts, type AudioFrame } from '../src/core/frames.js';
import { DEFAULT_SOFA, sharedHrtfSet, sharedLookup, type HrirInterpolation, type HrtfSet } from '../src/core/hrtf/index.js';
import { withInfo, type StreamOperator } from '../src/core/operator-info.js';
import { serialMap, type QueueOptions } from '../src/core/serial-queue.js';
import { syncMap, type SyncWorker } from '../src/core/sync-operator.js';
import { checkAudio } from './audio-checks.js';

export interface BinauralOptions {
  /** Rendering engine; 'hrtf' (default) is the only one available. */
  engine?: 'hrtf';
  /** SOFA file; default /usr/share/libmysofa/MIT_KEMAR_normal_pinna.sofa. Ignored when `hrtf` is given. */
  sofa?: string;
  /** An HRTF set already loaded (`await loadHrtf(path)`): no loading delay, no queue. */
  hrtf?: HrtfSet;
  /** Starting position: degrees counter-clockwise from straight ahead (90 = left, 270 = right); default 0. */
  azimuth?: number;
  /** Degrees above the horizontal plane, -90..90; default 0. */
  elevation?: number;
  /** Metres (gain 1/distance, reference 1 m, capped at 4 below 0.25 m); default 1. */
  distance?: number;
  /** Moves the source; fields left out keep their value. */
  position$?: Observable<Partial<SourcePosition>>;
  /** 'barycentric' (default) or 'nearest' measurement. */
  interpolation?: HrirInterpolation;
  /** Samples per block (power of two, default 128): latency and position-update granularity. */
  blockSize?: number;
  /** Glide time constant toward a new position, ms (default 20). */
  smoothingMs?: number;
  /** Expected input rate (Hz): frames at another rate are refused, the HRIRs are prepared at subscription, the latency is declared at this rate. */
  sampleRate?: number;
  /** Queue for frames arriving while the SOFA file loads (without `hrtf`). */
  queue?: Omit<QueueOptions, 'name'>;
}

const NAME = 'binaural';

function invalid(message: string): CausewayError {
  return new CausewayError('invalid-argument', `${NAME}: ${message}`);
}

function checkPosition(p: Partial<SourcePosition>, what: string): void {
  if (p === null || typeof p !== 'object') throw invalid(`${what} must be an object with azimuth, elevation and/or distance, got ${String(p)}`);
  for (const k of ['azimuth', 'elevation', 'distance'] as const) {
    const v = p[k];
    if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v))) throw invalid(`${what}: ${k} must be a finite number, got ${String(v)}`);
  }
  if (p.elevation !== undefined && Math.abs(p.elevation) > 90) throw invalid(`${what}: elevation must be in [-90, 90] degrees, got ${p.elevation}`);
  if (p.distance !== undefined && !(p.distance > 0)) throw invalid(`${what}: distance must be > 0 metres, got ${p.distance}`);
}

/** Per subscription: where the source is meant to be, and the renderer once the rate is known. */
class Stream {
  private pos: SourcePosition;
  renderer: BinauralRenderer | undefined;

  constructor(private readonly o: BinauralOptions) {
    this.pos = { azimuth: o.azimuth ?? 0, elevation: o.elevation ?? 0, distance: o.distance ?? 1 };
  }

  move(p: Partial<SourcePosition>): void {
    checkPosition(p, 'position$ update');
    if (this.renderer) this.renderer.setPosition(p);
    else this.pos = { ...this.pos, ...definedFields(p) };
  }

  start(set: HrtfSet, sampleRate: number): BinauralRenderer {
    const source = sharedLookup(set, sampleRate, this.o.interpolation);
    this.renderer = new BinauralRenderer({ source, sampleRate, blockSize: this.o.blockSize, smoothingMs: this.o.smoothingMs, position: this.pos });
    return this.renderer;
  }
}

function definedFields(p: Partial<SourcePosition>): Partial<SourcePosition> {
  const out: Partial<SourcePosition> = {};
  if (p.azimuth !== undefined) out.azimuth = p.azimuth;
  if (p.elevation !== undefined) out.elevation = p.elevation;
  if (p.distance !== undefined) out.distance = p.distance;
  return out;
}

function worker(stream: Stream, set: HrtfSet, o: BinauralOptions): SyncWorker<AudioFrame, AudioFrame> {
  let renderer = o.sampleRate !== undefined ? stream.start(set, o.sampleRate) : undefined;
  let first: AudioFrame | undefined;
  let trim = 0;
  let consumed = 0;
  let produced = 0;
  let wall = 0;
  /** Emits the interleaved output, minus the latency at the start and past the input's length at the end. */
  const emitStereo = (y: Float32Array, emit: (f: AudioFrame) => void) => {
    const frames = y.length / 2;
    const skip = Math.min(trim, frames);
    trim -= skip;
    const n = Math.min(frames - skip, consumed - produced);
    if (n <= 0) return;
    const f = first!;
    emit(audioFrame(samplePts(f.pts, produced, f.sampleRate), f.sampleRate, 2, y.slice(2 * skip, 2 * (skip + n)), wall));
    produced += n;
  };
  return {
    step(frame, emit) {
      checkAudio(NAME, frame, first ?? { channels: 1, sampleRate: o.sampleRate });
      if (!first) {
        first = frame;
        renderer ??= stream.start(set, frame.sampleRate);
        trim = renderer.latency;
      }
      wall = frame.wallMs;
      consumed += frame.data.length;
      emitStereo(renderer!.push(frame.data), emit);
    },
    flush(emit) {
      if (first && renderer) emitStereo(renderer.flush(), emit);
    },
  };
}

export function binaural(o: BinauralOptions = {}): StreamOperator<AudioFrame, AudioFrame> {
  const engine = o.engine ?? 'hrtf';
  if (engine !== 'hrtf') throw invalid(`unknown engine '${String(engine)}' (available: 'hrtf')`);
  checkPosition({ azimuth: o.azimuth, elevation: o.elevation, distance: o.distance }, 'the starting position');
  const blockSize = o.blockSize ?? 128;
  if (!Number.isInteger(blockSize) || blockSize < 4 || (blockSize & (blockSize - 1)) !== 0) throw invalid(`blockSize must be a power of two >= 4, got ${blockSize}`);
  if (o.smoothingMs !== undefined && !(o.smoothingMs >= 0)) throw invalid(`smoothingMs must be >= 0, got ${o.smoothingMs}`);
  if (o.sampleRate !== undefined && !(Number.isInteger(o.sampleRate) && o.sampleRate > 0)) throw invalid(`sampleRate must be a positive integer, got ${o.sampleRate}`);
  if (o.interpolation !== undefined && o.interpolation !== 'barycentric' && o.interpolation !== 'nearest') {
    throw invalid(`interpolation must be 'barycentric' or 'nearest', got '${String(o.interpolation)}'`);
  }

  const op: OperatorFunction<AudioFrame, AudioFrame> = (source) =>
    new Observable<AudioFrame>((subscriber) => {
      const stream = new Stream(o);
      const positions = o.position$?.subscribe({
        next: (p) => {
          try {
            stream.move(p);
          } catch (e) {
            subscriber.error(e);
          }
        },
        error: (e) => subscriber.error(e),
      });
      if (subscriber.closed) return () => positions?.unsubscribe();
      const render: OperatorFunction<AudioFrame, AudioFrame> = o.hrtf
        ? syncMap(NAME, () => worker(stream, o.hrtf!, o))
        : serialMap(async () => worker(stream, await sharedHrtfSet(o.sofa ?? DEFAULT_SOFA), o), {
            name: NAME,
            capacity: 256,
            policy: 'drop-oldest',
            ...o.queue,
          });
      const sub = source.pipe(render).subscribe(subscriber);
      return () => {
        sub.unsubscribe();
        positions?.unsubscribe();
      };
    });
  const latencyUs = Math.round((blockSize * 1e6) / (o.sampleRate ?? 48000));
  return withInfo(op, { name: NAME, latencyUs, lookaheadUs: 0 });
}

/** Reads a SOFA file once per process (later calls share it): pass the result as `hrtf`. */
export function loadHrtf(path: string = DEFAULT_SOFA): Promise<HrtfSet> {
  return sharedHrtfSet(path);
}

/**
 * `binaural`: a mono voice rendered for headphones at a position that can move while it plays.
 * Mono AudioFrames in (any rate: the HRIRs are resampled to the rate of the first frame, once
 * per file and rate per process), interleaved stereo AudioFrames (left, right) out, at the same
 * rate.
 *
 * Engine 'hrtf' (default): measured HRIRs from a SOFA file (default: Debian's libmysofa1 MIT
 * KEMAR set), interpolated for any direction (kernels/binaural-renderer and core/hrtf say
 * how), partitioned FFT convolution in blocks of `blockSize` samples.
 *
 * Engine 'neural': Causeway's BinauralFlow-style renderer (models/binaural-flow; the model,
 * core/models/binaural-flow the contract): mono frames -> StreamingStft (nFft 512, hop 256)
 * -> one step of the ONNX graph per hop (a midpoint ODE solve of a causal U-Net, its buffer bank
 * carried as state) conditioned on the current position and `room` -> two StreamingIstfts ->
 * stereo. Frames must be at the model's rate (48 kHz for the shipped model). Deterministic for a
 * `seed` (the flow's start noise). The output is scaled by the model's `output_gain` (step.json)
 * so that it plays at the hrtf engine's level (the shipped model: -17.05 dB, see its README).
 * Position updates are taken by the first hop whose frame ends after their stamp (hop k, ending
 * on input sample (k + 1) hop - 1, takes updates stamped before (k + 1) hop); the source glides
 * there with time constant `smoothingMs`, one glide step per hop. Latency: nFft - hop samples (5.3 ms),
 * trimmed like the hrtf engine's. The options sofa, hrtf, interpolation and blockSize do not
 * apply to it.
 *
 * Positions: `azimuth` / `elevation` / `distance` set where the source starts; `position$`
 * moves it. Both have the meaning of core/position.ts, the same as the server's `position`
 * message: a field that is not a finite number errors the stream (the options: throw) with
 * 'invalid-argument'; azimuth is wrapped into [0, 360), elevation clamped to [-90, 90], distance
 * to [0.25, 10] m. The operator subscribes to `position$` once per subscription (so each stream
 * has its own) and unsubscribes on teardown. Each update is stamped with the source time of the
 * input that had arrived when it came (core/stamped-controls.ts) and applied before the
 * first frame after it (the hrtf engine; the neural engine: the first hop ending after it), so it
 * lands at the same place in the sound whether the renderer is ready or frames wait in its
 * queue. Updates are targets: the source glides there (time constant `smoothingMs`) and every
 * filter change is crossfaded over one block, so a moving source makes no clicks. Updates that
 * arrive before the first frame set the starting position.
 *
 * Timing: the output is aligned to the source timeline. The renderer's one block of latency is
 * trimmed from the start and flushed at the end, so output sample j is input sample j rendered,
 * output pts are the input's, and the output has as many samples as the input (the HRIRs' last
 * few ms of decay after the end are not emitted). Declared latency: blockSize samples at
 * `sampleRate` (48 kHz when not given); no look-ahead.
 *
 * Loading: with `hrtf` (a set from `loadHrtf`) everything is synchronous. Otherwise the SOFA file is read on subscription
 * and frames wait in a bounded queue meanwhile (`queue`, default 256 frames; it pauses a file
 * input and drops the oldest frames of a live one, see core/serial-queue.ts).
 */
import { Observable, tap, type OperatorFunction, type Subscriber } from 'rxjs';
import { BinauralRenderer, PositionGlide, type SourcePosition } from '../kernels/binaural-renderer.js';
import { StreamingIstft, StreamingStft } from '../kernels/stft.js';
import { BinauralFlowStream, conditioning, defaultBinauralFlowModel, readBinauralFlowConfig, type BinauralFlowConfig } from '../core/models/binaural-flow.js';
import type { BatchOptions } from '../core/onnx/batcher.js';
import type { Device } from '../core/onnx/session.js';
import { CausewayError } from '../core/errors.js';
import { normalizePosition, type PositionUpdate } from '../core/position.js';
import { StampedControls } from '../core/stamped-controls.js';
import { SampleClock } from '../core/sample-clock.js';
import { audioFrame, samplePts, type AudioFrame } from '../core/frames.js';
import { DEFAULT_SOFA, sharedHrtfSet, sharedLookup, type HrirInterpolation, type HrtfSet } from '../core/hrtf/index.js';
import { withInfo, type StreamOperator } from '../core/operator-info.js';
import { serialMap, type QueueOptions, type SerialWorker } from '../core/serial-queue.js';
import { syncMap, type SyncWorker } from '../core/sync-operator.js';
import { logger } from '../core/log.js';
import { checkAudio } from './audio-checks.js';

export interface BinauralOptions {
  /** Rendering engine: 'hrtf' (measured HRTFs, default) or 'neural' (models/binaural-flow). */
  engine?: 'hrtf' | 'neural';
  /** Neural engine: the step graph (default: the shipped models/binaural-flow/model/step.onnx; step.json and offline.onnx beside it). */
  model?: string;
  /** Neural engine: how reverberant the room is, 0 (anechoic, default) .. 1 (the most reverberant training room). */
  room?: number;
  /** Neural engine: seed of the flow's start noise (default 0). */
  seed?: number;
  /** Neural engine: ONNX execution provider (default 'auto'). */
  device?: Device;
  /** Neural engine: batching of steps across the streams sharing the model (docs/devices.md). */
  batch?: BatchOptions;
  /** Neural engine: ONNX intra-op threads (default 1). */
  threads?: number;
  /** Neural engine: where its steps run, 'main' (default) or 'worker' (see SessionOptions.thread). */
  thread?: 'worker' | 'main';
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
  /** Queue for frames arriving while the SOFA file (or the neural model) loads, and, for the neural engine, while steps run. */
  queue?: Omit<QueueOptions, 'name'>;
}

const NAME = 'binaural';
const log = logger(NAME);
/** One warning per process when the renderer's WebAssembly block cannot start (--jitless, no memory). */
let warnedFallback = false;

function invalid(message: string): CausewayError {
  return new CausewayError('invalid-argument', `${NAME}: ${message}`);
}

/** The starting position of the options, in range (core/position.ts); a non-number is refused. */
function startOf(o: BinauralOptions): SourcePosition {
  const start = { azimuth: 0, elevation: 0, distance: 1 };
  const given: PositionUpdate = {};
  for (const k of ['azimuth', 'elevation', 'distance'] as const) if (o[k] !== undefined) given[k] = o[k];
  if (Object.keys(given).length === 0) return start;
  const r = normalizePosition(given, `${NAME}: the starting position`);
  if ('error' in r) throw new CausewayError('invalid-argument', r.error);
  return { ...start, ...r.position };
}

/**
 * Per subscription, both engines: position$ updates brought into range and stamped against the
 * input that had arrived (core/stamped-controls.ts), so each lands between the same two
 * samples however the work queue runs; a refused update errors the stream.
 */
function positionControls(o: BinauralOptions, source: Observable<AudioFrame>, subscriber: Subscriber<AudioFrame>): { controls: StampedControls<PositionUpdate>; stamped: Observable<AudioFrame>; unsubscribe(): void } {
  const controls = new StampedControls<PositionUpdate>();
  const positions = o.position$?.subscribe({
    next: (p) => {
      const r = normalizePosition(p, `${NAME}: position$ update`);
      if ('error' in r) subscriber.error(new CausewayError('invalid-argument', r.error));
      else controls.push(r.position);
    },
    error: (e) => subscriber.error(e),
  });
  const stamped = source.pipe(tap((f) => controls.arrived(samplePts(f.pts, f.data.length / f.channels, f.sampleRate))));
  return { controls, stamped, unsubscribe: () => positions?.unsubscribe() };
}

/**
 * Both engines' output side: the renderer's interleaved stereo -> frames on the input's timeline,
 * the latency trimmed at the start and nothing past the input's length at the end. Input sample
 * i comes out as output sample i; its pts comes from a SampleClock, so where the input skips
 * (a live queue dropped frames, a source gap) the output skips too instead of sliding earlier.
 */
class StereoEmitter {
  readonly clock: SampleClock;
  private trim: number;
  private produced = 0;
  private wall = 0;

  constructor(
    readonly sampleRate: number,
    latency: number,
  ) {
    this.clock = new SampleClock(sampleRate);
    this.trim = latency;
  }

  input(frame: AudioFrame): void {
    this.clock.push(frame.pts, frame.data.length);
    this.wall = frame.wallMs;
  }

  output(y: Float32Array, emit: (f: AudioFrame) => void): void {
    const frames = y.length / 2;
    const skip = Math.min(this.trim, frames);
    this.trim -= skip;
    const n = Math.min(frames - skip, this.clock.samples - this.produced);
    if (n <= 0) return;
    emit(audioFrame(this.clock.toUs(this.produced), this.sampleRate, 2, y.slice(2 * skip, 2 * (skip + n)), this.wall));
    this.produced += n;
    this.clock.forget(this.produced);
  }
}

function worker(controls: StampedControls<PositionUpdate>, set: HrtfSet, o: BinauralOptions): SyncWorker<AudioFrame, AudioFrame> {
  // Known rate: the HRIRs are prepared now, not on the first frame.
  if (o.sampleRate !== undefined) sharedLookup(set, o.sampleRate, o.interpolation);
  let renderer: BinauralRenderer | undefined;
  let out: StereoEmitter | undefined;
  return {
    step(frame, emit) {
      checkAudio(NAME, frame, out ?? { channels: 1, sampleRate: o.sampleRate });
      // Updates stamped before this frame's first sample (half a sample of rounding allowed).
      const before = frame.pts + 5e5 / frame.sampleRate;
      if (!renderer) {
        // Those that came before the first frame set the starting position: no glide.
        let position = startOf(o);
        controls.take(before, (p) => (position = { ...position, ...p }));
        const source = sharedLookup(set, frame.sampleRate, o.interpolation);
        renderer = new BinauralRenderer({ source, sampleRate: frame.sampleRate, blockSize: o.blockSize, smoothingMs: o.smoothingMs, position });
        if (renderer.engineFallback !== undefined && !warnedFallback) {
          warnedFallback = true;
          log.warn(`binaural: the renderer's WebAssembly block cannot start (${renderer.engineFallback}); rendering with the JavaScript engine, several times the CPU`);
        }
        out = new StereoEmitter(frame.sampleRate, renderer.latency);
      } else {
        controls.take(before, (p) => renderer!.setPosition(p));
      }
      out!.input(frame);
      out!.output(renderer.push(frame.data), emit);
    },
    flush(emit) {
      if (out && renderer) out.output(renderer.flush(), emit);
    },
  };
}

export function binaural(o: BinauralOptions = {}): StreamOperator<AudioFrame, AudioFrame> {
  const engine = o.engine ?? 'hrtf';
  if (engine !== 'hrtf' && engine !== 'neural') throw invalid(`unknown engine '${String(engine)}' (available: 'hrtf', 'neural')`);
  startOf(o);
  if (o.smoothingMs !== undefined && !(o.smoothingMs >= 0)) throw invalid(`smoothingMs must be >= 0, got ${o.smoothingMs}`);
  if (engine === 'neural') return neuralBinaural(o);
  const blockSize = o.blockSize ?? 128;
  if (!Number.isInteger(blockSize) || blockSize < 4 || (blockSize & (blockSize - 1)) !== 0) throw invalid(`blockSize must be a power of two >= 4, got ${blockSize}`);
  if (o.sampleRate !== undefined && !(Number.isInteger(o.sampleRate) && o.sampleRate > 0)) throw invalid(`sampleRate must be a positive integer, got ${o.sampleRate}`);
  if (o.interpolation !== undefined && o.interpolation !== 'barycentric' && o.interpolation !== 'nearest') {
    throw invalid(`interpolation must be 'barycentric' or 'nearest', got '${String(o.interpolation)}'`);
  }

  const op: OperatorFunction<AudioFrame, AudioFrame> = (source) =>
    new Observable<AudioFrame>((subscriber) => {
      const { controls, stamped, unsubscribe } = positionControls(o, source, subscriber);
      if (subscriber.closed) return unsubscribe;
      const render: OperatorFunction<AudioFrame, AudioFrame> = o.hrtf
        ? syncMap(NAME, () => worker(controls, o.hrtf!, o))
        : serialMap(async () => worker(controls, await sharedHrtfSet(o.sofa ?? DEFAULT_SOFA), o), {
            name: NAME,
            capacity: 256,
            ...o.queue,
          });
      const sub = stamped.pipe(render).subscribe(subscriber);
      return () => {
        sub.unsubscribe();
        unsubscribe();
      };
    });
  const latencyUs = Math.round((blockSize * 1e6) / (o.sampleRate ?? 48000));
  return withInfo(op, { name: NAME, latencyUs, lookaheadUs: 0 });
}

/** The neural engine's model as binaural() opens it for a stream (preloadBinaural the same way). */
function openNeural(modelPath: string, o: BinauralOptions): Promise<BinauralFlowStream> {
  return BinauralFlowStream.open(modelPath, { device: o.device, threads: o.threads, thread: o.thread, batch: o.batch, seed: o.seed });
}

/**
 * Loads what binaural(o) will use and keeps it until the returned function is called: the
 * neural engine's model, or the hrtf engine's SOFA set (read once per process and kept, like
 * loadHrtf). A server calls it before its first session, so no session loads anything.
 */
export async function preloadBinaural(o: BinauralOptions = {}): Promise<() => void> {
  if ((o.engine ?? 'hrtf') === 'neural') {
    const s = await openNeural(o.model ?? defaultBinauralFlowModel(), o);
    return () => s.dispose();
  }
  if (o.hrtf === undefined) await sharedHrtfSet(o.sofa ?? DEFAULT_SOFA);
  return () => {};
}

/** Reads a SOFA file once per process (later calls share it): pass the result as `hrtf`. */
export function loadHrtf(path: string = DEFAULT_SOFA): Promise<HrtfSet> {
  return sharedHrtfSet(path);
}

/**
 * The neural engine's per-subscription work: STFT per hop, one model step per STFT frame with
 * the glided position as conditioning, an ISTFT per ear, the latency trimmed.
 */
class NeuralWorker implements SerialWorker<AudioFrame, AudioFrame> {
  private readonly stft: StreamingStft;
  private readonly istft: [StreamingIstft, StreamingIstft];
  private readonly glide: PositionGlide;
  private readonly cond = new Float32Array(6);
  private readonly out: StereoEmitter;
  /** STFT frames not yet stepped: the first `pending` of a pool reused from hop to hop. */
  private readonly spectra: Float32Array[] = [];
  private pending = 0;
  private y = new Float32Array(0);
  private readonly room: number;
  /** STFT frames stepped: hop k takes the updates stamped before the source time of its last sample's successor. */
  private hops = 0;

  constructor(
    private readonly model: BinauralFlowStream,
    private readonly c: BinauralFlowConfig,
    start: SourcePosition,
    private readonly controls: StampedControls<PositionUpdate>,
    o: BinauralOptions,
  ) {
    this.stft = new StreamingStft({ nFft: c.nFft, hop: c.hop });
    this.istft = [new StreamingIstft({ nFft: c.nFft, hop: c.hop }), new StreamingIstft({ nFft: c.nFft, hop: c.hop })];
    const smoothingMs = o.smoothingMs ?? 20;
    const alpha = smoothingMs === 0 ? 1 : 1 - Math.exp(-c.hop / ((smoothingMs / 1000) * c.sampleRate));
    this.glide = new PositionGlide(start, alpha);
    this.room = o.room ?? 0;
    this.out = new StereoEmitter(c.sampleRate, c.nFft - c.hop);
  }

  async step(frame: AudioFrame, emit: (f: AudioFrame) => void): Promise<void> {
    checkAudio(NAME, frame, { channels: 1, sampleRate: this.c.sampleRate });
    if (this.hops === 0 && this.out.clock.samples === 0) {
      // Updates that came before the first sample stepped set the starting position: no glide.
      const half = 5e5 / this.c.sampleRate;
      this.controls.take(frame.pts + half, (p) => this.glide.setTarget(p));
      this.glide.reset(this.glide.target);
    }
    this.out.input(frame);
    this.stft.push(frame.data, this.collect);
    await this.render(emit);
  }

  async flush(emit: (f: AudioFrame) => void): Promise<void> {
    if (this.out.clock.samples === 0) return;
    this.stft.flush(this.collect);
    await this.render(emit);
  }

  teardown(): void {
    this.model.dispose();
  }

  private readonly collect = (spectrum: Float32Array): void => {
    if (this.pending === this.spectra.length) this.spectra.push(new Float32Array(spectrum.length));
    this.spectra[this.pending++].set(spectrum);
  };

  private async render(emit: (f: AudioFrame) => void): Promise<void> {
    const hop = this.c.hop;
    const n = this.pending;
    if (n === 0) return;
    if (this.y.length < 2 * hop * n) this.y = new Float32Array(2 * hop * n);
    const y = this.y;
    // Source times are compared half a sample early: equal sample positions may differ by a
    // microsecond of rounding.
    const half = 5e5 / this.c.sampleRate;
    for (let i = 0; i < n; i++) {
      const endUs = this.out.clock.toUs((this.hops + 1) * hop) - half;
      this.controls.take(endUs, (p) => this.glide.setTarget(p));
      this.glide.step();
      const p = this.glide.current;
      await this.model.step(this.spectra[i], conditioning(p.azimuth, p.elevation, p.distance, this.room, this.cond));
      const l = this.istft[0].push(this.model.left);
      const r = this.istft[1].push(this.model.right);
      const g = this.c.outputGain;
      for (let j = 0; j < hop; j++) {
        y[2 * (i * hop + j)] = g * l[j];
        y[2 * (i * hop + j) + 1] = g * r[j];
      }
      this.hops++;
    }
    this.pending = 0;
    this.out.output(y.subarray(0, 2 * hop * n), emit);
  }
}

function neuralBinaural(o: BinauralOptions): StreamOperator<AudioFrame, AudioFrame> {
  if (o.room !== undefined && !(typeof o.room === 'number' && o.room >= 0 && o.room <= 1)) throw invalid(`room must be a number in [0, 1], got ${String(o.room)}`);
  if (o.seed !== undefined && !Number.isInteger(o.seed)) throw invalid(`seed must be an integer, got ${String(o.seed)}`);
  const modelPath = o.model ?? defaultBinauralFlowModel();
  const c = readBinauralFlowConfig(modelPath);
  if (o.sampleRate !== undefined && o.sampleRate !== c.sampleRate) {
    throw invalid(`the neural engine's model runs at ${c.sampleRate} Hz (${modelPath}); sampleRate ${o.sampleRate} was asked for: resample first`);
  }
  const op: OperatorFunction<AudioFrame, AudioFrame> = (source) =>
    new Observable<AudioFrame>((subscriber) => {
      const { controls, stamped, unsubscribe } = positionControls(o, source, subscriber);
      if (subscriber.closed) return unsubscribe;
      const render = serialMap<AudioFrame, AudioFrame>(
        async () => new NeuralWorker(await openNeural(modelPath, o), c, startOf(o), controls, o),
        { name: NAME, capacity: 256, ...o.queue },
      );
      const sub = stamped.pipe(render).subscribe(subscriber);
      return () => {
        sub.unsubscribe();
        unsubscribe();
      };
    });
  const latencyUs = Math.round(((c.nFft - c.hop) * 1e6) / c.sampleRate);
  return withInfo(op, { name: NAME, latencyUs, lookaheadUs: 0 });
}

/**
 * What a session runs: a function from the peer's inputs (microphone audio, camera video,
 * control messages) to its outputs (JSON events for the data channel and /events, audio and
 * video back to the browser).
 * The server owns subscription and teardown; a pipeline only composes operators.
 */
import { filter, map, share, type Observable } from 'rxjs';
import { asr, preloadAsr, readModelTokens } from '../../operators/asr/index.js';
import { binaural, loadHrtf, preloadBinaural } from '../../operators/binaural.js';
import { resample } from '../../operators/resample.js';
import { toMono } from '../../operators/to-mono.js';
import { istft, stft } from '../../operators/stft.js';
import { preloadVad, vad } from '../../operators/vad.js';
import { videoMirror } from '../../operators/video-mirror.js';
import { CausewayError } from '../../core/errors.js';
import type { HrtfSet } from '../../core/hrtf/index.js';
import type { AudioFrame, VideoFrame } from '../../core/frames.js';
import type { BatchOptions } from '../../core/onnx/batcher.js';
import type { Device } from '../../core/onnx/session.js';
import { chain, parallel, type StreamOperator } from '../../core/operator-info.js';
import { checkConformerModelFiles, defaultCommandModel } from '../../core/models/default-models.js';
import { readCacheAwareConfig } from '../../core/models/nemo-cache-aware.js';

/** Anything JSON-serialisable with a `type`, e.g. VadEvent. */
export interface OutEvent {
  readonly type: string;
}

export interface SessionInputs {
  /** Microphone audio as decoded from the peer (48 kHz). */
  readonly audio$: Observable<AudioFrame>;
  /**
   * Camera frames decoded from the peer (fixed size and pixel format, by default 320x240
   * rgb24); present only when the client offered VP8 video.
   */
  readonly video$?: Observable<VideoFrame>;
  /**
   * Control messages from the client (parsed JSON objects with a string `type`). `ping` is
   * answered by the session and not passed on; `position` messages arrive checked and in range
   * (core/position.ts: numbers only, azimuth in [0, 360), elevation in [-90, 90], distance in
   * [0.25, 10] m); refused ones got an error reply and do not arrive.
   */
  readonly control$: Observable<{ type: string; [k: string]: unknown }>;
}

export interface SessionOutputs {
  /** JSON-serialisable events sent to the client and to /events subscribers. */
  readonly events$: Observable<OutEvent>;
  /**
   * The algorithmic latency each output declares, microseconds (operators' `info`, composed with
   * `chain`/`parallel`): how far behind its input an output is by construction, compute aside.
   * The session tells its client (a `pipeline` event) and exports it as a metric.
   */
  readonly latencyUs?: { readonly events?: number; readonly audio?: number; readonly video?: number };
  /** Audio returned to the browser (48 kHz). */
  readonly audio$?: Observable<AudioFrame>;
  /** Video returned to the browser (any size, rgb24|rgba|gray|yuv420p), encoded to VP8 by the peer. */
  readonly video$?: Observable<VideoFrame>;
}

export type SessionPipeline = ((inputs: SessionInputs) => SessionOutputs) & {
  /**
   * Optional: load what every session will need (models) once, before the first session, and
   * keep it until the returned release function is called. Loading an ONNX model blocks the
   * event loop for 50-250 ms here; done per session it stalls every other session's audio.
   */
  warm?: () => Promise<() => void>;
};

export interface DefaultPipelineOptions {
  device?: Device;
  /** Batching of model steps across sessions (docs/devices.md; default: on, up to 32, no waiting). */
  batch?: BatchOptions;
  /** Where the models' CPU steps run (docs/devices.md; default: each model's own, a worker thread for the captions models). */
  thread?: 'worker' | 'main';
  /**
   * The speech recogniser behind the captions (`asr`, engine 'conformer'): a NeMo-contract
   * cache-aware CTC step graph with `tokens.txt` (and its `.json` settings, unless the graph's
   * metadata holds them) beside it.
   * Default: Causeway's command recogniser (`defaultCommandModel()`). A missing file fails the
   * server's start (in `warm()`), not each session.
   */
  asrModel?: string;
  /**
   * What the microphone comes back as:
   * - 'binaural' (default): rendered for headphones by `binaural({ engine: 'hrtf' })` (MIT KEMAR
   *   HRIRs from Debian's libmysofa1, 128-sample blocks: 2.7 ms of algorithmic latency), stereo,
   *   at the position the client's `position` messages set (start: in front, 1 m). A client
   *   hears stereo when its offer asks for it (`stereo=1` in the Opus fmtp; the example page
   *   does), otherwise the two ears mixed to mono.
   * - 'stft': mono, through STFT -> ISTFT (1024/256 sqrt-Hann, 16 ms of algorithmic latency); the
   *   return path before binaural rendering.
   */
  returnAudio?: 'binaural' | 'stft';
  /**
   * The binaural return's engine: 'hrtf' (default; measured HRTFs, 2.7 ms, about 5 ms of CPU per
   * second) or 'neural' (Causeway's BinauralFlow-style model, models/binaural-flow: 5.3 ms hop,
   * real-time factor about 0.37 on one core, so a few sessions per core at most).
   */
  binauralEngine?: 'hrtf' | 'neural';
}

/**
 * The default pipeline:
 * - events: the microphone as mono 16 kHz (one resampler, shared) into Silero VAD
 *   (`speech-start`/`speech-end`) and into speech recognition (`partial`/`final` captions, see
 *   operators/asr/conformer.ts), merged in arrival order;
 * - audio back (`returnAudio`): by default the microphone rendered binaurally (HRTF, stereo) at
 *   the position the client's `position` messages set; or, with 'stft', through resample-free
 *   STFT -> ISTFT at 48 kHz (1024/256, sqrt-Hann): frames before the source's first sample (the
 *   ISTFT's pre-roll, pts < 0) are not sent;
 * - video back, when there is a camera: mirrored (a real per-pixel operation on every frame, like
 *   a selfie view).
 */
export function defaultPipeline(options: DefaultPipelineOptions = {}): SessionPipeline {
  const device = options.device ?? 'auto';
  const batch = options.batch;
  const thread = options.thread;
  const asrModel = options.asrModel ?? defaultCommandModel();
  // Live audio: a step that falls behind drops the oldest waiting frames (counted), never buffers without bound.
  const live = { policy: 'drop-oldest' as const, capacity: 50 };
  const returnAudio = options.returnAudio ?? 'binaural';
  if (returnAudio !== 'binaural' && returnAudio !== 'stft') {
    throw new CausewayError('invalid-argument', `defaultPipeline: returnAudio must be 'binaural' or 'stft', got '${String(returnAudio)}'`);
  }
  const binauralEngine = options.binauralEngine ?? 'hrtf';
  if (binauralEngine !== 'hrtf' && binauralEngine !== 'neural') {
    throw new CausewayError('invalid-argument', `defaultPipeline: binauralEngine must be 'hrtf' or 'neural', got '${String(binauralEngine)}'`);
  }
  /** The HRTF set, read once by warm(); without warm() each session's binaural reads it (shared). */
  let hrtf: HrtfSet | undefined;
  const run: SessionPipeline = ({ audio$, video$, control$ }) => {
    const mono = toMono();
    const mic$ = audio$.pipe(mono, share());
    const captions = chain(
      resample({ toRate: 16000, fromRate: 48000 }),
      parallel<AudioFrame, OutEvent>(vad({ device, batch, thread, queue: live }), asr({ engine: 'conformer', model: asrModel, device, batch, thread, queue: live })),
    );
    const events$ = mic$.pipe(captions);
    let back: StreamOperator<AudioFrame, AudioFrame>;
    if (returnAudio === 'binaural') {
      // Checked and clamped by the session (core/position.ts): valid for the renderer.
      const position$ = control$.pipe(
        filter((c) => c.type === 'position'),
        map((c) => {
          const p: { azimuth?: number; elevation?: number; distance?: number } = {};
          for (const k of ['azimuth', 'elevation', 'distance'] as const) if (typeof c[k] === 'number') p[k] = c[k] as number;
          return p;
        }),
      );
      back =
        binauralEngine === 'neural'
          ? binaural({ engine: 'neural', position$, sampleRate: 48000, device, batch, thread, queue: live })
          : binaural({ engine: 'hrtf', ...(hrtf !== undefined ? { hrtf } : {}), position$, sampleRate: 48000 });
    } else {
      const spectral = { nFft: 1024, hop: 256, window: 'sqrt-hann' as const, sampleRate: 48000 };
      back = chain(
        stft(spectral),
        istft(spectral),
        filter((f: AudioFrame) => f.pts >= 0),
      );
    }
    const mirror = videoMirror();
    return {
      events$,
      audio$: mic$.pipe(back),
      ...(video$ !== undefined ? { video$: video$.pipe(mirror) } : {}),
      latencyUs: {
        events: mono.info.latencyUs + captions.info.latencyUs,
        audio: mono.info.latencyUs + back.info.latencyUs,
        ...(video$ !== undefined ? { video: mirror.info.latencyUs } : {}),
      },
    };
  };
  // The same model keys as vad({ device }) and asr({ model, device }) use, so sessions find the
  // models already loaded.
  run.warm = async () => {
    checkConformerModelFiles(asrModel, 'captions (asr) model');
    readModelTokens(asrModel, readCacheAwareConfig(asrModel).vocab, 'captions (asr) model');
    if (returnAudio === 'binaural' && binauralEngine === 'hrtf') hrtf = await loadHrtf();
    // Each operator preloads through the code it opens with, so sessions find these loaded.
    const releases: (() => void)[] = [];
    try {
      releases.push(await preloadVad({ device, batch, thread }));
      releases.push(await preloadAsr({ engine: 'conformer', model: asrModel, device, batch, thread }));
      if (returnAudio === 'binaural' && binauralEngine === 'neural') releases.push(await preloadBinaural({ engine: 'neural', sampleRate: 48000, device, batch, thread }));
      return () => releases.forEach((r) => r());
    } catch (e) {
      releases.forEach((r) => r());
      throw e;
    }
  };
  return run;
}

/**
 * What a session runs: a function from the peer's inputs (microphone audio, camera video,
 * control messages) to its outputs (JSON events for the data channel and /events, audio and
 * video back to the browser).
 * The server owns subscription and teardown; a pipeline only composes operators.
 */
import { filter, share, type Observable } from 'rxjs';
import { resample } from '../../operators/resample.js';
import { toMono } from '../../operators/to-mono.js';
import { istft, stft } from '../../operators/stft.js';
import { vad } from '../../operators/vad.js';
import { videoMirror } from '../../operators/video-mirror.js';
import type { AudioFrame, VideoFrame } from '../core/frames.js';
import type { Device } from '../core/onnx/session.js';
import { acquireModel } from '../core/onnx/shared-models.js';
import { defaultSileroVadPath, sileroVadContract } from '../core/models/silero-vad.js';

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
  /** Control messages from the client (parsed JSON objects with a string `type`). */
  readonly control$: Observable<{ type: string; [k: string]: unknown }>;
}

export interface SessionOutputs {
  /** JSON-serialisable events sent to the client and to /events subscribers. */
  readonly events$: Observable<OutEvent>;
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
}

/**
 * The default pipeline: VAD events, and the microphone returned through resample-free
 * STFT -> ISTFT at 48 kHz (1024/256, sqrt-Hann) so the return path runs a real spectral chain
 * end to end (16 ms of algorithmic latency). Frames before the source's first sample
 * (the ISTFT's pre-roll, pts < 0) are not sent. The camera, when there is one, comes back
 * mirrored (a real per-pixel operation on every frame, like a selfie view).
 */
export function defaultPipeline(options: DefaultPipelineOptions = {}): SessionPipeline {
  const device = options.device ?? 'auto';
  const run: SessionPipeline = ({ audio$, video$ }) => {
    const mic$ = audio$.pipe(toMono(), share());
    const events$ = mic$.pipe(
      resample({ toRate: 16000, fromRate: 48000 }),
      vad({ device, queue: { policy: 'drop-oldest', capacity: 50 } }),
    );
    const spectral = { nFft: 1024, hop: 256, window: 'sqrt-hann' as const, sampleRate: 48000 };
    const back$ = mic$.pipe(
      stft(spectral),
      istft(spectral),
      filter((f) => f.pts >= 0),
    );
    return { events$, audio$: back$, ...(video$ !== undefined ? { video$: video$.pipe(videoMirror()) } : {}) };
  };
  // Same model key as vad({ device }) uses, so sessions find the session already loaded.
  run.warm = async () => (await acquireModel(defaultSileroVadPath(), sileroVadContract, { device })).release;
  return run;
}

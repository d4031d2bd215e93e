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

export type SessionPipeline = (inputs: SessionInputs) => SessionOutputs;

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
  return ({ audio$, video$ }) => {
    const mic$ = audio$.pipe(toMono(), share());
    const events$ = mic$.pipe(
      resample({ toRate: 16000, fromRate: 48000 }),
      vad({ device: options.device ?? 'auto', queue: { policy: 'drop-oldest', capacity: 50 } }),
    );
    const spectral = { nFft: 1024, hop: 256, window: 'sqrt-hann' as const, sampleRate: 48000 };
    const back$ = mic$.pipe(
      stft(spectral),
      istft(spectral),
      filter((f) => f.pts >= 0),
    );
    return { events$, audio$: back$, ...(video$ !== undefined ? { video$: video$.pipe(videoMirror()) } : {}) };
  };
}

/**
 * Typed errors. Every error Causeway raises on purpose is a CausewayError with a stable
 * `code`, so callers (and the CLI) can tell what happened without parsing messages.
 */

export type ErrorCode =
  // media edges
  | 'ffmpeg-missing'
  | 'input-not-found'
  | 'input-empty'
  | 'no-audio-stream'
  | 'no-video-stream'
  | 'corrupt-input'
  | 'input-timeout'
  | 'ffmpeg-failed'
  | 'output-failed'
  // models and runtime
  | 'model-not-found'
  | 'model-invalid'
  | 'model-contract'
  | 'model-run-failed'
  | 'provider-unavailable'
  | 'not-streamable'
  // webrtc and server
  | 'bad-offer'
  | 'unauthorized'
  | 'session-limit'
  | 'session-not-found'
  | 'peer-failed'
  // misuse
  | 'invalid-argument'
  | 'invalid-frame'
  | 'queue-overflow'
  | 'disposed';

export class CausewayError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'CausewayError';
  }
}

export class MediaError extends CausewayError {
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'MediaError';
  }
}

export class ModelError extends CausewayError {
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'ModelError';
  }
}

export function invalidArgument(message: string): CausewayError {
  return new CausewayError('invalid-argument', message);
}

export function isCausewayError(e: unknown): e is CausewayError {
  return e instanceof CausewayError;
}

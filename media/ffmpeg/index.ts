/**
 * The ffmpeg edge: any input ffmpeg reads -> AudioFrame / VideoFrame Observables, and frames ->
 * any output ffmpeg writes. fluent-ffmpeg is used only inside this folder (probe.ts).
 */
export { ffmpegAudioInput, type FfmpegAudioInputOptions } from './audio-input.js';
export { ffmpegVideoInput, videoFrameBytes, type FfmpegVideoInputOptions } from './video-input.js';
export {
  ffmpegAudioOutput,
  ffmpegVideoOutput,
  writeDone,
  type FfmpegAudioOutputOptions,
  type FfmpegOutputCommon,
  type FfmpegVideoOutputOptions,
} from './output.js';
export { probeMedia, type MediaInfo, type ProbeOptions } from './probe.js';

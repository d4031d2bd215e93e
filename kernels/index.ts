export { makeWindow, type WindowKind } from './window.js';
export { RealFft, dftOffline } from './fft.js';
export { Rechunker, frameOffline, type FrameSink } from './rechunker.js';
export {
  StreamingStft,
  StreamingIstft,
  stftOffline,
  istftOffline,
  type StftOptions,
  type SpectrumSink,
} from './stft.js';
export { besselI0, kaiserBeta, kaiserLength, kaiserLowpass } from './kaiser.js';
export { Resampler, upfirdn, resampleOffline, type ResamplerOptions } from './resample.js';
export {
  StreamingLogMel,
  melFilterbank,
  hzToMel,
  melToHz,
  logMelOffline,
  type LogMelOptions,
  type MelScale,
} from './mel.js';
export { VadSegmenter, segmentOffline, type SegmenterOptions, type SegmentEvent } from './vad-segmenter.js';
export { CtcGreedyDecoder, ctcGreedyOffline, piecesToText, type CtcOptions, type CtcResult } from './ctc.js';

export { makeWindow, type WindowKind } from './window.js';
export { RealFft, dftOffline } from './fft.js';
export { Rechunker, BlockFiller, frameOffline, type FrameSink } from './rechunker.js';
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
export { CentredFramer, edgeIndex, type EdgeMode } from './centred-framer.js';
export { StreamingNemoMel, nemoMelOffline, nemoMelFrameCount, nemoNormalizePerFeature, type NemoMelOptions } from './nemo-mel.js';
export {
  StreamingKaldiFbank,
  kaldiFbankOffline,
  kaldiFbankFrameCount,
  kaldiMelBanks,
  kaldiMelScale,
  kaldiWindow,
  KALDI_LOG_FLOOR,
  type KaldiFbankOptions,
  type KaldiWindow,
  type FbankSink,
} from './fbank.js';
export { VadSegmenter, segmentOffline, type SegmenterOptions, type SegmentEvent } from './vad-segmenter.js';
export { KeywordDetector, detectKeywordsOffline, type KeywordDetectorOptions, type KeywordDetection } from './keyword-detector.js';
export { CtcGreedyDecoder, ctcGreedyOffline, piecesToText, type CtcOptions, type CtcResult } from './ctc.js';
export {
  GreedyTransducerSearch,
  ModifiedBeamSearch,
  startContext,
  logSumExp,
  type TransducerOptions,
  type BeamOptions,
  type TransducerResult,
  type TransducerSearch,
} from './transducer.js';
export {
  PartitionPlan,
  FrequencyDelayLine,
  PartitionedConvolver,
  convolveOffline,
  type PartitionedConvOptions,
} from './partitioned-conv.js';
export {
  BinauralRenderer,
  PositionGlide,
  binauralOffline,
  distanceGain,
  type HrirSource,
  type SourcePosition,
  type BinauralRendererOptions,
  type PositionChange,
} from './binaural-renderer.js';
export { SinkKvCache, sinkWindowFrames, type SinkKvCacheOptions } from './sink-kv-cache.js';
export { LocalAgreement, tailStart, wordKey, joinWords, type Word } from './local-agreement.js';
export { AudioTail } from './audio-tail.js';

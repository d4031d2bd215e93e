/** Causeway's public entry: operators, media edges, ready-made pipelines and the model runtime. */

// Frames, errors, runtime
export * from '../core/frames.js';
export * from '../core/errors.js';
export { FlowControl } from '../core/flow.js';
export { logger, setLogLevel, setLogSink, type LogLevel, type LogSink } from '../core/log.js';
export { metrics, collectProcessMetrics, Registry, Counter, Gauge, Histogram } from '../core/metrics.js';
export { withInfo, pipelineLatency, chain, parallel, type OperatorInfo, type StreamOperator } from '../core/operator-info.js';
export { serialMap, type OverflowPolicy, type QueueOptions, type SerialWorker } from '../core/serial-queue.js';
export { syncMap, type SyncWorker } from '../core/sync-operator.js';
export { loadSession, cudaProviderInstalled, type Device, type Provider, type SessionOptions, type LoadedSession } from '../core/onnx/session.js';
export { StepModel, StepState } from '../core/onnx/step-model.js';
export { acquireModel, loadedModelCount, type ModelLease } from '../core/onnx/shared-models.js';
export { checkContract, type ModelContract, type TensorSpec, type StatePair, type DType, type Dim } from '../core/onnx/contract.js';
export { SileroStream, sileroVadContract, defaultSileroVadPath } from '../core/models/silero-vad.js';
export { CacheAwareStream, cacheAwareContract, readCacheAwareConfig, type CacheAwareConfig } from '../core/models/nemo-cache-aware.js';
export { BinauralFlowStream, FlowNoise, binauralFlowContract, conditioning as binauralFlowConditioning, defaultBinauralFlowModel, readBinauralFlowConfig, type BinauralFlowConfig, type BinauralFlowStreamOptions } from '../core/models/binaural-flow.js';
export { ZipformerStream, ZipformerEncoderStream, readZipformerConfig, resolveZipformerFiles, type ZipformerFiles, type ZipformerConfig, type ZipformerOptions } from '../core/models/zipformer2.js';
export { Moonshine, MoonshineTokenizer, defaultMoonshineDir, moonshineFiles, type MoonshineOptions, type MoonshineTranscript } from '../core/models/moonshine.js';
export { readOnnxMetadata } from '../core/onnx/metadata.js';
export { loadSofa, resampleHrtf, HrirLookup, DEFAULT_SOFA, relativeDirection, type HrtfSet, type Direction, type HrirInterpolation, type LoadSofaOptions, type Scene, type ListenerPose, type Point } from '../core/hrtf/index.js';

// Operators
export { rechunk, type RechunkOptions } from '../operators/rechunk.js';
export { resample, type ResampleOptions } from '../operators/resample.js';
export { stft, istft, logMel, type StftOperatorOptions } from '../operators/stft.js';
export { vad, type VadOptions } from '../operators/vad.js';
export { kws, preloadKws, type KwsOptions } from '../operators/kws.js';
export { toMono } from '../operators/to-mono.js';
export { asr, readTokens, type AsrOptions, type AsrEvent } from '../operators/asr/index.js';
export { moonshineAsr, type MoonshineAsrOptions, type MoonshineDecode } from '../operators/asr/moonshine.js';
export { LocalAgreement } from '../kernels/local-agreement.js';
export { videoMirror, mirrorFrame } from '../operators/video-mirror.js';
export { binaural, loadHrtf, type BinauralOptions } from '../operators/binaural.js';
export { generateVideo, sceneIndex, type GenerateVideoOptions, type VideoControl, type VideoPrompt, type VideoCommand, type AppliedControl } from '../operators/generate-video.js';
export type { SourcePosition } from '../kernels/binaural-renderer.js';

// Media edges
export * from '../media/ffmpeg/index.js';
export { parseWav, encodeWav, type WavData } from '../media/wav.js';
export * from '../media/webrtc/index.js';

// Pipelines and the server
export { detectSpeech, type DetectSpeechOptions } from './pipelines/detect-speech.js';
export { renderBinauralFile, parsePath, positionOnPath, type BinauralFileOptions, type BinauralFileResult, type PathKey } from './pipelines/binaural.js';
export { startServer, type ServerOptions, type CausewayServer } from './server/http-server.js';
export { defaultPipeline, type SessionPipeline, type SessionInputs, type SessionOutputs } from './server/session-pipeline.js';
export { generatePipeline, type GeneratePipelineOptions } from './server/generate-pipeline.js';
export { streamify, streamifyFile, type StreamifyOptions, type StepSpec, type Streamified } from '../core/onnx/streamify/streamify.js';
export { StreamifiedStream, readStepSpec, streamifiedContract, type StreamifiedResult } from '../core/models/streamified.js';
export { KwsFrontEnd, kwsStepGraphs, readKwsHeadConfig, type KwsFeatureStep, type KwsHeadConfig } from '../core/models/kws.js';
export { rtpAudioInput, rtpAudioOutput, rtpAudioSdp, rtpVideoInput, rtpVideoOutput, rtpVideoSdp, parsePlainSdp, parseRtcp, rtpTimeline, createRtpPeer, newRtpInputStats, type RtpTimeline, type RtcpPacketView, type RtpInputOptions, type RtpAudioInputOptions, type RtpAudioOutputOptions, type RtpVideoInputOptions, type RtpVideoOutputOptions, type RtpInputStats, type RtpPeerOptions } from '../media/rtp/index.js';
export { startFront, type FrontOptions, type CausewayFront } from './cluster/front.js';
export { startWorker, type WorkerOptions, type CausewayWorker } from './cluster/worker.js';

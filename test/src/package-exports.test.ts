import assert from 'node:assert/strict';

describe('package exports', () => {
  it("'causeway' exposes operators, media, pipelines and runtime; 'causeway/kernels' the pure kernels", async () => {
    const main = await import('causeway');
    for (const name of ['vad', 'resample', 'rechunk', 'stft', 'istft', 'logMel', 'ffmpegAudioInput', 'ffmpegAudioOutput', 'probeMedia', 'detectSpeech', 'StepModel', 'loadSession', 'FlowControl', 'kws', 'preloadKws']) {
      assert.equal(typeof (main as Record<string, unknown>)[name], 'function', name);
    }
    assert.equal(typeof main.metrics.metrics, 'function');
    assert.equal(typeof main.collectProcessMetrics, 'function');
    const kernels = await import('causeway/kernels');
    for (const name of ['RealFft', 'StreamingStft', 'StreamingIstft', 'Resampler', 'StreamingLogMel', 'Rechunker', 'VadSegmenter', 'KeywordDetector', 'stftOffline', 'upfirdn']) {
      assert.equal(typeof (kernels as Record<string, unknown>)[name], 'function', name);
    }
  });
});

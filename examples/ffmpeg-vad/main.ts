/**
 * Example: speech segments of any ffmpeg input, with per-event latency (how long after the
 * source produced the audio the event was known). See README.md beside this file.
 */
import { ffmpegAudioInput, metrics, nowMs, probeMedia, resample, vad } from 'causeway';

const [input, flag] = process.argv.slice(2);
if (!input) {
  console.error('usage: node dist/examples/ffmpeg-vad/main.js <input> [--realtime]');
  process.exit(2);
}
const realtime = flag === '--realtime';
const info = await probeMedia(input);
const rate = info.audio?.sampleRate ?? 48000;

// A file pauses ffmpeg while the VAD's queue is full; with --realtime the queue drops the oldest instead.
ffmpegAudioInput(input, { sampleRate: rate, channels: 1, realtime })
  .pipe(resample({ toRate: 16000, fromRate: rate }), vad())
  .subscribe({
    next: (e) => {
      const age = realtime ? ` (emitted ${(nowMs() - e.wallMs).toFixed(1)} ms after the newest audio it needed arrived)` : '';
      console.log(`${e.type.padEnd(12)} ${(e.startUs / 1e6).toFixed(3)}..${(e.endUs / 1e6).toFixed(3)} s${age}`);
    },
    error: (e: Error) => {
      console.error(`error: ${e.message}`);
      process.exitCode = 1;
    },
    complete: async () => {
      const lines = (await metrics.metrics()).split('\n').filter((l) => /^causeway_(frames_(in|out|dropped)_total|model_provider)/.test(l));
      console.log('\n' + lines.join('\n'));
    },
  });

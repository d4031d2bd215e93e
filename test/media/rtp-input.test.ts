/**
 * Plain RTP in (media/rtp): real senders on loopback, ffmpeg (`-re -f rtp`) and GStreamer
 * (gst-launch-1.0 ... opusenc ! rtpopuspay ! udpsink), speech as Opus, through the RTP input into
 * Silero VAD: the speech segments equal those of the same audio read from its file (within one
 * VAD window). A relay that drops, duplicates, reorders and injects garbage: counted, concealed,
 * the timeline continuous, never a crash.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { firstValueFrom, from, lastValueFrom, toArray, type Observable } from 'rxjs';
import type { AudioFrame, VadEvent } from '../../core/frames.js';
import { ffmpegAudioInput } from '../../media/ffmpeg/index.js';
import { parsePlainSdp } from '../../media/rtp/plain-sdp.js';
import { newRtpInputStats, rtpAudioInput } from '../../media/rtp/audio-input.js';
import { rtpAudioOutput, rtpAudioSdp } from '../../media/rtp/audio-output.js';
import { binaural } from '../../operators/binaural.js';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { until } from '../wait.js';
import { freeUdpPort } from '../cluster/harness.js';
import { parseRtp } from '../../media/rtp/rtp-packet.js';
import { resample } from '../../operators/resample.js';
import { vad } from '../../operators/vad.js';
import { asr } from '../../operators/asr/index.js';
import { defaultCommandModel } from '../../core/models/default-models.js';
import { filter, map } from 'rxjs';
import { makeTempDir, removeDir } from '../fixtures-media.js';
import { speechFixture, writeFixtureWav } from '../fixtures-speech.js';
import { rng } from '../helpers-random.js';

type Segment = [number, number];

/** VAD speech segments (seconds) of 48 kHz audio frames. */
async function segments(frames$: Observable<AudioFrame>): Promise<Segment[]> {
  const events = await lastValueFrom(frames$.pipe(resample({ toRate: 16000 }), vad({ device: 'cpu', queue: { capacity: 1_000_000 } }), toArray()));
  const out: Segment[] = [];
  let start = -1;
  for (const e of events as VadEvent[]) {
    if (e.type === 'speech-start') start = e.startUs / 1e6;
    if (e.type === 'speech-end') out.push([start, (e as { endUs: number }).endUs / 1e6]);
  }
  return out;
}

/** One Silero window at 16 kHz (512 samples), in seconds. */
const VAD_WINDOW_S = 0.032;

describe('media/rtp: plain RTP audio in', function () {
  this.timeout(120_000);
  let dir: string;
  let wav: string;
  let fileSegments: Segment[];
  const children: ChildProcess[] = [];

  before(async () => {
    dir = makeTempDir('cw-rtp-');
    wav = writeFixtureWav(speechFixture([0.6, 'plain RTP from a media server', 0.8, 'second phrase here', 0.8], 48000), dir);
    fileSegments = await segments(ffmpegAudioInput(wav, { sampleRate: 48000, channels: 1 }));
    assert.equal(fileSegments.length, 2, JSON.stringify(fileSegments));
  });
  after(() => removeDir(dir));
  afterEach(() => {
    for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
  });

  const send = (cmd: string, args: string[]) => {
    const c = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    children.push(c);
    return c;
  };
  const ffmpegSender = (port: number) => send('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-re', '-i', wav, '-ac', '1', '-c:a', 'libopus', '-b:a', '32k', '-payload_type', '111', '-f', 'rtp', `rtp://127.0.0.1:${port}`]);
  const close = (got: Segment[], want: Segment[], who: string) => {
    assert.equal(got.length, want.length, `${who}: ${JSON.stringify(got)} vs ${JSON.stringify(want)}`);
    got.forEach((g, i) => {
      // The RTP timeline starts at the first packet; the file's at its first sample: compare from the first segment's start.
      const shift = got[0]![0] - want[0]![0];
      assert.ok(Math.abs(g[0] - shift - want[i]![0]) <= VAD_WINDOW_S + 1e-9 && Math.abs(g[1] - shift - want[i]![1]) <= VAD_WINDOW_S + 1e-9, `${who}: segment ${i} ${g} vs ${want[i]} (timeline shift ${shift.toFixed(3)} s)`);
    });
  };

  it('ffmpeg -re -f rtp: the same speech segments as the file, within one VAD window', async () => {
    const stats = newRtpInputStats();
    const got = await segments(rtpAudioInput({ port: 0, payloadType: 111, idleTimeoutMs: 500, stats, onListening: (port) => ffmpegSender(port) }));
    console.log(`      ffmpeg: ${stats.datagrams} datagrams, ${stats.framesDecoded} decoded, ${stats.packetsLost} lost; segments ${JSON.stringify(got)} vs the file's ${JSON.stringify(fileSegments)}`);
    close(got, fileSegments, 'ffmpeg');
  });

  it("GStreamer (opusenc ! rtpopuspay ! udpsink, described by an SDP): the same speech segments as the file", async () => {
    const port = await freeUdpPort();
    const sdp = `v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=gst\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio ${port} RTP/AVP 96\r\na=rtpmap:96 OPUS/48000/2\r\n`;
    assert.deepEqual(parsePlainSdp(sdp)[0]!.formats.get(96), { codec: 'opus', clockRate: 48000, channels: 2 });
    const stats = newRtpInputStats();
    const got = await segments(
      rtpAudioInput({
        sdp,
        idleTimeoutMs: 500,
        stats,
        onListening: () =>
          send('gst-launch-1.0', ['-q', 'filesrc', `location=${wav}`, '!', 'wavparse', '!', 'audioconvert', '!', 'audioresample', '!', 'opusenc', '!', 'rtpopuspay', 'pt=96', '!', 'udpsink', 'host=127.0.0.1', `port=${port}`]),
      }),
    );
    console.log(`      GStreamer: ${stats.datagrams} datagrams, ${stats.framesDecoded} decoded; segments ${JSON.stringify(got)}`);
    close(got, fileSegments, 'GStreamer');
  });

  it('a relay that drops, duplicates, reorders and injects garbage: counted, concealed, the timeline continuous, the same segments', async () => {
    const rand = rng(7);
    const stats = newRtpInputStats();
    const relay = createSocket('udp4');
    const out = createSocket('udp4');
    let target = 0;
    let held: Buffer | undefined;
    const faults = { dropped: 0, duplicated: 0, swapped: 0, garbage: 0 };
    relay.on('message', (d) => {
      if (parseRtp(d) === null) return;
      const r = rand();
      if (r < 0.03) return void faults.dropped++;
      if (r < 0.06) {
        faults.duplicated++;
        out.send(d, target, '127.0.0.1');
      } else if (r < 0.09 && held === undefined) {
        faults.swapped++;
        held = d;
        return;
      } else if (r < 0.12) {
        faults.garbage++;
        out.send(Buffer.from(Array.from({ length: 1 + Math.floor(rand() * 200) }, () => Math.floor(rand() * 256))), target, '127.0.0.1');
      }
      out.send(d, target, '127.0.0.1');
      if (held) {
        out.send(held, target, '127.0.0.1');
        held = undefined;
      }
    });
    const relayPort = await new Promise<number>((r) => relay.bind(0, '127.0.0.1', () => r(relay.address().port)));
    try {
      const frames = await lastValueFrom(
        rtpAudioInput({
          port: 0,
          payloadType: 111,
          idleTimeoutMs: 500,
          stats,
          onListening: (port) => {
            target = port;
            ffmpegSender(relayPort);
          },
        }).pipe(toArray()),
      );
      // Continuous: each frame starts where the one before ended (losses concealed in place).
      for (let i = 1; i < frames.length; i++) {
        const prev = frames[i - 1]!;
        const expected = prev.pts + Math.round((prev.data.length / prev.channels / prev.sampleRate) * 1e6);
        assert.ok(Math.abs(frames[i]!.pts - expected) <= 1, `frame ${i} at ${frames[i]!.pts} µs, expected ${expected}`);
      }
      console.log(`      relay faults ${JSON.stringify(faults)}; input counted ${JSON.stringify({ notRtp: stats.notRtp, lost: stats.packetsLost, late: stats.packetsLate, reordered: stats.packetsReordered, concealed: stats.framesConcealed })}`);
      assert.ok(faults.dropped > 0 && faults.duplicated > 0 && faults.swapped > 0 && faults.garbage > 0);
      assert.ok((stats.notRtp ?? 0) + (stats.otherPayloadType ?? 0) >= faults.garbage * 0.5, 'garbage counted at the door (a random datagram can look like RTP)');
      assert.ok((stats.packetsLost ?? 0) >= 1 && (stats.framesConcealed ?? 0) >= 1, 'losses concealed');
      assert.ok((stats.packetsLate ?? 0) >= 1, 'duplicates counted late and dropped');
      close(await segments(from(frames)), fileSegments, 'through the faulty relay');
    } finally {
      relay.close();
      out.close();
    }
  });

  it("RTP in, binaural, RTP out to ffmpeg reading the output's SDP: the voice placed to the left comes back louder in the left ear", async () => {
    const outPort = await freeUdpPort();
    const sdpFile = join(dir, 'out.sdp');
    writeFileSync(sdpFile, rtpAudioSdp({ port: outPort, channels: 2 }));
    const got = join(dir, 'back.f32');
    const receiver = send('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-protocol_whitelist', 'file,udp,rtp', '-i', sdpFile, '-t', '3', '-f', 'f32le', '-ac', '2', '-ar', '48000', '-y', got]);
    const done = new Promise<number | null>((r) => receiver.once('exit', (code) => r(code)));
    // ffmpeg listens once it has read the SDP: its UDP port shows in /proc/net/udp.
    const hex = outPort.toString(16).toUpperCase().padStart(4, '0');
    await until('ffmpeg listening on the output port', 20_000, () => readFileSync('/proc/net/udp', 'utf8').includes(`:${hex} `));
    const stats: { packetsOut?: number } = {};
    await lastValueFrom(
      rtpAudioInput({ port: 0, payloadType: 111, idleTimeoutMs: 500, onListening: (port) => ffmpegSender(port) }).pipe(
        binaural({ engine: 'hrtf', sampleRate: 48000, azimuth: 90 }),
        rtpAudioOutput({ port: outPort, channels: 2, stats }),
      ),
      { defaultValue: undefined },
    );
    assert.equal(await done, 0);
    const pcm = new Float32Array(new Uint8Array(readFileSync(got)).buffer);
    let l = 1e-12, r = 1e-12;
    for (let i = 0; i + 1 < pcm.length; i += 2) {
      l += pcm[i]! * pcm[i]!;
      r += pcm[i + 1]! * pcm[i + 1]!;
    }
    const ild = 10 * Math.log10(l / r);
    console.log(`      ${stats.packetsOut} packets sent, ffmpeg decoded ${(pcm.length / 2 / 48000).toFixed(2)} s: interaural level difference ${ild.toFixed(1)} dB (left over right)`);
    assert.ok(pcm.length / 2 >= 48000 * 2, `ffmpeg received ${pcm.length / 2} samples`);
    assert.ok(ild > 6, `ILD ${ild} dB`);
  });

  it("captions over RTP from GStreamer, a voice the command recogniser never heard: the spoken words exactly, as from the file", async () => {
    const said = ['seven three nine one', 'volume up', 'lights off'];
    const heldWav = writeFixtureWav(speechFixture([0.5, said[0]!, 0.9, said[1]!, 0.9, said[2]!, 0.9], 48000, 'en-us+m7'), dir, 'held-out.wav');
    const finals = (frames$: Observable<AudioFrame>) =>
      lastValueFrom(
        frames$.pipe(
          resample({ toRate: 16000 }),
          asr({ engine: 'conformer', model: defaultCommandModel(), device: 'cpu', queue: { capacity: 100_000 } }),
          filter((e) => e.type === 'final' && e.text !== ''),
          map((e) => e.text),
          toArray(),
        ),
      );
    const fromFile = await finals(ffmpegAudioInput(heldWav, { sampleRate: 48000, channels: 1 }));
    const port = await freeUdpPort();
    const fromRtp = await finals(
      rtpAudioInput({
        port,
        payloadType: 111,
        idleTimeoutMs: 1000,
        onListening: () =>
          send('gst-launch-1.0', ['-q', 'filesrc', `location=${heldWav}`, '!', 'wavparse', '!', 'audioconvert', '!', 'audioresample', '!', 'opusenc', '!', 'rtpopuspay', 'pt=111', '!', 'udpsink', 'host=127.0.0.1', `port=${port}`]),
      }),
    );
    console.log(`      en-us+m7 (held out): file ${JSON.stringify(fromFile)}, RTP ${JSON.stringify(fromRtp)}`);
    assert.equal(fromRtp.join(' '), said.join(' '));
    assert.equal(fromFile.join(' '), said.join(' '));
  });

  it('refuses clearly: an SDP whose audio is not Opus, a port in use', async () => {
    const pcmu = 'v=0\r\nc=IN IP4 127.0.0.1\r\nm=audio 5004 RTP/AVP 0\r\n';
    assert.throws(() => rtpAudioInput({ sdp: pcmu }), /the SDP's audio is not Opus \(payload types: 0 pcmu\/8000\); plain RTP input takes Opus/);
    assert.throws(() => rtpAudioInput({ sdp: 'v=0\r\nm=audio 5004 UDP/TLS/RTP/SAVPF 111\r\n' }), /is not plain RTP/);
    const holder = createSocket('udp4');
    const port = await new Promise<number>((r) => holder.bind(0, '127.0.0.1', () => r(holder.address().port)));
    try {
      await assert.rejects(firstValueFrom(rtpAudioInput({ port, payloadType: 111 })), /rtpAudioInput: cannot listen on 127\.0\.0\.1:\d+ \(bind EADDRINUSE/);
    } finally {
      holder.close();
    }
  });
});

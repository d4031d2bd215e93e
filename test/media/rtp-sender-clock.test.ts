/**
 * RTCP from real senders into the plain RTP inputs:
 * - ffmpeg (`-f rtp`, sender reports on port + 1) sends a beep and a white flash every second as
 *   Opus and VP8, through a relay that moves its SRs' NTP times 100 s ahead (a sender whose
 *   clock is not ours), and lets video through only from 1.5 s on (a receiver joining late).
 *   With one timeline at origin 0, pts is the sender's wallclock: each audio frame exactly where
 *   the SRs put its RTP timestamp, about 100 s ahead of its arrival, and the video that joined
 *   late starts 1.5 s after the audio (its own RTP timeline would start at 0).
 * - GStreamer's rtpbin, audio and video, RTCP muxed on the RTP ports: SR, SDES and the closing
 *   BYE are counted by type, nothing as garbage, the BYE ends the inputs, and with one shared
 *   timeline each flash lines up with its beep.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createSocket } from 'node:dgram';
import { lastValueFrom, toArray, type Subscription } from 'rxjs';
import type { AudioFrame, VideoFrame } from '../../core/frames.js';
import { metricValue } from '../../core/metrics.js';
import { rtpAudioInput, newRtpInputStats } from '../../media/rtp/audio-input.js';
import { rtcpPackets } from '../../media/rtp/metrics.js';
import { parseRtcp } from '../../media/rtp/rtcp-packet.js';
import { rtpTimeline, STEP_TOLERANCE_US } from '../../media/rtp/sender-clock.js';
import { bindRtpSockets, type RtpSockets } from '../../media/rtp/udp-ports.js';
import { closeSockets } from '../../media/rtp/udp-ports.js';
import { rtpVideoInput } from '../../media/rtp/video.js';
import { makeTempDir, removeDir } from '../fixtures-media.js';

const AHEAD_S = 100;

/** Beep onsets (µs): the first loud sample after 0.3 s of quiet. */
function beeps(frames: AudioFrame[]): number[] {
  const out: number[] = [];
  let quietSince = -Infinity;
  let loud = false;
  for (const f of frames) {
    for (let i = 0; i < f.data.length; i++) {
      const t = f.pts + (i * 1e6) / f.sampleRate;
      if (Math.abs(f.data[i]!) > 0.05) {
        if (!loud && t - quietSince > 300_000) out.push(t);
        loud = true;
      } else if (loud) {
        loud = false;
        quietSince = t;
      }
    }
  }
  return out;
}

/** Flash onsets (µs): the first bright frame after a dark one. */
function flashes(frames: VideoFrame[]): number[] {
  const out: number[] = [];
  let bright = true; // a stream that starts bright has no onset there
  for (const f of frames) {
    let sum = 0;
    for (let i = 0; i < f.data.length; i += 3) sum += f.data[i]!;
    const now = sum / (f.data.length / 3) > 128;
    if (now && !bright) out.push(f.pts);
    bright = now;
  }
  return out;
}

describe('media/rtp: RTCP sender reports and BYE from real senders', function () {
  this.timeout(120_000);
  const children: ChildProcess[] = [];
  const subs: Subscription[] = [];
  const relays: RtpSockets[] = [];
  afterEach(() => {
    for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
    for (const s of subs.splice(0)) s.unsubscribe();
    for (const r of relays.splice(0)) closeSockets(r);
  });

  it("ffmpeg, its SRs 100 s ahead of our clock: pts is the sender's wallclock (audio exactly at its SRs' mapping), video joining 1.5 s late starts 1.5 s in", async () => {
    const out = createSocket('udp4');
    // Where the relay sends each of ffmpeg's four flows; video's only once the video input has joined.
    const to: { a?: number; aRtcp?: number; v?: number; vRtcp?: number } = {};
    // What the relay passed to the audio input: its packets' RTP timestamps, its first SR (as moved).
    const audioTs: number[] = [];
    let audioSr: { ntpUs: number; rtp: number } | undefined;
    const relay = async (rtp: 'a' | 'v', rtcp: 'aRtcp' | 'vRtcp') => {
      const s = await bindRtpSockets('127.0.0.1', 0, undefined, 'relay');
      relays.push(s);
      assert.ok(s.rtcp, 'the relay has a port pair');
      s.rtp.on('message', (d) => {
        if (to[rtp] === undefined) return;
        if (rtp === 'a') audioTs.push(d.readUInt32BE(4));
        out.send(d, to[rtp]!, '127.0.0.1');
      });
      s.rtcp.on('message', (d) => {
        if (to[rtcp] === undefined) return;
        // A sender report: its NTP seconds moved ahead (the rest of the compound untouched).
        if (d[1] === 200) d.writeUInt32BE((d.readUInt32BE(8) + AHEAD_S) >>> 0, 8);
        if (d[1] === 200 && rtcp === 'aRtcp') audioSr ??= parseRtcp(d)![0] as unknown as { ntpUs: number; rtp: number };
        out.send(d, to[rtcp]!, '127.0.0.1');
      });
      return s.port;
    };
    const [ra, rv] = [await relay('a', 'aRtcp'), await relay('v', 'vRtcp')];
    const timeline = rtpTimeline({ originUs: 0 });
    const audioStats = newRtpInputStats();
    const videoStats: Record<string, number> = {};
    const audio: AudioFrame[] = [];
    const video: VideoFrame[] = [];
    let videoDone: Promise<void> | undefined;
    const joinVideo = () =>
      (videoDone = new Promise<void>((resolve, reject) =>
        subs.push(
          rtpVideoInput({ port: 0, payloadType: 96, width: 160, height: 120, timeline, idleTimeoutMs: 1000, stats: videoStats, onListening: (port, rtcpPort) => Object.assign(to, { v: port, vRtcp: rtcpPort }) }).subscribe({
            next: (f) => video.push(f),
            error: reject,
            complete: resolve,
          }),
        ),
      ));
    const ffmpeg = () =>
      children.push(
        spawn('ffmpeg', [
          ...['-hide_banner', '-loglevel', 'error', '-re'],
          ...['-f', 'lavfi', '-i', "aevalsrc='if(lt(mod(t,1),0.2),0.5*sin(2*PI*1000*t),0)':s=48000:d=8"],
          ...['-f', 'lavfi', '-i', "color=c=black:s=160x120:r=25:d=8,drawbox=x=0:y=0:w=160:h=120:color=white:t=fill:enable='lt(mod(t,1),0.2)'"],
          ...['-map', '0:a', '-c:a', 'libopus', '-b:a', '64k', '-payload_type', '111', '-f', 'rtp', `rtp://127.0.0.1:${ra}`],
          ...['-map', '1:v', '-c:v', 'libvpx', '-g', '25', '-deadline', 'realtime', '-lag-in-frames', '0', '-b:v', '300k', '-payload_type', '96', '-f', 'rtp', `rtp://127.0.0.1:${rv}`],
        ], { stdio: 'ignore' }),
      );
    try {
      await new Promise<void>((resolve, reject) =>
        subs.push(
          rtpAudioInput({ port: 0, payloadType: 111, timeline, idleTimeoutMs: 1000, stats: audioStats, onListening: (port, rtcpPort) => (Object.assign(to, { a: port, aRtcp: rtcpPort }), ffmpeg()) }).subscribe({
            next: (f) => {
              audio.push(f);
              if (videoDone === undefined && f.pts - audio[0]!.pts >= 1_500_000) joinVideo();
            },
            error: reject,
            complete: resolve,
          }),
        ),
      );
      assert.ok(videoDone, 'the video input joined');
      await videoDone;
    } finally {
      out.close();
    }
    const ms = (us: number) => (us / 1000).toFixed(1);
    // Each audio frame (one per packet: none lost on loopback) where ffmpeg's SR puts its RTP timestamp.
    const sr = audioSr as unknown as { ntpUs: number; rtpTimestamp: number };
    const offSr = audio.map((f, i) => f.pts - (sr.ntpUs + (((audioTs[i]! - sr.rtpTimestamp) | 0) * 1e6) / 48000));
    // The sender's wallclock, by its SRs, is ours + 100 s: pts - arrival is 100 s give or take ffmpeg's pacing.
    const ahead = [...audio, ...video].map((f) => f.pts / 1000 - f.wallMs - AHEAD_S * 1000);
    const a = beeps(audio);
    const v = flashes(video);
    const skew = v.map((t) => Math.min(...a.map((b) => Math.abs(b - t))));
    console.log(
      `      audio: ${audio.length} frames, ${audioStats.senderReports} SRs, ${audioStats.clockSteps} steps; video: ${video.length} frames from ${ms(video[0]!.pts - audio[0]!.pts)} ms after audio's first, ${videoStats.senderReports} SRs, ${videoStats.clockSteps} steps, ${videoStats.clockSlewedUs} µs slewed`,
    );
    console.log(`      audio pts - the SR's mapping: ${ms(Math.min(...offSr))}..${ms(Math.max(...offSr))} ms; pts - arrival - 100 s: ${Math.min(...ahead).toFixed(1)}..${Math.max(...ahead).toFixed(1)} ms (median ${[...ahead].sort((x, y) => x - y)[ahead.length >> 1]!.toFixed(1)}); flash - beep: ${v.map((t, i) => ms(t - a.reduce((best, b) => (Math.abs(b - t) < Math.abs(best - t) ? b : best)))).join(', ')} ms`);
    assert.ok(audioStats.senderReports! >= 2 && videoStats.senderReports! >= 1, 'SRs reached both inputs on port + 1');
    assert.equal(audioStats.notRtp, 0);
    assert.equal(videoStats.notRtp, 0);
    assert.ok(Math.abs(audio[0]!.pts / 1e6 - (Date.now() / 1000 + AHEAD_S)) < 60, "pts is on the sender's wallclock (µs since the Unix epoch, 100 s ahead of ours)");
    assert.equal(audioStats.packetsLost, 0);
    assert.equal(audio.length, audioTs.length);
    for (const d of offSr) assert.ok(Math.abs(d) <= STEP_TOLERANCE_US + 1, `an audio frame ${ms(d)} ms from the SR's mapping`);
    // Arrival is when Node read the datagram: a busy event loop (ffmpeg's VP8 decoder starting) makes some late, so the median.
    const median = [...ahead].sort((x, y) => x - y)[ahead.length >> 1]!;
    assert.ok(Math.abs(median) <= 50, `pts - arrival - 100 s, median ${median.toFixed(1)} ms`);
    // Video's own RTP timeline started 1.5 s into the stream; on the sender's clock it is where it was sent.
    assert.ok(video[0]!.pts - audio[0]!.pts >= 1_400_000, `video starts ${ms(video[0]!.pts - audio[0]!.pts)} ms after audio`);
    // ffmpeg dates each stream's SRs from that stream's first packet, so its two streams' SRs
    // differ by how long its VP8 encoder took to start (20 to 200 ms in our runs): logged, not
    // asserted. GStreamer's rtpbin dates both from one clock: the test below asserts the line-up.
    assert.ok(v.length >= 4 && a.length >= 7, `${a.length} beeps, ${v.length} flashes`);
    void skew;
  });

  it("GStreamer's rtpbin, audio and video with RTCP muxed: SR, SDES and BYE counted by type, none as garbage; the BYE ends both inputs; flashes line up with beeps", async () => {
    const dir = makeTempDir('cw-rtcp-');
    try {
      const av = join(dir, 'av.mkv');
      const made = spawnSync('ffmpeg', [
        ...['-hide_banner', '-loglevel', 'error'],
        ...['-f', 'lavfi', '-i', "aevalsrc='if(lt(mod(t,1),0.2),0.5*sin(2*PI*1000*t),0)':s=48000:d=6"],
        ...['-f', 'lavfi', '-i', "color=c=black:s=160x120:r=25:d=6,drawbox=x=0:y=0:w=160:h=120:color=white:t=fill:enable='lt(mod(t,1),0.2)'"],
        ...['-c:a', 'libopus', '-c:v', 'libvpx', '-g', '25', '-deadline', 'realtime', '-y', av],
      ]);
      assert.equal(made.status, 0, String(made.stderr));
      const before = { sr: await metricValue(rtcpPackets, { type: 'sr' }), sdes: await metricValue(rtcpPackets, { type: 'sdes' }), bye: await metricValue(rtcpPackets, { type: 'bye' }) };
      const timeline = rtpTimeline();
      const audioStats = newRtpInputStats();
      const videoStats: Record<string, number> = {};
      const ports: { a?: number; v?: number } = {};
      const send = () => {
        if (ports.a === undefined || ports.v === undefined) return;
        // Each stream's RTCP goes to its RTP port (muxed); gst-launch sends BYE at the file's end (-e).
        const leg = (i: number, pay: string, port: number) => [`d.${i === 0 ? 'audio' : 'video'}_0`, '!', 'queue', '!', pay, `pt=${i === 0 ? 111 : 96}`, '!', `rb.send_rtp_sink_${i}`, `rb.send_rtp_src_${i}`, '!', 'udpsink', 'host=127.0.0.1', `port=${port}`, `rb.send_rtcp_src_${i}`, '!', 'udpsink', 'host=127.0.0.1', `port=${port}`, 'sync=false', 'async=false'];
        children.push(spawn('gst-launch-1.0', ['-q', '-e', 'rtpbin', 'name=rb', 'filesrc', `location=${av}`, '!', 'matroskademux', 'name=d', ...leg(0, 'rtpopuspay', ports.a), ...leg(1, 'rtpvp8pay', ports.v)], { stdio: 'ignore' }));
      };
      // No idle timeout: only the BYEs end these inputs.
      const [audio, video] = await Promise.all([
        lastValueFrom(rtpAudioInput({ port: 0, payloadType: 111, timeline, stats: audioStats, onListening: (p) => ((ports.a = p), send()) }).pipe(toArray())),
        lastValueFrom(rtpVideoInput({ port: 0, payloadType: 96, width: 160, height: 120, timeline, stats: videoStats, onListening: (p) => ((ports.v = p), send()) }).pipe(toArray())),
      ]);
      const a = beeps(audio);
      const v = flashes(video);
      const skew = v.map((t) => a.reduce((best, b) => (Math.abs(b - t) < Math.abs(best - t) ? b : best)) - t);
      const after = { sr: await metricValue(rtcpPackets, { type: 'sr' }), sdes: await metricValue(rtcpPackets, { type: 'sdes' }), bye: await metricValue(rtcpPackets, { type: 'bye' }) };
      console.log(`      audio ${JSON.stringify({ frames: audio.length, rtcp: audioStats.rtcpPackets, srs: audioStats.senderReports, byes: audioStats.byes, steps: audioStats.clockSteps, slewedUs: audioStats.clockSlewedUs })}, video ${JSON.stringify({ frames: video.length, rtcp: videoStats.rtcpPackets, srs: videoStats.senderReports, byes: videoStats.byes, steps: videoStats.clockSteps, slewedUs: videoStats.clockSlewedUs })}`);
      console.log(`      beep - flash: ${skew.map((x) => (x / 1000).toFixed(1)).join(', ')} ms`);
      for (const st of [audioStats, videoStats]) {
        assert.ok(st.senderReports! >= 1 && st.byes! >= 1, JSON.stringify(st));
        assert.equal(st.rtcpPackets, st.senderReports! * 2 + st.byes!, 'each compound: SR + SDES, the last + BYE');
        assert.equal(st.notRtp, 0);
        assert.equal(st.rtcpMalformed, 0);
        assert.equal(st.otherPayloadType, 0);
      }
      assert.ok(after.sr - before.sr >= 2 && after.sdes - before.sdes >= 2 && after.bye - before.bye >= 2, `causeway_rtcp_packets_total ${JSON.stringify(before)} -> ${JSON.stringify(after)}`);
      assert.ok(audio.length >= 250 && video.length >= 100, `${audio.length} audio, ${video.length} video frames`);
      assert.ok(v.length >= 4 && a.length >= 5, `${a.length} beeps, ${v.length} flashes`);
      for (const x of skew) assert.ok(Math.abs(x) <= 50_000, `a beep ${(x / 1000).toFixed(1)} ms from its flash`);
    } finally {
      removeDir(dir);
    }
  });
});

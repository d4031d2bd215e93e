/**
 * RTCP on hand-built bytes (RFC 3550 section 6): a sender report's clock pair, a compound SR +
 * SDES + BYE as GStreamer's rtpbin sends at its end, what is only counted (RR, APP, feedback);
 * malformed datagrams are null, and through an input's door they are counted, never a throw.
 * The sender clock (media/rtp/sender-clock.ts): pts from SRs, an SSRC change, an SR that jumps
 * either way, inputs sharing a timeline.
 */
import assert from 'node:assert/strict';
import { metricValue } from '../../core/metrics.js';
import { rtcpPackets, rtpDropped } from '../../media/rtp/metrics.js';
import { isRtcp, NTP_UNIX_OFFSET_S, parseRtcp } from '../../media/rtp/rtcp-packet.js';
import { newDoorStats, RtpDoor } from '../../media/rtp/rtp-door.js';
import { PtsMapper, RtpTimeline, STEP_TOLERANCE_US } from '../../media/rtp/sender-clock.js';

/** One RTCP packet: header (V=2, count, type, length in words - 1) + body, padded to 32 bits. */
function packet(type: number, count: number, body: number[]): number[] {
  const b = [...body];
  while (b.length % 4) b.push(0);
  const words = b.length / 4;
  return [0x80 | count, type, words >> 8, words & 0xff, ...b];
}
const u32 = (v: number) => [(v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];

/** A sender report at `unixUs` on the sender's clock, for RTP timestamp `rtp`. */
function sr(ssrc: number, unixUs: number, rtp: number, blocks = 0): number[] {
  const sec = Math.floor(unixUs / 1e6) + NTP_UNIX_OFFSET_S;
  const frac = Math.round(((unixUs % 1e6) / 1e6) * 2 ** 32);
  return packet(200, blocks, [...u32(ssrc), ...u32(sec), ...u32(frac), ...u32(rtp), ...u32(250), ...u32(40000), ...new Array<number>(24 * blocks).fill(7)]);
}
const sdes = (ssrc: number, cname: string) => packet(202, 1, [...u32(ssrc), 1, cname.length, ...Buffer.from(cname), 0]);
const bye = (...ssrcs: number[]) => packet(203, ssrcs.length, ssrcs.flatMap(u32));

describe('media/rtp: RTCP and the sender clock', () => {
  const T = 1_700_000_000_123_456; // a sender wallclock, µs since the Unix epoch

  it('parses a sender report: its SSRC, its NTP time as Unix µs, its RTP timestamp and counts (report blocks skipped)', () => {
    const got = parseRtcp(new Uint8Array(sr(0xdeadbeef, T, 0xfffffff0, 2)));
    assert.deepEqual(got, [{ type: 'sr', ssrc: 0xdeadbeef, ntpUs: T, rtpTimestamp: 0xfffffff0, packetCount: 250, octetCount: 40000 }]);
  });

  it("parses a compound SR + SDES + BYE (GStreamer's last one) and names what it only counts", () => {
    const d = new Uint8Array([...sr(42, T, 1000), ...sdes(42, 'user@host'), ...bye(42)]);
    assert.ok(isRtcp(d));
    assert.deepEqual(
      parseRtcp(d)!.map((p) => ({ ...p })),
      [
        { type: 'sr', ssrc: 42, ntpUs: T, rtpTimestamp: 1000, packetCount: 250, octetCount: 40000 },
        { type: 'sdes', cname: 'user@host' },
        { type: 'bye', ssrcs: [42] },
      ],
    );
    const rr = packet(201, 1, [...u32(9), ...new Array<number>(24).fill(1)]);
    const app = packet(204, 0, [...u32(9), ...Buffer.from('name'), 1, 2, 3, 4]);
    const pli = packet(206, 1, [...u32(9), ...u32(42)]);
    assert.deepEqual(parseRtcp(new Uint8Array([...rr, ...app, ...pli])), [
      { type: 'rr', ssrc: 9 },
      { type: 'app', packetType: 204 },
      { type: 'psfb', packetType: 206 },
    ]);
  });

  it('malformed: null, and at the door counted (stats and metric), never a throw; RTP with the marker bit is not RTCP', async () => {
    const good = sr(42, T, 1000);
    const overrun = [...good.slice(0, 3), good[3]! + 1, ...good.slice(4)]; // length says one word more than there is
    const truncatedSr = packet(200, 0, [...u32(42), ...u32(1)]); // 8 bytes of sender info instead of 24
    const secondBadVersion = [...good, 0x40, 202, 0, 0];
    const unaligned = [...good, 0];
    const sdesOverrun = packet(202, 1, [...u32(42), 1, 200, 65, 66]);
    const badPadding = [0xa0, 203, 0, 1, ...u32(42)].map((b, i, a) => (i === a.length - 1 ? 0 : b)); // padding count 0
    const cases = { overrun, truncatedSr, secondBadVersion, unaligned, sdesOverrun, badPadding };
    for (const [name, bytes] of Object.entries(cases)) assert.equal(parseRtcp(new Uint8Array(bytes)), null, name);
    // An RTP packet with the marker bit and payload type 72..95 would look like RTCP; 96..127 never does.
    const rtp = [0x80, 0x80 | 111, 0, 1, ...u32(960), ...u32(42), 1, 2, 3];
    assert.equal(isRtcp(new Uint8Array(rtp)), false);

    const stats = newDoorStats();
    const timeline = new RtpTimeline();
    let byes = 0;
    const door = new RtpDoor({ payloadType: 111, timeline, stats, onPacket: () => {}, onBye: () => byes++ });
    const droppedBefore = await metricValue(rtpDropped, { why: 'bad-rtcp' });
    const srBefore = await metricValue(rtcpPackets, { type: 'sr' });
    for (const bytes of Object.values(cases)) door.take(new Uint8Array(bytes));
    door.take(new Uint8Array(rtp));
    door.take(new Uint8Array([...good, ...sdes(42, 'x'), ...bye(7), ...bye(42)]));
    assert.deepEqual(stats, { datagrams: 8, notRtp: 0, otherPayloadType: 0, rtcpPackets: 4, senderReports: 1, rtcpMalformed: 6, byes: 2 });
    assert.equal(byes, 1, "only the BYE of the source being received (42) counts, not another's (7)");
    assert.equal((await metricValue(rtpDropped, { why: 'bad-rtcp' })) - droppedBefore, 6);
    assert.equal((await metricValue(rtcpPackets, { type: 'sr' })) - srBefore, 1);
    assert.equal(timeline.report(42)?.ntpUs, T);
  });

  describe('sender clock', () => {
    const RATE = 48000;
    const frame = 20_000; // µs per frame
    /** Frames of 20 ms: the receiver's pts (its own timeline) and RTP timestamps from `rtp0`. */
    const feed = (m: PtsMapper, ssrc: number, rtp0: number, from: number, n: number, arrivalMs = 0) =>
      Array.from({ length: n }, (_, i) => m.pts(ssrc, (rtp0 + (i * frame * RATE) / 1e6) >>> 0, (from + i) * frame, arrivalMs));

    it('with an SR before the first packet: pts = sender wallclock - origin; the origin is the first sample (pts from 0) or given', () => {
      const tl = new RtpTimeline();
      tl.senderReport(1, T, 5000, 0);
      const m = new PtsMapper(tl, RATE);
      // The first packet is 960 ticks (20 ms) after the SR's instant: its sender time is T + 20 ms.
      assert.deepEqual(feed(m, 1, 5960, 0, 3), [0, 20_000, 40_000]);
      assert.equal(tl.originUs, T + 20_000);
      const absolute = new RtpTimeline({ originUs: 0 });
      absolute.senderReport(1, T, 5000, 0);
      assert.deepEqual(feed(new PtsMapper(absolute, RATE), 1, 5960, 0, 2), [T + 20_000, T + 40_000]);
    });

    it('two inputs sharing a timeline: their pts line up on the sender clock, whatever their RTP timestamps and first packets', () => {
      const tl = new RtpTimeline();
      tl.senderReport(1, T, 1_000_000, 0); // audio, 48 kHz
      tl.senderReport(2, T + 3_000, 77, 0); // video, 90 kHz, its report 3 ms later
      const audio = new PtsMapper(tl, RATE);
      const video = new PtsMapper(tl, 90000);
      assert.equal(audio.pts(1, 1_000_000 + 48_000, 0, 0), 0); // audio from T + 1 s
      // Video's first frame, its receiver timeline at 0 too, is at T + 2.5 s on the sender clock.
      assert.equal(video.pts(2, 77 + 2.497 * 90000, 0, 0), 1_500_000);
    });

    it('before any SR, pts is the receiver timeline (estimated on our clock); the first SR moves it only beyond the tolerance', () => {
      const tl = new RtpTimeline();
      const m = new PtsMapper(tl, RATE);
      assert.deepEqual(feed(m, 1, 0, 0, 2, 1000), [0, 20_000]);
      // An SR that agrees within the tolerance: nothing moves (audio stays contiguous).
      tl.senderReport(1, tl.originUs! + 40_000 + STEP_TOLERANCE_US - 1000, 1920, 0);
      assert.deepEqual(feed(m, 1, 1920, 2, 1), [40_000]);
      assert.equal(m.stats.clockSteps, 0);
      // One that says the sender's clock is 300 ms later than estimated: a gap in pts, counted.
      tl.senderReport(1, tl.originUs! + 60_000 + 300_000, 2880, 0);
      assert.deepEqual(feed(m, 1, 2880, 3, 2), [360_000, 380_000]);
      assert.equal(m.stats.clockSteps, 1);
    });

    it('an SR that jumps back: pts never goes back, it advances at half pace until caught up; forward jumps are taken at once', () => {
      const tl = new RtpTimeline({ originUs: 0 });
      tl.senderReport(1, 10_000_000, 0, 0);
      const m = new PtsMapper(tl, RATE);
      assert.deepEqual(feed(m, 1, 0, 0, 3), [10_000_000, 10_020_000, 10_040_000]);
      // Frame 3 (RTP 2880) would be at 10.060 s; an SR puts it 25 ms earlier (a clock slewed back).
      tl.senderReport(1, 10_060_000 - 25_000, 2880, 0);
      // 10 ms taken back per 20 ms frame, then on the SR's clock.
      assert.deepEqual(feed(m, 1, 2880, 3, 5), [10_050_000, 10_060_000, 10_075_000, 10_095_000, 10_115_000]);
      assert.deepEqual(m.stats, { clockSteps: 1, clockSlewedUs: 25_000 });
      tl.senderReport(1, 20_000_000, 7680, 0); // and forward by about 10 s
      assert.deepEqual(feed(m, 1, 7680, 8, 1), [20_000_000]);
      assert.equal(m.stats.clockSteps, 2);
    });

    it('a new SSRC continues the receiver timeline until its first SR, then takes the sender clock (a restart keeps its real gap)', () => {
      const tl = new RtpTimeline();
      tl.senderReport(1, T, 0, 0);
      const m = new PtsMapper(tl, RATE);
      assert.deepEqual(feed(m, 1, 0, 0, 2), [0, 20_000]);
      // The sender restarts 5 s later with SSRC 2; the receiver continues its timeline at 40 ms.
      assert.deepEqual(feed(m, 2, 123, 2, 1), [40_000]);
      tl.senderReport(2, T + 5_000_000, 123, 0);
      assert.deepEqual(feed(m, 2, 123 + 960, 3, 1), [5_020_000]);
    });

    it('before its own SR, an input estimates the sender clock from another input of the timeline (how far ahead of ours it is)', () => {
      const tl = new RtpTimeline({ originUs: 0 });
      tl.senderReport(1, 100_000_000 + 5_000_000, 0, 5_000); // the sender is 100 s ahead: its SR left at our 5 s
      const late = new PtsMapper(tl, 90000);
      assert.equal(late.pts(9, 42, 0, 7_000), 107_000_000);
    });
  });
});

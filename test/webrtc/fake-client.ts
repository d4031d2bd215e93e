/**
 * A werift peer standing in for the browser (the real-browser test lives elsewhere): it offers
 * what Chrome offers for Causeway (Opus on payload type 111 sendrecv, optionally VP8 video, a
 * data channel called "causeway"), over 127.0.0.1, and sends hand-made Opus RTP so that loss,
 * reordering and timestamps are under the test's control.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  RTCPeerConnection,
  RtpHeader,
  RtpPacket,
  useOPUS,
  useVP8,
  type RTCDataChannel,
  type RTCRtpTransceiver,
} from 'werift';

export interface FakeClientOptions {
  readonly video?: boolean;
  /** Direction of the offered video (default 'sendonly'); 'sendrecv' to receive the server's video. */
  readonly videoDirection?: 'sendonly' | 'sendrecv' | 'recvonly';
  /** Direction of the offered audio (default 'sendrecv'); 'recvonly' for a WHEP viewer. */
  readonly audioDirection?: 'sendrecv' | 'recvonly';
  /** Offer stereo both ways (sprop-stereo=1; stereo=1). */
  readonly stereo?: boolean;
  readonly dataChannel?: boolean;
  /**
   * Video first, and the audio section offered as a max-bundle browser does for all but the
   * first: port 0, a=bundle-only, no candidates. Implies video.
   */
  readonly bundleOnlyAudio?: boolean;
}

export const OPUS_PT = 111;

export class FakeClient {
  /** RTP the server sent on the audio m-line. */
  readonly received: RtpPacket[] = [];
  /** RTP the server sent on the video m-line. */
  readonly receivedVideo: RtpPacket[] = [];
  /** Text messages that arrived on the data channel. */
  readonly messages: string[] = [];
  /** RTCP PLIs the server sent about our video. */
  pliReceived = 0;

  private constructor(
    readonly pc: RTCPeerConnection,
    readonly audio: RTCRtpTransceiver,
    readonly video: RTCRtpTransceiver | undefined,
    readonly dc: RTCDataChannel | undefined,
    readonly offer: string,
  ) {
    audio.onTrack.subscribe((track) => {
      track.onReceiveRtp.subscribe((rtp) => this.received.push(rtp));
    });
    dc?.onMessage.subscribe((m) => this.messages.push(m.toString()));
    video?.onTrack.subscribe((track) => {
      track.onReceiveRtp.subscribe((rtp) => this.receivedVideo.push(rtp));
    });
    video?.sender.onPictureLossIndication.subscribe(() => this.pliReceived++);
  }

  static async create(options: FakeClientOptions = {}): Promise<FakeClient> {
    const fmtp = `minptime=10;useinbandfec=1${options.stereo === true ? ';stereo=1;sprop-stereo=1' : ''}`;
    const pc = new RTCPeerConnection({
      iceServers: [],
      iceUseIpv6: false,
      iceAdditionalHostAddresses: ['127.0.0.1'],
      // max-bundle: with werift's default the offerer leaks the sockets of the transports BUNDLE makes unused.
      bundlePolicy: 'max-bundle',
      codecs: { audio: [useOPUS({ payloadType: OPUS_PT, parameters: fmtp })], video: [useVP8({ payloadType: 96 })] },
    });
    const bundleOnly = options.bundleOnlyAudio === true;
    const videoFirst = bundleOnly ? pc.addTransceiver('video', { direction: 'sendonly' }) : undefined;
    const audio = pc.addTransceiver('audio', { direction: options.audioDirection ?? 'sendrecv' });
    const video = videoFirst ?? (options.video === true ? pc.addTransceiver('video', { direction: options.videoDirection ?? 'sendonly' }) : undefined);
    const dc = options.dataChannel === false ? undefined : pc.createDataChannel('causeway');
    await pc.setLocalDescription(await pc.createOffer());
    await waitFor(() => pc.iceGatheringState === 'complete', 30_000, 'client ICE gathering');
    let offer = pc.localDescription!.sdp;
    if (bundleOnly) {
      const parts = offer.split(/\r\n(?=m=)/);
      const i = parts.findIndex((p) => p.startsWith('m=audio'));
      parts[i] = parts[i]
        .replace(/^m=audio \d+/, 'm=audio 0')
        .replace(/a=candidate:[^\r]*\r\n|a=end-of-candidates\r\n/g, '')
        .replace(/(a=mid:\S+)/, '$1\r\na=bundle-only');
      offer = parts.join('\r\n');
    }
    return new FakeClient(pc, audio, video, dc, offer);
  }

  async accept(answer: string): Promise<void> {
    await this.pc.setRemoteDescription({ type: 'answer', sdp: answer });
    await waitFor(() => this.pc.connectionState === 'connected', 30_000, 'client connected');
    if (this.dc !== undefined) await waitFor(() => this.dc!.readyState === 'open', 30_000, 'data channel open');
  }

  /** Sends one Opus packet with the given RTP sequence number and timestamp. */
  async sendOpus(sequenceNumber: number, timestamp: number, payload: Uint8Array): Promise<void> {
    const header = new RtpHeader({ sequenceNumber: sequenceNumber & 0xffff, timestamp: timestamp % 2 ** 32, payloadType: OPUS_PT });
    await this.audio.sender.sendRtp(new RtpPacket(header, Buffer.from(payload)));
  }

  /** Sends one RTP packet on the video m-line (VP8, payload type 96). */
  async sendVideo(sequenceNumber: number, timestamp: number, payload: Uint8Array, marker = false): Promise<void> {
    if (this.video === undefined) throw new Error('this client offered no video');
    const header = new RtpHeader({ sequenceNumber: sequenceNumber & 0xffff, timestamp: timestamp % 2 ** 32, payloadType: 96, marker });
    await this.video.sender.sendRtp(new RtpPacket(header, Buffer.from(payload)));
  }

  /**
   * Sends payloads[i] as sequence seq0+i, timestamp ts0+960*i, in the given order of i, one
   * every `gapMs` (a loopback stand-in for 20 ms pacing).
   */
  async sendTone(payloads: Uint8Array[], order: number[], seq0: number, ts0: number, gapMs = 4): Promise<void> {
    for (const i of order) {
      await this.sendOpus(seq0 + i, ts0 + 960 * i, payloads[i]);
      await sleep(gapMs);
    }
  }

  async close(): Promise<void> {
    await this.pc.close();
  }
}

/** Polls `cond` every 5 ms; rejects naming `what` after `ms`. */
export async function waitFor(cond: () => boolean, ms: number, what: string): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(5);
  }
}

/** Active handles and requests by type (process.getActiveResourcesInfo()). */
export function resources(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const r of process.getActiveResourcesInfo()) counts.set(r, (counts.get(r) ?? 0) + 1);
  return counts;
}

/** Resources in use once a test is running (mocha arms its timeout timer just after the test function starts). */
export async function baseline(): Promise<Map<string, number>> {
  await sleep(20);
  return resources();
}

/**
 * Waits (up to `ms`: sockets close asynchronously) until no resource type exceeds its count in
 * `before`; `tolerance` per type, 0 by default. Returns the excess still left, '' when none.
 */
export async function settleResources(before: Map<string, number>, ms: number, tolerance: Record<string, number> = {}): Promise<string> {
  const excess = (): string =>
    [...resources()]
      .filter(([type, n]) => n > (before.get(type) ?? 0) + (tolerance[type] ?? 0))
      .map(([type, n]) => `${type}: ${before.get(type) ?? 0} -> ${n}`)
      .join(', ');
  const until = Date.now() + ms;
  while (excess() !== '' && Date.now() < until) await sleep(20);
  return excess();
}

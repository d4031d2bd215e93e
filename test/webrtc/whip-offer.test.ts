import assert from 'node:assert/strict';
import { isCausewayError } from '../../core/errors.js';
import { createWhipPeer } from '../../media/webrtc/index.js';
import { checkOffer } from '../../media/webrtc/sdp-checks.js';
import { FakeClient, baseline, settleResources } from './fake-client.js';

/** createWhipPeer rejects with a one-line MediaError 'bad-offer' whose message matches `why`. */
async function assertBadOffer(sdp: string, why: RegExp): Promise<void> {
  await assert.rejects(createWhipPeer(sdp, { iceAdditionalHostAddresses: ['127.0.0.1'] }), (e: unknown) => {
    assert.ok(isCausewayError(e), `expected a CausewayError, got ${String(e)}`);
    assert.equal(e.code, 'bad-offer', e.message);
    assert.equal(e.name, 'MediaError');
    assert.ok(!/[\r\n]/.test(e.message), `one line: ${JSON.stringify(e.message)}`);
    assert.match(e.message, why);
    return true;
  });
}

/** The offer with its m-sections of `kind` removed (and BUNDLE left as werift wrote it). */
function withoutSection(sdp: string, kind: string): string {
  const [head, ...sections] = sdp.split(/\r\n(?=m=)/);
  return [head, ...sections.filter((s) => !s.startsWith(`m=${kind} `))].join('\r\n');
}

describe('media/webrtc createWhipPeer: bad offers', function () {
  this.timeout(20000);
  let offer = '';
  let videoOffer = '';

  before(async () => {
    for (const video of [false, true]) {
      const c = await FakeClient.create({ video });
      if (video) videoOffer = c.offer;
      else offer = c.offer;
      await c.close();
    }
  });

  it('rejects a body that is not SDP', async () => {
    await assertBadOffer('', /empty/);
    await assertBadOffer('{"sdp": "v=0"}', /not SDP/);
    await assertBadOffer('hello', /not SDP/);
  });

  it('rejects malformed SDP with the line at fault', async () => {
    await assertBadOffer('v=0\r\no=- 1 0 IN IP4 0.0.0.0\r\nthis is not sdp\r\n', /malformed SDP line 3/);
    await assertBadOffer(offer.replace(/m=audio [^\r]*/, 'm=audio nine'), /malformed m-line/);
    await assertBadOffer('v=0\r\no=- 1 0 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n', /no media sections/);
    await assertBadOffer(offer.replace(/a=fingerprint:[^\r]*\r\n/g, ''), /no DTLS fingerprint/);
    await assertBadOffer(offer.replace(/a=ice-pwd:[^\r]*\r\n/g, ''), /no ICE credentials/);
    await assertBadOffer(offer + 'x'.repeat(70000), /more than the \d+ accepted/);
  });

  it('rejects an offer without audio, even with video and a data channel', async () => {
    await assertBadOffer(withoutSection(videoOffer, 'audio'), /no audio m-line/);
    await assertBadOffer(offer.replace(/m=audio \d+/, 'm=audio 0'), /no audio m-line/);
  });

  it('reads a bundle-only audio m-line (port 0) as present, and the stereo and mid parameters', () => {
    const info = checkOffer(offer.replace(/m=audio \d+/, 'm=audio 0').replace('a=mid:0', 'a=mid:0\r\na=bundle-only'));
    assert.deepEqual(info, {
      opusPayloadType: 111,
      audioMid: '0',
      stereoIn: false,
      stereoOut: false,
      hasVideo: false,
      videoMid: undefined,
      vp8PayloadType: undefined,
      hasData: true,
    });
    const video = checkOffer(videoOffer);
    assert.equal(video.hasVideo, true);
    assert.equal(video.vp8PayloadType, 96);
    assert.ok(video.videoMid !== undefined && video.videoMid !== video.audioMid);
    const stereo = checkOffer(offer.replace(/(a=fmtp:111 [^\r]*)/, '$1;stereo=1;sprop-stereo=1'));
    assert.equal(stereo.stereoIn && stereo.stereoOut, true);
  });

  it('rejects an audio m-line without Opus, naming what was offered', async () => {
    const pcmu = offer.replace(/a=rtpmap:111 OPUS\/48000\/2/i, 'a=rtpmap:111 PCMU/8000').replace(/a=fmtp:111 [^\r]*\r\n/, '');
    await assertBadOffer(pcmu, /no Opus \(offered: PCMU\)/);
  });

  it('accepts the same offers when intact (the checks are not just failing everything) and leaks nothing either way', async () => {
    const before = await baseline();
    for (const sdp of [offer, videoOffer]) {
      const peer = await createWhipPeer(sdp, { iceAdditionalHostAddresses: ['127.0.0.1'] });
      assert.match(peer.answer, /^v=0/);
      await peer.close();
    }
    await assertBadOffer(withoutSection(videoOffer, 'audio'), /no audio/);
    assert.equal(await settleResources(before, 2000), '');
  });
});

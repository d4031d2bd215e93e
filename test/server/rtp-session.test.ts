/**
 * Plain RTP sessions on the server (`POST /rtp`): a media server's offer (Opus it sends, the port
 * it takes results back on), ffmpeg sending speech to the answered port, the default pipeline's
 * VAD events on /events and its binaural return arriving as RTP at the offer's port; DELETE ends
 * it. Only trusted networks may open one; a non-Opus offer is a 400.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import WebSocket from 'ws';
import { parsePlainSdp } from '../../media/rtp/index.js';
import { startServer, type CausewayServer } from '../../src/server/http-server.js';
import { defaultPipeline } from '../../src/server/session-pipeline.js';
import { makeTempDir, removeDir } from '../fixtures-media.js';
import { speechFixture, writeFixtureWav } from '../fixtures-speech.js';
import { until } from '../wait.js';

const offerFor = (port: number, codec = 'opus/48000/2', pt = 111) =>
  `v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=media server\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio ${port} RTP/AVP ${pt}\r\na=rtpmap:${pt} ${codec}\r\n`;

describe('server: plain RTP sessions (POST /rtp)', function () {
  this.timeout(120_000);
  let server: CausewayServer | undefined;
  let back: Socket | undefined;
  let sender: ChildProcess | undefined;
  let ws: WebSocket | undefined;
  let dir: string;
  beforeEach(() => {
    dir = makeTempDir('cw-rtp-session-');
  });
  afterEach(async () => {
    ws?.terminate();
    if (sender?.exitCode === null) sender.kill('SIGKILL');
    back?.close();
    await server?.close();
    server = undefined;
    back = undefined;
    removeDir(dir);
  });

  it("an offer from a media server: its speech gives VAD events on /events, the binaural return comes back as RTP to its port, DELETE ends it", async () => {
    server = await startServer({ port: 0, pipeline: defaultPipeline({ device: 'cpu' }) });
    const returned: Buffer[] = [];
    back = createSocket('udp4');
    back.on('message', (d) => returned.push(d));
    const backPort = await new Promise<number>((r) => back!.bind(0, '127.0.0.1', () => r(back!.address().port)));
    const r = await fetch(`${server.url}/rtp`, { method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: offerFor(backPort) });
    assert.equal(r.status, 201, await r.clone().text());
    const id = r.headers.get('location')!.split('/').pop()!;
    const answer = parsePlainSdp(await r.text())[0]!;
    assert.equal(answer.formats.get(111)?.codec, 'opus');
    const events: { type: string }[] = [];
    ws = new WebSocket(`${server.url.replace('http', 'ws')}/events/${id}`);
    ws.on('message', (m) => events.push(JSON.parse(m.toString()) as { type: string }));
    await new Promise<void>((res, rej) => (ws!.once('open', () => res()), ws!.once('error', rej)));
    const wav = writeFixtureWav(speechFixture([0.5, 'plain RTP into the server', 0.8], 48000), dir);
    sender = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-re', '-i', wav, '-c:a', 'libopus', '-payload_type', '111', '-f', 'rtp', `rtp://127.0.0.1:${answer.port}`], { stdio: 'ignore' });
    await until('speech start and end on /events', 30_000, () => events.some((e) => e.type === 'speech-start') && events.some((e) => e.type === 'speech-end'));
    await until('the binaural return as RTP at the offer\'s port', 10_000, () => returned.length >= 50);
    assert.equal(returned[0]![1]! & 0x7f, 111, 'the offer\'s payload type');
    const del = await fetch(`${server.url}/rtp/${id}`, { method: 'DELETE' });
    assert.equal(del.status, 200);
    await until('the session gone', 5000, () => server!.sessions.size === 0);
  });

  it('only trusted networks may open one; a non-Opus or malformed offer, or one sending results to a name, is a 400', async () => {
    server = await startServer({ port: 0, pipeline: defaultPipeline({ device: 'cpu' }), rtpNetworks: ['10.0.0.0/8'] });
    const refused = await fetch(`${server.url}/rtp`, { method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: offerFor(5004) });
    assert.equal(refused.status, 403);
    assert.match(await refused.text(), /plain RTP sessions are not open to 127\.0\.0\.1/);
    await server.close();
    server = await startServer({ port: 0, pipeline: defaultPipeline({ device: 'cpu' }) });
    const pcmu = await fetch(`${server.url}/rtp`, { method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: offerFor(5004, 'PCMU/8000', 0) });
    assert.equal(pcmu.status, 400);
    assert.match(await pcmu.text(), /its audio is not Opus \(0 pcmu\); plain RTP takes Opus/);
    const junk = await fetch(`${server.url}/rtp`, { method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: 'v=0\r\nm=audio 5004 UDP/TLS/RTP/SAVPF 111\r\n' });
    assert.equal(junk.status, 400);
    // A name where the results go would be looked up (and a failed lookup an unhandled socket error).
    const named = await fetch(`${server.url}/rtp`, { method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: offerFor(5004).replace('c=IN IP4 127.0.0.1', 'c=IN IP4 nowhere.invalid') });
    assert.equal(named.status, 400);
    assert.match(await named.text(), /connection address 'nowhere\.invalid' is not an IPv4 address/);
    assert.equal(server.sessions.size, 0);
    assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
  });
});

/**
 * The HTTP side of the server with a werift client standing in for a browser (the real browser
 * runs in webrtc-e2e.test.ts): every bad request gets a 4xx/503 with a one-line reason, and the
 * server keeps serving good sessions afterwards.
 */
import assert from 'node:assert/strict';
import { EMPTY, of } from 'rxjs';
import WebSocket from 'ws';
import { startServer, type CausewayServer } from '../../src/server/http-server.js';
import type { SessionPipeline } from '../../src/server/session-pipeline.js';
import { FakeClient, waitFor } from '../webrtc/fake-client.js';
import { EXAMPLE_PAGE } from '../example-page.js';

const TOKEN = 's3cret';
/** No model here: these tests are about the HTTP contract, and the pipeline must not matter. */
const nullPipeline: SessionPipeline = () => ({ events$: EMPTY });

async function whip(server: CausewayServer, body: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${server.url}/whip`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/sdp', Authorization: `Bearer ${TOKEN}`, ...headers },
    body,
  });
}

async function oneLine(r: Response): Promise<string> {
  const text = await r.text();
  assert.equal(text.trim().split('\n').length, 1, `one-line reason, got: ${text}`);
  return text.trim();
}

describe('server HTTP API (WHIP, /events, /healthz, /metrics)', function () {
  this.timeout(60_000);
  let server: CausewayServer;
  const clients: FakeClient[] = [];
  const client = async () => {
    const c = await FakeClient.create();
    clients.push(c);
    return c;
  };

  before(async () => {
    server = await startServer({ port: 0, token: TOKEN, maxSessions: 2, pipeline: nullPipeline, page: EXAMPLE_PAGE });
  });
  after(async () => {
    for (const c of clients) await c.close();
    await server.close();
  });

  it('answers a good offer with 201, Location and an SDP answer; DELETE ends the session', async () => {
    const c = await client();
    const r = await whip(server, c.offer);
    assert.equal(r.status, 201);
    assert.equal(r.headers.get('content-type'), 'application/sdp');
    const location = r.headers.get('location')!;
    assert.match(location, /^\/whip\/[0-9a-f-]{36}$/);
    await c.accept(await r.text());
    assert.equal(server.sessions.size, 1);
    // ping -> pong on the data channel, and non-JSON gets an error reply without ending the session.
    c.dc!.send(JSON.stringify({ type: 'ping', t: 42 }));
    c.dc!.send('this is not json');
    await waitFor(() => c.messages.length >= 2, 3000, 'two replies');
    const replies = c.messages.map((m) => JSON.parse(m));
    assert.ok(replies.some((m) => m.type === 'pong' && m.t === 42), JSON.stringify(replies));
    assert.ok(replies.some((m) => m.type === 'error' && /json/i.test(m.message)), JSON.stringify(replies));
    assert.equal(server.sessions.size, 1, 'still running after a bad message');
    const unauth = await fetch(`${server.url}${location}`, { method: 'DELETE' });
    assert.equal(unauth.status, 401);
    const del = await fetch(`${server.url}${location}`, { method: 'DELETE', headers: { Authorization: `Bearer ${TOKEN}` } });
    assert.equal(del.status, 200);
    assert.equal(server.sessions.size, 0);
    const again = await fetch(`${server.url}${location}`, { method: 'DELETE', headers: { Authorization: `Bearer ${TOKEN}` } });
    assert.equal(again.status, 404);
  });

  it('refuses bad offers with a clear one-line reason', async () => {
    let r = await whip(server, 'v=0\r\nthis is not an offer\r\n');
    assert.equal(r.status, 400);
    assert.match(await oneLine(r), /SDP|offer/i);
    r = await whip(server, 'hello');
    assert.equal(r.status, 400);
    await oneLine(r);
    const c = await client();
    const noAudio = c.offer.split(/(?=^m=)/m).filter((sec) => !sec.startsWith('m=audio')).join('').replace(/a=group:BUNDLE [^\r\n]*/, (g) => g.replace(/ 0\b/, ''));
    r = await whip(server, noAudio);
    assert.equal(r.status, 400);
    assert.match(await oneLine(r), /audio/i);
    r = await whip(server, c.offer, { 'Content-Type': 'text/plain' });
    assert.equal(r.status, 415);
    assert.match(await oneLine(r), /application\/sdp/);
    r = await whip(server, c.offer, { Authorization: 'Bearer wrong' });
    assert.equal(r.status, 401);
    assert.equal(r.headers.get('www-authenticate'), 'Bearer');
    r = await whip(server, 'x'.repeat(100_000));
    assert.equal(r.status, 413);
    assert.equal(server.sessions.size, 0, 'no session left behind by a refused offer');
  });

  it('answers 503 when full, and serves again once a session ends', async () => {
    const a = await client();
    const b = await client();
    const c = await client();
    const ra = await whip(server, a.offer);
    const rb = await whip(server, b.offer);
    assert.equal(ra.status, 201);
    assert.equal(rb.status, 201);
    const rc = await whip(server, c.offer);
    assert.equal(rc.status, 503);
    assert.equal(rc.headers.get('retry-after'), '5');
    assert.match(await oneLine(rc), /server full \(2 sessions\)/);
    await fetch(`${server.url}${ra.headers.get('location')}`, { method: 'DELETE', headers: { Authorization: `Bearer ${TOKEN}` } });
    await fetch(`${server.url}${rb.headers.get('location')}`, { method: 'DELETE', headers: { Authorization: `Bearer ${TOKEN}` } });
    const d = await client();
    const rd = await whip(server, d.offer);
    assert.equal(rd.status, 201);
    await d.accept(await rd.text());
    await fetch(`${server.url}${rd.headers.get('location')}`, { method: 'DELETE', headers: { Authorization: `Bearer ${TOKEN}` } });
    assert.equal(server.sessions.size, 0);
  });

  it('/events needs the token and an existing session; /healthz, /metrics, the page and 404s', async () => {
    const ws = new WebSocket(`${server.url.replace('http', 'ws')}/events/00000000-0000-0000-0000-000000000000?token=${TOKEN}`);
    const status = await new Promise<number>((resolve) => ws.on('unexpected-response', (_q, res) => resolve(res.statusCode ?? 0)));
    assert.equal(status, 404);
    const health = await (await fetch(`${server.url}/healthz`)).json();
    assert.deepEqual(health, { status: 'ok', sessions: 0, maxSessions: 2 });
    const scrape = await fetch(`${server.url}/metrics`);
    assert.equal(scrape.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
    const metricsText = await scrape.text();
    assert.match(metricsText, /# TYPE causeway_sessions gauge/);
    assert.match(metricsText, /causeway_http_errors_total\{route="whip",status="400"\}/);
    // The process too (prom-client's default metrics, under their usual names).
    for (const name of ['process_cpu_user_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_seconds', 'nodejs_gc_duration_seconds']) {
      assert.match(metricsText, new RegExp(`^# TYPE ${name} `, 'm'), name);
    }
    const page = await fetch(`${server.url}/`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<title>/);
    assert.equal((await fetch(`${server.url}/../package.json`)).status, 404);
    assert.equal((await fetch(`${server.url}/nope`)).status, 404);
    assert.equal((await fetch(`${server.url}/whip`)).status, 405);
  });
});

describe('server: pipelines chosen by name (POST /whip?pipeline=)', function () {
  this.timeout(60_000);
  let server: CausewayServer | undefined;
  const clients: FakeClient[] = [];
  /** A pipeline that says its name to each session, first thing on the data channel. */
  const named = (name: string): SessionPipeline => () => ({ events$: of({ type: 'hello', pipeline: name }) });
  let warmed: string[] = [];
  const warming = (name: string, p: SessionPipeline): SessionPipeline =>
    Object.assign(p, {
      warm: async () => {
        warmed.push(name);
        return () => {
          warmed = warmed.filter((w) => w !== name);
        };
      },
    });

  afterEach(async () => {
    for (const c of clients.splice(0)) await c.close();
    await server?.close();
    server = undefined;
  });

  it('runs the named pipeline, the default one without a name, and refuses an unknown name with the names there are', async () => {
    server = await startServer({ port: 0, pipeline: warming('default', named('default')), pipelines: { other: warming('other', named('other')) } });
    assert.deepEqual(warmed, ['default', 'other'], 'every pipeline is warmed at start');
    for (const [query, expect] of [['?pipeline=other', 'other'], ['', 'default'], ['?pipeline=default', 'default']] as const) {
      const c = await FakeClient.create();
      clients.push(c);
      const r = await fetch(`${server.url}/whip${query}`, { method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: c.offer });
      assert.equal(r.status, 201, query);
      await c.accept(await r.text());
      await waitFor(() => c.messages.length >= 1, 10_000, `the ${expect} pipeline's hello`);
      assert.deepEqual(JSON.parse(c.messages[0]), { type: 'hello', pipeline: expect });
    }
    const c = await FakeClient.create();
    clients.push(c);
    const r = await fetch(`${server.url}/whip?pipeline=nope`, { method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: c.offer });
    assert.equal(r.status, 400);
    assert.equal(await oneLine(r), "no pipeline 'nope' on this server (pipelines: default, other)");
    await server.close();
    server = undefined;
    assert.deepEqual(warmed, [], 'closing the server releases what every pipeline warmed');
  });

  it('serves a page only from the folder it is given: without `page`, / and the page files are 404 and the API still answers', async () => {
    server = await startServer({ port: 0, pipeline: nullPipeline });
    assert.equal((await fetch(`${server.url}/`)).status, 404);
    assert.equal((await fetch(`${server.url}/app.js`)).status, 404);
    assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
  });

  it("refuses a pipeline named 'default' or with a name that is not a lower-case word", async () => {
    await assert.rejects(startServer({ port: 0, pipeline: nullPipeline, pipelines: { default: nullPipeline } }), /'default' is the `pipeline` option's name/);
    await assert.rejects(startServer({ port: 0, pipeline: nullPipeline, pipelines: { 'Bad Name': nullPipeline } }), /lower-case words .* got 'Bad Name'/);
  });
});

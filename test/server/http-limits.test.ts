/**
 * What a client can try against the HTTP side without ever holding a session: endless distinct
 * paths (metric series), uploads that stall, headers that never end, and `..` on the wire.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { EMPTY } from 'rxjs';
import { startServer, type CausewayServer } from '../../src/server/http-server.js';
import type { SessionPipeline } from '../../src/server/session-pipeline.js';
import { FakeClient } from '../webrtc/fake-client.js';
import { until } from '../wait.js';
import { getLiteral, rawConnect, type RawConnection } from './raw-http.js';
import { EXAMPLE_PAGE } from '../example-page.js';

const nullPipeline: SessionPipeline = () => ({ events$: EMPTY });

describe('server HTTP limits', function () {
  this.timeout(60_000);
  let server: CausewayServer | undefined;
  const raws: RawConnection[] = [];
  const clients: FakeClient[] = [];
  afterEach(async () => {
    for (const r of raws.splice(0)) r.socket.destroy();
    for (const c of clients.splice(0)) await c.close();
    await server?.close();
    server = undefined;
  });

  it('2,000 distinct unknown paths do not grow /metrics (bounded route labels)', async () => {
    server = await startServer({ port: 0, pipeline: nullPipeline, page: EXAMPLE_PAGE });
    const url = server.url;
    const size = async () => (await (await fetch(`${url}/metrics`)).text()).length;
    // One error of each kind first, so that the series the walk may legitimately add exist already.
    assert.equal((await fetch(`${url}/first-unknown`)).status, 404);
    assert.equal((await fetch(`${url}/first-unknown.html`)).status, 404);
    const before = await size();
    for (let i = 0; i < 2000; i += 50) {
      const batch = Array.from({ length: 50 }, (_, j) => `${url}/${i % 100 === 0 ? 'whipx' : 'p'}${i + j}${j % 2 ? '.html' : ''}/x${i + j}`);
      const statuses = await Promise.all(batch.map(async (u) => (await fetch(u)).status));
      assert.ok(statuses.every((s) => s === 404), statuses.join(','));
    }
    const after = await size();
    assert.ok(after - before < 4096, `/metrics grew from ${before} to ${after} bytes`);
    const text = await (await fetch(`${url}/metrics`)).text();
    const routes = new Set([...text.matchAll(/causeway_http_errors_total\{route="([^"]*)"/g)].map((m) => m[1]));
    for (const r of routes) assert.ok(['whip', 'whep', 'events', 'metrics', 'static', 'other'].includes(r), `route label '${r}'`);
  });

  it('20 stalled uploads neither hold session slots nor stay open: a real offer gets 201, they get 408', async () => {
    server = await startServer({ port: 0, pipeline: nullPipeline, maxSessions: 8, bodyTimeoutMs: 1500 });
    for (let i = 0; i < 20; i++) {
      const r = await rawConnect(server.url);
      raws.push(r);
      // Expect: 100-continue makes the server say when the request has reached its handler.
      r.socket.write('POST /whip HTTP/1.1\r\nHost: x\r\nContent-Type: application/sdp\r\nContent-Length: 4000\r\nExpect: 100-continue\r\n\r\n');
    }
    await until('every stalled upload to reach the handler', 10_000, () => raws.every((r) => r.received().startsWith('HTTP/1.1 100')));
    for (const r of raws) r.socket.write('v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\n');
    const c = await FakeClient.create();
    clients.push(c);
    const res = await fetch(`${server.url}/whip`, { method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: c.offer });
    assert.equal(res.status, 201, await res.clone().text());
    await c.accept(await res.text());
    await until('every stalled upload to be closed', 15_000, () => raws.every((r) => r.isClosed()), () => `${raws.filter((r) => !r.isClosed()).length} open`);
    for (const r of raws) assert.match(r.received(), /HTTP\/1\.1 408 /, r.received());
    assert.equal(server.sessions.size, 1);
  });

  it('headers that never end get 408 and the connection closed', async () => {
    server = await startServer({ port: 0, pipeline: nullPipeline, headersTimeoutMs: 500 });
    const r = await rawConnect(server.url);
    raws.push(r);
    r.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ');
    await until('the half-sent request to be closed', 10_000, () => r.isClosed());
    assert.match(r.received(), /^HTTP\/1\.1 408 /);
    // The server goes on serving.
    assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
  });

  it('timeouts must be positive numbers', async () => {
    await assert.rejects(startServer({ port: 0, pipeline: nullPipeline, bodyTimeoutMs: 0 }), /bodyTimeoutMs/);
    await assert.rejects(startServer({ port: 0, pipeline: nullPipeline, headersTimeoutMs: Number.NaN }), /headersTimeoutMs/);
  });

  it('`..` sent literally, plain or percent-encoded, never reaches a file outside the page folder', async () => {
    server = await startServer({ port: 0, pipeline: nullPipeline, page: EXAMPLE_PAGE });
    // Files outside examples/web with extensions the static server serves, and one it does not.
    const outside = [
      { rel: '../../dist/src/index.js', text: readFileSync(new URL('../../src/index.js', import.meta.url), 'latin1') },
      { rel: '../../package.json', text: readFileSync(new URL('../../../package.json', import.meta.url), 'latin1') },
    ];
    const forms = (rel: string): string[] => {
      const up = rel.split('/');
      const enc = (dots: string, slash: string) => up.map((p) => (p === '..' ? dots : p)).join(slash);
      return [
        `/${rel}`,
        `/${enc('%2e%2e', '/')}`,
        `/${enc('%2E%2E', '%2f')}`,
        `/${enc('%2E%2E', '%2F')}`,
        `/${enc('..', '%2f')}`,
        `/${enc('..', '\\')}`,
        `/${enc('%2e%2e', '%5c')}`,
        `/${enc('.%2e', '/')}`,
        `//${rel}`,
      ];
    };
    for (const { rel, text } of outside) {
      const marker = text.slice(0, 200);
      for (const path of forms(rel)) {
        const { status, body } = await getLiteral(server.url, path);
        assert.ok(status === 400 || status === 404, `${path} answered ${status}`);
        assert.ok(!body.includes(marker), `${path} returned the content of ${rel}`);
      }
    }
    // The page itself is still served by name.
    assert.equal((await getLiteral(server.url, '/app.js')).status, 200);
  });
});

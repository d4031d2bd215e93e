/**
 * One session's pipeline failing must end that session only (with an error event to its client)
 * while the others keep running.
 */
import assert from 'node:assert/strict';
import { EMPTY, map } from 'rxjs';
import { startServer, type CausewayServer } from '../../src/server/http-server.js';
import { loadedModelCount } from '../../core/onnx/shared-models.js';
import { defaultPipeline, type SessionPipeline } from '../../src/server/session-pipeline.js';
import { FakeClient, waitFor } from '../webrtc/fake-client.js';

const nullPipeline: SessionPipeline = () => ({ events$: EMPTY });

/** Echoes control messages; a `boom` message makes this session's pipeline throw. */
const fragile: SessionPipeline = ({ control$ }) => ({
  events$: control$.pipe(
    map((c) => {
      if (c.type === 'boom') throw new Error('pipeline exploded on purpose');
      return { type: 'echo', of: c.type };
    }),
  ),
});

describe('server: sessions are isolated', function () {
  this.timeout(30_000);
  let server: CausewayServer;
  const clients: FakeClient[] = [];
  before(async () => {
    server = await startServer({ port: 0, pipeline: fragile });
  });
  after(async () => {
    for (const c of clients) await c.close();
    await server.close();
  });

  async function connect(): Promise<FakeClient> {
    const c = await FakeClient.create();
    clients.push(c);
    const r = await fetch(`${server.url}/whip`, { method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: c.offer });
    assert.equal(r.status, 201);
    await c.accept(await r.text());
    return c;
  }

  it('a failing pipeline ends its own session with an error event; the other session goes on', async () => {
    const a = await connect();
    const b = await connect();
    assert.equal(server.sessions.size, 2);
    a.dc!.send(JSON.stringify({ type: 'boom' }));
    await waitFor(() => a.messages.some((m) => JSON.parse(m).type === 'error'), 15_000, 'error event on A');
    assert.match(JSON.parse(a.messages.find((m) => JSON.parse(m).type === 'error')!).message, /pipeline exploded on purpose/);
    // A session leaves the map once its peer has closed (up to 2 s by design), more on a loaded machine.
    await waitFor(() => server.sessions.size === 1, 15_000, 'session A closed');
    b.dc!.send(JSON.stringify({ type: 'hello' }));
    await waitFor(() => b.messages.some((m) => JSON.parse(m).type === 'echo'), 15_000, 'B still served');
    assert.deepEqual(JSON.parse(b.messages.find((m) => JSON.parse(m).type === 'echo')!), { type: 'echo', of: 'hello' });
    // And a new session can still start.
    await connect();
    assert.equal(server.sessions.size, 2);
  });

  it('the default pipeline loads its models (VAD, captions) once at server start, not per session, and frees them at close', async () => {
    const before = loadedModelCount();
    const s = await startServer({ port: 0, pipeline: defaultPipeline({ device: 'cpu' }) });
    assert.equal(loadedModelCount(), before + 2);
    await s.close();
    assert.equal(loadedModelCount(), before);
    // A port that is taken: the start fails with the listen error and still frees the model.
    const taken = await startServer({ port: 0, pipeline: nullPipeline });
    const port = Number(new URL(taken.url).port);
    await assert.rejects(startServer({ port, pipeline: defaultPipeline({ device: 'cpu' }) }), /EADDRINUSE/);
    assert.equal(loadedModelCount(), before);
    await taken.close();
  });
});

/**
 * Scale-out on NATS, on loopback: Debian's nats-server, one front and two workers as separate
 * `causeway` processes, werift clients (test/webrtc/fake-client.ts) offering through the front
 * and then talking to their worker directly. Placement by load, events through the front,
 * DELETE through the front, a worker killed, a worker drained, no worker free, NATS restarted.
 */
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { FakeClient } from '../webrtc/fake-client.js';
import { pumpAudio, tonePackets, type Pump } from '../server/fault-clients.js';
import { until } from '../wait.js';
import { Cluster, health } from './harness.js';

type Event = { type: string; [k: string]: unknown };

interface Placed {
  client: FakeClient;
  id: string;
  /** The worker the front placed it on (its X-Causeway-Worker header). */
  worker: string;
  pump: Pump;
}

describe('cluster: fronts and workers on NATS', function () {
  this.timeout(240_000);
  let cluster: Cluster;
  let clients: FakeClient[];
  let pumps: Pump[];
  let sockets: WebSocket[];
  /** The front's bearer token, when the test gives it one. */
  let token: string | undefined;
  const packets = tonePackets();
  const authHeaders = (): Record<string, string> => (token ? { Authorization: `Bearer ${token}` } : {});

  beforeEach(() => {
    token = undefined;
    cluster = new Cluster();
    clients = [];
    pumps = [];
    sockets = [];
  });
  afterEach(async function () {
    // What each process said, when the test failed: the only view into the other processes.
    if (this.currentTest?.state === 'failed') for (const p of cluster.procs) console.log(`---- ${p.child.spawnargs.slice(1).join(' ')}\n${p.out().split('\n').slice(-30).join('\n')}`);
    for (const ws of sockets) ws.terminate();
    await Promise.all(pumps.map((p) => p.stop()));
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    await cluster.stop();
  });

  async function offer(front: string): Promise<Response & { client?: FakeClient }> {
    const client = await FakeClient.create();
    clients.push(client);
    const r = await fetch(`${front}/whip`, { method: 'POST', headers: { 'Content-Type': 'application/sdp', ...authHeaders() }, body: client.offer });
    return Object.assign(r, { client });
  }

  /** Offers through the front, connects to the worker that answered, and keeps the microphone going. */
  async function place(front: string): Promise<Placed> {
    const r = await offer(front);
    assert.equal(r.status, 201, await r.clone().text());
    const id = r.headers.get('location')!.split('/').pop()!;
    const worker = r.headers.get('x-causeway-worker')!;
    await r.client!.accept(await r.text());
    const pump = pumpAudio(r.client!, packets);
    pumps.push(pump);
    return { client: r.client!, id, worker, pump };
  }

  function events(front: string, id: string): { got: Event[]; closed: Promise<void> } {
    const ws = new WebSocket(`${front.replace('http', 'ws')}/events/${id}${token ? `?token=${token}` : ''}`);
    sockets.push(ws);
    const got: Event[] = [];
    ws.on('message', (m) => got.push(JSON.parse(m.toString()) as Event));
    const closed = new Promise<void>((r) => ws.once('close', () => r()));
    return Object.assign({ got, closed }, { open: new Promise<void>((r, j) => (ws.once('open', () => r()), ws.once('error', j))) }) as { got: Event[]; closed: Promise<void>; open: Promise<void> };
  }

  const workersOf = async (front: string) => (await health(front)) as unknown as { workers: number; sessions: number; capacity: number; list: { name: string; sessions: number; draining: boolean; heardMsAgo: number }[] };

  it('places sessions by load in proportion to capacity, behind the bearer token, relays events, WHEP viewers, DELETE and the workers\' metrics through the front, and says 503 with Retry-After when no worker has room', async () => {
    token = 'front-token';
    await cluster.startNats();
    cluster.worker('w1', 1);
    cluster.worker('w2', 3);
    const { url } = await cluster.front(['--token', token]);
    await until('both workers live at the front', 60_000, async () => (await workersOf(url)).workers === 2);
    const anonymous = await fetch(`${url}/whip`, { method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: 'v=0' });
    assert.equal(anonymous.status, 401);
    const placed: Placed[] = [];
    for (let i = 0; i < 4; i++) placed.push(await place(url));
    const h = await until('heartbeats with 4 sessions', 10_000, async () => {
      const w = await workersOf(url);
      return w.sessions === 4 ? w : undefined;
    });
    assert.deepEqual(h.list.map((w) => [w.name, w.sessions]).sort(), [['w1', 1], ['w2', 3]], 'sessions in proportion to capacity (1 and 3)');
    // The front's /metrics sums its workers': the four sessions are there.
    const text = await (await fetch(`${url}/metrics`)).text();
    assert.match(text, /^causeway_sessions 4$/m);
    assert.match(text, /^causeway_sessions_started_total 4$/m);
    const full = await offer(url);
    assert.equal(full.status, 503);
    assert.equal(full.headers.get('retry-after'), '5');
    assert.match(await full.text(), /no worker has room/);

    // Events of a session on either worker reach an /events socket at the front.
    const e = events(url, placed[0]!.id) as ReturnType<typeof events> & { open: Promise<void> };
    await e.open;
    placed[0]!.client.dc!.send(JSON.stringify({ type: 'ping', t: 42 }));
    await until('the pong through the front', 10_000, () => e.got.some((x) => x.type === 'pong' && x.t === 42));

    // A WHEP viewer through the front watches a session on its worker: the session's audio reaches it.
    const viewer = await FakeClient.create({ audioDirection: 'recvonly' });
    clients.push(viewer);
    const rv = await fetch(`${url}/whep/${placed[1]!.id}`, { method: 'POST', headers: { 'Content-Type': 'application/sdp', ...authHeaders() }, body: viewer.offer });
    assert.equal(rv.status, 201, await rv.clone().text());
    const viewerAt = rv.headers.get('location')!;
    assert.match(viewerAt, new RegExp(`^/whep/${placed[1]!.id}/[0-9a-f-]{36}$`));
    await viewer.accept(await rv.text());
    await until('audio at the viewer', 20_000, () => viewer.received.length >= 20);
    assert.equal((await fetch(`${url}${viewerAt}`, { method: 'DELETE', headers: authHeaders() })).status, 200);
    assert.equal((await fetch(`${url}${viewerAt}`, { method: 'DELETE', headers: authHeaders() })).status, 404);

    // DELETE through the front ends it on its worker; the socket hears why.
    assert.equal((await fetch(`${url}/whip/${placed[0]!.id}`, { method: 'DELETE' })).status, 401, 'the token applies at the front');
    const del = await fetch(`${url}/whip/${placed[0]!.id}`, { method: 'DELETE', headers: authHeaders() });
    assert.equal(del.status, 200, await del.text());
    await e.closed;
    assert.deepEqual(e.got.at(-1), { type: 'ended', reason: 'deleted' });
    assert.equal((await fetch(`${url}/whip/${placed[0]!.id}`, { method: 'DELETE', headers: authHeaders() })).status, 404);
    await until('a slot free again', 10_000, async () => (await workersOf(url)).sessions === 3);
    await place(url);
  });

  it('a worker killed with SIGKILL: its sessions end at the front within 5 s (worker-lost) and new offers go to the other; a drained worker takes nothing new and ends its sessions at the deadline, saying why', async () => {
    await cluster.startNats();
    const w1 = cluster.worker('w1', 4);
    cluster.worker('w2', 4, ['--drain-seconds', '2']);
    const { url } = await cluster.front();
    await until('both workers live', 60_000, async () => (await workersOf(url)).workers === 2);
    const a = await place(url);
    const b = await place(url);
    assert.notEqual(a.worker, b.worker, 'one session on each worker');
    const [onW1, onW2] = a.worker === 'w1' ? [a, b] : [b, a];

    const lost = events(url, onW1.id) as ReturnType<typeof events> & { open: Promise<void> };
    await lost.open;
    const t0 = Date.now();
    w1.child.kill('SIGKILL');
    await lost.closed;
    const reportedMs = Date.now() - t0;
    assert.deepEqual(lost.got.at(-1), { type: 'ended', reason: 'worker-lost', worker: 'w1' });
    assert.ok(reportedMs < 5000, `reported after ${reportedMs} ms`);
    console.log(`      a killed worker's session reported ended at the front after ${reportedMs} ms`);
    await until('w1 dropped', 5000, async () => (await workersOf(url)).workers === 1);
    assert.equal((await place(url)).worker, 'w2');

    // Drain w2 (SIGTERM): at once no capacity, offers refused; at the deadline its sessions end with reason 'drain'.
    const drained = events(url, onW2.id) as ReturnType<typeof events> & { open: Promise<void> };
    await drained.open;
    const w2 = cluster.procs.find((p) => p.child.spawnargs.includes('w2'))!;
    const drainFrom = Date.now();
    w2.child.kill('SIGTERM');
    await until('w2 draining at the front', 5000, async () => (await workersOf(url)).list.find((w) => w.name === 'w2')?.draining === true);
    assert.equal((await offer(url)).status, 503);
    await drained.closed;
    const drainedAfter = Date.now() - drainFrom;
    assert.ok(drainedAfter >= 2000, `the session ran until the 2 s deadline (ended after ${drainedAfter} ms)`);
    assert.deepEqual(drained.got.slice(-2), [{ type: 'ending', reason: 'drain' }, { type: 'ended', reason: 'drain' }]);
    assert.equal(await w2.exited, 0);
  });

  it('NATS restarted: workers and front reconnect and placement resumes; a NATS token from the environment is required and never printed; a front stopped with SIGTERM exits and its sessions go on', async () => {
    const token = 's3cret-nats-token';
    await cluster.startNats(undefined, ['--auth', token]);
    const env = { CAUSEWAY_NATS_TOKEN: token };
    cluster.worker('w1', 2, [], env);
    const { url, proc } = await cluster.front([], env);
    await until('the worker live', 60_000, async () => (await workersOf(url)).workers === 1);
    await place(url);
    await cluster.stopNats();
    await cluster.restartNats(['--auth', token]);
    const restarted = Date.now();
    // A heartbeat sent after the restart has reached the front: both are connected again.
    await until('a heartbeat after the restart', 30_000, async () => {
      const w = (await workersOf(url)).list[0];
      return w !== undefined && w.heardMsAgo < Date.now() - restarted && w.sessions === 1;
    });
    await place(url);
    // Without the token a worker does not start, and says why.
    const denied = cluster.worker('w9', 1);
    assert.equal(await denied.exited, 1);
    assert.match(denied.out(), /cannot connect to NATS at nats:\/\/127\.0\.0\.1:\d+: .*(Authorization|AUTHORIZATION)/i);
    for (const p of cluster.procs) assert.ok(!p.out().includes(token), 'the token is never in a log line');
    assert.match(proc.out(), /reconnected to NATS/);
    // SIGTERM on the front: it exits when its requests are done; the sessions go on at the worker.
    proc.child.kill('SIGTERM');
    assert.equal(await proc.exited, 0);
    const other = await cluster.front([], env);
    await until('the sessions seen by another front', 10_000, async () => (await workersOf(other.url)).sessions === 2);
  });
});

import assert from 'node:assert/strict';
import type { RTCDataChannel } from 'werift';
import { JsonChannels } from '../../media/webrtc/data-channel.js';
import { metricValue, sharedMetrics } from '../../core/metrics.js';
import { until } from '../wait.js';

/** Just the part of werift's RTCDataChannel that JsonChannels uses. */
class FakeChannel {
  readonly sent: string[] = [];
  private onMsg: ((d: string | Buffer) => void) | undefined;
  private onState: ((s: string) => void) | undefined;
  constructor(
    readonly label: string,
    public readyState: 'connecting' | 'open' | 'closed' = 'open',
  ) {}
  readonly onMessage = { subscribe: (f: (d: string | Buffer) => void) => ((this.onMsg = f), { unSubscribe: () => (this.onMsg = undefined) }) };
  readonly stateChanged = { subscribe: (f: (s: string) => void) => ((this.onState = f), { unSubscribe: () => (this.onState = undefined) }) };
  send(text: string): void {
    if (this.readyState !== 'open') throw new Error('not open');
    this.sent.push(text);
  }
  receive(d: string | Buffer): void {
    this.onMsg?.(d);
  }
  open(): void {
    this.readyState = 'open';
    this.onState?.('open');
  }
  get asChannel(): RTCDataChannel {
    return this as unknown as RTCDataChannel;
  }
}

describe('media/webrtc JsonChannels', () => {
  it('queues until a channel opens, bounded with drop-oldest, counted', () => {
    const jc = new JsonChannels({ onMessage: () => {}, maxQueue: 4 });
    for (let i = 0; i < 6; i++) assert.equal(jc.send({ i }), true);
    assert.equal(jc.stats.messagesDropped, 2);
    const ch = new FakeChannel('causeway', 'connecting');
    jc.attach(ch.asChannel);
    assert.deepEqual(ch.sent, []);
    ch.open();
    assert.deepEqual(
      ch.sent.map((t) => JSON.parse(t)),
      [2, 3, 4, 5].map((i) => ({ i })),
    );
    assert.equal(jc.stats.messagesOut, 4);
    jc.close();
    assert.equal(jc.send({ late: 1 }), false);
  });

  it("sends on the 'causeway' channel when there are several, and answers bad input on the channel it came in on", () => {
    const got: unknown[] = [];
    const jc = new JsonChannels({ onMessage: (v) => got.push(v) });
    const other = new FakeChannel('other');
    const main = new FakeChannel('causeway');
    jc.attach(other.asChannel);
    jc.attach(main.asChannel);
    jc.send({ hello: true });
    assert.deepEqual(main.sent, ['{"hello":true}']);
    other.receive('{"a":');
    other.receive(Buffer.from('{"binary":1}'));
    other.receive('null');
    assert.deepEqual(got, [{ binary: 1 }, null]);
    assert.equal(other.sent.length, 1);
    const err = JSON.parse(other.sent[0]) as { type: string; message: string };
    assert.equal(err.type, 'error');
    assert.match(err.message, /not JSON .*"\{\\"a\\":"/);
    assert.equal(jc.stats.messagesInvalid, 1);
    assert.equal(jc.stats.messagesIn, 2);
    // A flood of garbage is quoted, not echoed.
    other.receive('x'.repeat(10000));
    assert.ok(other.sent[1].length < 300, `reply of ${other.sent[1].length} chars`);
  });
});

describe('media/webrtc JsonChannels under a flood', () => {
  it('takes a burst, then maxMessagesPerSec; the rest is dropped unread and counted; oversized messages get one error', async () => {
    const dropped = () => metricValue(sharedMetrics.drops, { operator: 'webrtc-messages-in', policy: 'rate-limit' });
    const before = await dropped();
    let taken = 0;
    const jc = new JsonChannels({ onMessage: () => taken++, maxMessagesPerSec: 50 });
    const ch = new FakeChannel('causeway');
    jc.attach(ch.asChannel);
    const heap = process.memoryUsage().heapUsed;
    const t0 = performance.now();
    for (let i = 0; i < 100_000; i++) ch.receive('{"type":"ping"}');
    const allowed = 100 + Math.ceil((50 * (performance.now() - t0)) / 1000);
    assert.ok(taken >= 100 && taken <= allowed, `${taken} taken, at most ${allowed} allowed`);
    assert.equal(jc.stats.messagesIn, taken);
    assert.equal(jc.stats.messagesInDropped, 100_000 - taken);
    assert.equal((await dropped()) - before, 100_000 - taken);
    assert.deepEqual(ch.sent, [], 'dropped messages are not parsed or answered');
    assert.ok(process.memoryUsage().heapUsed - heap < 32 * 2 ** 20, 'nothing kept per dropped message');
    // The bucket refills: the client is served again.
    const after = taken;
    await until('a message taken after the flood', 5000, () => (ch.receive('{"type":"ping"}'), taken > after));
    // The ping above may have taken the only token, so the oversized message waits for the next one;
    // attempts made while the bucket is empty are dropped unread, never answered.
    const big = 'x'.repeat(70_000);
    await until('an oversized message answered', 5000, () => (ch.receive(big), ch.sent.length > 0));
    assert.equal(ch.sent.length, 1);
    assert.match(JSON.parse(ch.sent[0]).message, /70000 bytes is over the 65536-byte limit/);
    jc.close();
  });
});

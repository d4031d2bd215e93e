import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { ffmpegSync, makeTempDir, removeDir } from '../fixtures-media.js';
import { exitWithin, killCli, spawnCli } from '../run-cli.js';

/** A loopback server and every socket it accepted, closed together. */
interface Loopback {
  readonly port: number;
  close(): Promise<void>;
}

function track(server: net.Server | http.Server): Promise<Loopback> {
  const sockets = new Set<net.Socket>();
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () =>
      resolve({
        port: (server.address() as AddressInfo).port,
        close: () =>
          new Promise<void>((done) => {
            for (const s of sockets) s.destroy();
            server.close(() => done());
          }),
      }),
    );
  });
}

/** Accepts connections and never sends a byte (reads and ignores what the client sends). */
const silentServer = () => track(net.createServer((s) => s.resume()));

/** Serves `body` as a WAV of its full length, but sends only its first `sent` bytes and then goes silent. */
const stallingServer = (body: Buffer, sent: number) =>
  track(
    http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'audio/wav', 'content-length': body.length });
      res.write(body.subarray(0, sent));
    }),
  );

describe('causeway CLI: network inputs that go silent', function () {
  this.timeout(120_000);
  let dir: string;
  let wav: Buffer;
  before(() => {
    dir = makeTempDir('cw-cli-net-');
    ffmpegSync(['-f', 'lavfi', '-i', 'sine=frequency=300:sample_rate=16000:duration=3', join(dir, 'tone.wav')]);
    wav = readFileSync(join(dir, 'tone.wav'));
  });
  after(() => removeDir(dir));

  /** The command fails with one input-timeout line naming `url`, well before a generous deadline. */
  async function assertTimesOut(args: string[], url: string): Promise<void> {
    const run = spawnCli([...args, '--timeout', '2', '--quiet']);
    try {
      // Measured: ~4 s on a loaded 2-core machine (2 s timeout + node, model and ffprobe start).
      const r = await exitWithin(run, 60_000);
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0]!, /^causeway: error: input .* for \d+(\.\d)? s .*\[input-timeout\]$/);
      assert.ok(lines[0]!.includes(url), lines[0]);
      assert.equal(r.code, 1);
    } finally {
      killCli(run);
    }
  }

  for (const scheme of ['rtsp', 'http', 'tcp'] as const) {
    it(`vad ${scheme}:// against a server that accepts and sends nothing: one line, exit 1`, async () => {
      const server = await silentServer();
      try {
        const url = scheme === 'tcp' ? `tcp://127.0.0.1:${server.port}` : `${scheme}://127.0.0.1:${server.port}/stream`;
        await assertTimesOut(['vad', url], url);
      } finally {
        await server.close();
      }
    });
  }

  it('transcribe over http from a server that stops sending mid-file: one line, exit 1 (not a silent success on a third of the file)', async () => {
    const server = await stallingServer(wav, 44 + 32000);
    try {
      const url = `http://127.0.0.1:${server.port}/tone.wav`;
      await assertTimesOut(['transcribe', url], url);
    } finally {
      await server.close();
    }
  });
});

/**
 * A cluster on loopback for the scale-out tests: nats-server (Debian's) on a free port, fronts
 * and workers as separate `causeway` processes, each killed in `stop()` whatever happened.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { until } from '../wait.js';

const cli = fileURLToPath(new URL('../../src/cli.js', import.meta.url));

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** A UDP port nothing listens on now (bound once and released). */
export async function freeUdpPort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    s.bind(0, '127.0.0.1', () => {
      const port = s.address().port;
      s.close(() => resolve(port));
    });
  });
}

export interface Proc {
  readonly child: ChildProcess;
  out(): string;
  exited: Promise<number | null>;
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): Proc {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, out: () => out, exited };
}

export class Cluster {
  readonly procs: Proc[] = [];
  natsUrl = '';
  private natsPort = 0;
  private nats: Proc | undefined;

  async startNats(port?: number, extra: string[] = []): Promise<void> {
    this.natsPort = port ?? (await freePort());
    this.natsUrl = `nats://127.0.0.1:${this.natsPort}`;
    this.nats = run('nats-server', ['-a', '127.0.0.1', '-p', String(this.natsPort), ...extra]);
    this.procs.push(this.nats);
    await until('nats-server listening', 15_000, () => /Server is ready/.test(this.nats!.out()), () => this.nats!.out());
  }

  async stopNats(): Promise<void> {
    this.nats?.child.kill('SIGKILL');
    await this.nats?.exited;
  }

  /** Same port again, so clients reconnect to the URL they know. */
  async restartNats(extra: string[] = []): Promise<void> {
    await this.startNats(this.natsPort, extra);
  }

  worker(name: string, maxSessions: number, extra: string[] = [], env: NodeJS.ProcessEnv = {}): Proc {
    const p = run(process.execPath, [cli, 'worker', '--nats', this.natsUrl, '--name', name, '--max-sessions', String(maxSessions), '--device', 'cpu', ...extra], env);
    this.procs.push(p);
    return p;
  }

  async front(extra: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<{ proc: Proc; url: string }> {
    const p = run(process.execPath, [cli, 'serve', '--nats', this.natsUrl, '--role', 'front', '--port', '0', ...extra], env);
    this.procs.push(p);
    const m = await until('the front serving', 30_000, () => /front is serving on (http:\/\/\S+?)\/ /.exec(p.out()) ?? undefined, () => p.out());
    return { proc: p, url: m[1]! };
  }

  async stop(): Promise<void> {
    for (const p of this.procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    await Promise.all(this.procs.map((p) => p.exited));
  }
}

export async function health(url: string): Promise<{ status: string; workers: number; sessions: number; capacity: number }> {
  return (await (await fetch(`${url}/healthz`)).json()) as { status: string; workers: number; sessions: number; capacity: number };
}

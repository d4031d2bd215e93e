/**
 * Debian's Janus (1.1.2) for the tests: started on free ports with a config of our own (the
 * videoroom plugin and the HTTP transport only, on loopback), and a small client of its HTTP API.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../cluster/harness.js';
import { until } from '../wait.js';

const LIB = '/usr/lib/x86_64-linux-gnu/janus';
const OTHER_PLUGINS = ['audiobridge', 'duktape', 'echotest', 'lua', 'nosip', 'recordplay', 'sip', 'streaming', 'textroom', 'videocall', 'voicemail'];
const OTHER_TRANSPORTS = ['websockets', 'mqtt', 'nanomsg', 'pfunix', 'rabbitmq'];
export const ROOM = 1234;

export interface Janus {
  readonly url: string;
  readonly child: ChildProcess;
  out(): string;
  stop(): Promise<void>;
}

export async function startJanus(dir: string): Promise<Janus> {
  const conf = join(dir, 'janus-conf');
  mkdirSync(conf, { recursive: true });
  const port = await freePort();
  writeFileSync(
    join(conf, 'janus.jcfg'),
    `general: {
  configs_folder = "${conf}"
  plugins_folder = "${LIB}/plugins"
  transports_folder = "${LIB}/transports"
  events_folder = "${LIB}/events"
  loggers_folder = "${LIB}/loggers"
  log_to_stdout = true
  debug_level = 4
}
plugins: { disable = "${OTHER_PLUGINS.map((p) => `libjanus_${p}.so`).join(',')}" }
transports: { disable = "${OTHER_TRANSPORTS.map((p) => `libjanus_${p}.so`).join(',')}" }
events: { broadcast = false }
media: { rtp_port_range = "20000-40000" }
nat: { ice_ignore_list = "vmnet" }
`,
  );
  writeFileSync(join(conf, 'janus.transport.http.jcfg'), `general: { json = "plain", base_path = "/janus", http = true, port = ${port}, ip = "127.0.0.1", https = false }\nadmin: { admin_http = false }\n`);
  writeFileSync(join(conf, 'janus.plugin.videoroom.jcfg'), `general: { }\nroom-${ROOM}: { description = "Causeway test room", publishers = 6, audiocodec = "opus", videocodec = "vp8" }\n`);
  const child = spawn('janus', ['-F', conf, '-C', join(conf, 'janus.jcfg')], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const url = `http://127.0.0.1:${port}/janus`;
  await until('Janus answering', 20_000, async () => {
    try {
      return (await fetch(`${url}/info`)).ok;
    } catch {
      return false;
    }
  }, () => out.slice(-2000));
  return {
    url,
    child,
    out: () => out,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

let tx = 0;
type Reply = { janus: string; data?: { id: number }; plugindata?: { data: Record<string, unknown> }; jsep?: { type: string; sdp: string }; error?: { reason: string } };

/** One request to Janus's HTTP API; for a plugin message, waits for its asynchronous event (long poll). */
export async function janusRequest(url: string, body: Record<string, unknown>): Promise<Reply> {
  const transaction = `t${++tx}`;
  const r = (await (await fetch(url, { method: 'POST', body: JSON.stringify({ ...body, transaction }) })).json()) as Reply;
  if (r.janus === 'error') throw new Error(`Janus: ${r.error?.reason}`);
  if (r.janus !== 'ack') return r;
  // An asynchronous answer: long-poll the session until the event of this transaction comes.
  const session = url.split('/').slice(-2)[0]!;
  const base = url.split('/').slice(0, -1).join('/');
  for (;;) {
    const e = (await (await fetch(`${base}?maxev=1&rid=${Date.now()}`)).json()) as Reply & { transaction?: string };
    void session;
    if (e.transaction === transaction) return e;
  }
}

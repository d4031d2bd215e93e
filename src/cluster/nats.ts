/**
 * The NATS connection of a front or a worker: reconnects for ever (a restarted nats-server is a
 * pause, not an end), and takes credentials from a file or the environment, never from the
 * command line and never into a log line.
 */
import { readFileSync } from 'node:fs';
import { connect, credsAuthenticator, type ConnectionOptions, type NatsConnection } from 'nats';
import { CausewayError } from '../../core/errors.js';
import { logger } from '../../core/log.js';

const log = logger('nats');

export interface NatsOptions {
  /** nats://host:port (a comma list for a cluster). */
  url: string;
  /** A NATS credentials file (JWT + nkey seed, `nsc`'s .creds), read at connect. */
  credsFile?: string;
  /** A token; default the environment's CAUSEWAY_NATS_TOKEN. */
  token?: string;
  /** Shown in the server's connection list. */
  name: string;
}

export async function connectNats(o: NatsOptions): Promise<NatsConnection> {
  const options: ConnectionOptions = {
    servers: o.url.split(','),
    name: o.name,
    reconnect: true,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    waitOnFirstConnect: false,
  };
  const token = o.token ?? process.env.CAUSEWAY_NATS_TOKEN;
  if (token) options.token = token;
  if (o.credsFile) {
    let creds: Uint8Array;
    try {
      creds = readFileSync(o.credsFile);
    } catch (e) {
      throw new CausewayError('invalid-argument', `cannot read the NATS credentials file ${o.credsFile}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    options.authenticator = credsAuthenticator(creds);
  }
  let nc: NatsConnection;
  try {
    nc = await connect(options);
  } catch (e) {
    // The client's message names the server and the failure (refused, authorization), never the secret.
    throw new CausewayError('peer-failed', `cannot connect to NATS at ${o.url}: ${(e as Error).message}`);
  }
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect') log.warn(`disconnected from NATS (${String(s.data)}); reconnecting`);
      else if (s.type === 'reconnect') log.info(`reconnected to NATS (${String(s.data)})`);
    }
  })();
  return nc;
}

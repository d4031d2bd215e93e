/**
 * HTTP as a client can really send it: bytes on a socket (stalled bodies, half-sent headers) and
 * request targets sent literally (fetch and URL normalise `..` away before anything leaves).
 */
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';

/** A raw connection that keeps everything the server sent and knows when the server closed it. */
export interface RawConnection {
  readonly socket: Socket;
  /** All bytes received so far, as latin1 text. */
  received(): string;
  readonly closed: Promise<void>;
  isClosed(): boolean;
}

export async function rawConnect(url: string): Promise<RawConnection> {
  const { hostname, port } = new URL(url);
  const socket = connect({ host: hostname, port: Number(port) });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  let text = '';
  let closed = false;
  socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
  // A reset from the server is one way of closing; the test looks at what arrived, not how.
  socket.on('error', () => {});
  const done = new Promise<void>((resolve) =>
    socket.once('close', () => {
      closed = true;
      resolve();
    }),
  );
  return { socket, received: () => text, closed: done, isClosed: () => closed };
}

/** Sends `path` exactly as given as the request target; resolves with the status and body. */
export function getLiteral(url: string, path: string): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ host: hostname, port: Number(port), path, method: 'GET', agent: false }, (res) => {
      let body = '';
      res.setEncoding('latin1');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

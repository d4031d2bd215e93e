/**
 * What every HTTP route of the server shares: its error type (a status and a one-line reason
 * the client reads), CORS headers, and the checks and body reading an SDP offer goes through.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isCausewayError } from '../../core/errors.js';

/** The largest SDP offer read (a browser's is 3-6 KB). */
export const MAX_SDP_BYTES = 64 * 1024;

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export const CORS = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Allow-Methods': 'POST, DELETE, OPTIONS',
  'Access-Control-Allow-Headers': 'Authorization, Content-Type',
  'Access-Control-Expose-Headers': 'Location',
};

export function requireSdp(req: IncomingMessage): void {
  const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  if (type !== 'application/sdp') throw new HttpError(415, `offer must be Content-Type application/sdp, got '${type || 'none'}'`);
}

/** A bad offer is the client's fault (400); anything else is ours (500). */
export function asHttp(e: unknown): unknown {
  return isCausewayError(e) && e.code === 'bad-offer' ? new HttpError(400, e.message) : e;
}

/**
 * Reads a request body of at most `limit` bytes within `timeoutMs`: a client that stalls mid-body
 * gets 408 and its connection closed, instead of holding it (and whatever it waits for) for
 * Node's 300 s request timeout.
 */
export function readBody(req: IncomingMessage, limit: number, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    const done = () => {
      clearTimeout(timer);
      req.off('data', onData);
    };
    const timer = setTimeout(() => {
      done();
      reject(new HttpError(408, `request body not received within ${timeoutMs} ms`, { Connection: 'close' }));
    }, timeoutMs);
    const onData = (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        // Stop keeping it, but let the client finish sending so it can read the 413 we answer.
        done();
        req.resume();
        reject(new HttpError(413, `offer larger than ${limit} bytes`, { Connection: 'close' }));
        return;
      }
      parts.push(c);
    };
    req.on('data', onData);
    req.on('end', () => {
      done();
      resolve(Buffer.concat(parts).toString('utf8'));
    });
    req.on('error', (e) => {
      done();
      reject(e);
    });
  });
}

/**
 * A request handler that answers what `route` throws: an HttpError with its status and one line,
 * anything else with 500 (logged); a response already started is cut. Shared by the server and
 * the scale-out front, so both answer failures the same way.
 */
export function answeringErrors(
  route: (req: IncomingMessage, res: ServerResponse) => Promise<void>,
  onError: (req: IncomingMessage, status: number, message: string) => void,
): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    route(req, res).catch((e: unknown) => {
      const status = e instanceof HttpError ? e.status : 500;
      const message = e instanceof HttpError ? e.message : `internal error: ${(e as Error)?.message ?? String(e)}`;
      onError(req, status, message);
      if (res.headersSent) {
        res.destroy();
        return;
      }
      res.writeHead(status, { ...CORS, 'Content-Type': 'text/plain; charset=utf-8', ...(e instanceof HttpError ? e.headers : {}) });
      res.end(message.split('\n')[0] + '\n');
    });
  };
}

/**
 * Serves a web page's folder (`ServerOptions.page`; `causeway serve` passes the example page,
 * examples/web, which has no build step). Only plain files directly inside that folder, by
 * exact name: no path walking.
 */
import { readFile } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { basename, extname, join } from 'node:path';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

function fileName(pathname: string): string | undefined {
  const name = pathname === '/' ? 'index.html' : pathname.slice(1);
  return name !== basename(name) || name.startsWith('.') || !(extname(name) in TYPES) ? undefined : name;
}

/** Whether the path names a file the page could have (whether or not it exists). */
export function isStaticPath(pathname: string): boolean {
  return fileName(pathname) !== undefined;
}

/** Serves `pathname` from the folder `root`; returns false when there is no such file (the caller answers 404). */
export async function serveStatic(root: string, pathname: string, res: ServerResponse): Promise<boolean> {
  const name = fileName(pathname);
  if (name === undefined) return false;
  let body: Buffer;
  try {
    body = await readFile(join(root, name));
  } catch {
    return false;
  }
  res.writeHead(200, { 'Content-Type': TYPES[extname(name)], 'Cache-Control': 'no-cache', 'Content-Length': body.length });
  res.end(body);
  return true;
}

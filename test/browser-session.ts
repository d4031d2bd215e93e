import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { startServer, type CausewayServer, type ServerOptions } from '../src/server/http-server.js';
import { launchBrowser, writeWav, type BrowserHarness } from './browser-harness.js';
import { makeTempDir, removeDir } from './fixtures-media.js';
import { EXAMPLE_PAGE } from './example-page.js';

/** A real server and a real chromium whose fake microphone plays `mic`, with the example page open on the server. */
export interface BrowserSession {
  readonly dir: string;
  readonly server: CausewayServer;
  readonly browser: BrowserHarness;
  readonly page: Page;
  /** Closes the browser and the server and removes the temporary folder. */
  close(): Promise<void>;
}

/**
 * Writes `mic` (mono, 48 kHz) as the fake microphone's WAV in a new temporary folder, starts the
 * server with `serverOptions` on a free port, launches chromium and opens the page. What was
 * started before a failure is closed again before the error is rethrown.
 */
export async function startBrowserSession(prefix: string, mic: Float32Array, serverOptions: ServerOptions): Promise<BrowserSession> {
  const dir = makeTempDir(prefix);
  let server: CausewayServer | undefined;
  let browser: BrowserHarness | undefined;
  const close = async () => {
    await browser?.close();
    await server?.close();
    removeDir(dir);
  };
  try {
    const wav = join(dir, 'mic.wav');
    writeWav(wav, [mic], 48000);
    server = await startServer({ port: 0, page: EXAMPLE_PAGE, ...serverOptions });
    browser = await launchBrowser({ fakeAudioWav: wav, fakeVideo: false });
    const page = await browser.page(`${server.url}/`);
    return { dir, server, browser, page, close };
  } catch (err) {
    await close();
    throw err;
  }
}

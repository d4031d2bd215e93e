import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { speechFixture, writeFixtureWav } from '../fixtures-speech.js';
import { makeTempDir, removeDir } from '../fixtures-media.js';
import { exitWithin, killCli, spawnCli, type CliRun } from '../run-cli.js';
import { until } from '../wait.js';

/** Collects a running command's stdout. */
function stdoutOf(run: CliRun): () => string {
  let out = '';
  run.child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  return () => out;
}

describe('causeway CLI: the process ends cleanly', function () {
  this.timeout(120_000);
  let dir: string;
  let commands: string;
  /** A module loaded before the CLI (node --import) that fails on SIGUSR2: the way a bug would. */
  let injectFailure: string;
  before(() => {
    dir = makeTempDir('cw-cli-process-');
    commands = writeFixtureWav(speechFixture([0.5, 'lights on', 1.0, 'volume up', 1.0, 'seven three nine', 0.8], 16000), dir, 'commands.wav');
    injectFailure = join(dir, 'inject-failure.mjs');
    // It writes a file once loaded (a SIGUSR2 before that would end the process by default) and
    // ignores the signal until the CLI has installed its handlers (before that, Node's default
    // handling would report the failure, which is not what is tested).
    writeFileSync(
      injectFailure,
      `import { existsSync, writeFileSync } from 'node:fs';
      process.on('SIGUSR2', () => {
        if (process.listenerCount('uncaughtException') === 0) return;
        if (process.env.CW_INJECT === 'throw') setImmediate(() => { throw new Error('injected uncaught exception'); });
        else Promise.reject(new Error('injected unhandled rejection'));
      });
      writeFileSync(process.env.CW_INJECT_READY, '');\n`,
    );
  });
  after(() => removeDir(dir));

  it('stdout closed before the first line (`| head -0`): exits 0, nothing on stderr, no EPIPE stack', async () => {
    const run = spawnCli(['transcribe', commands, '--quiet']);
    try {
      // Our end of the pipe closes now: every line the command writes meets a pipe without a reader.
      run.child.stdout!.destroy();
      const r = await exitWithin(run, 90_000);
      assert.equal(r.stderr, '');
      assert.equal(r.code, 0, r.stderr);
    } finally {
      killCli(run);
    }
  });

  for (const [kind, expected] of [['throw', /^causeway: error: unexpected error: injected uncaught exception$/], ['reject', /^causeway: error: unexpected error: injected unhandled rejection$/]] as const) {
    it(`an ${kind === 'throw' ? 'uncaught exception' : 'unhandled rejection'} ends a command with one line and exit 1`, async () => {
      const ready = join(dir, `ready-${kind}`);
      Object.assign(process.env, { CW_INJECT: kind, CW_INJECT_READY: ready });
      // vad on its own stdin, which the test holds open and never writes: the command waits for
      // input until the failure is injected.
      const run = spawnCli(['vad', 'pipe:0', '--quiet'], { stdio: ['pipe', 'pipe', 'pipe'], nodeArgs: ['--import', pathToFileURL(injectFailure).href] });
      delete process.env.CW_INJECT;
      delete process.env.CW_INJECT_READY;
      try {
        await until('the injection module to load', 30_000, () => existsSync(ready));
        let r: Awaited<CliRun['exited']> | undefined;
        void run.exited.then((x) => (r = x));
        await until('the injected failure to end the command', 60_000, () => {
          if (r === undefined) run.child.kill('SIGUSR2');
          return r !== undefined;
        });
        const lines = r!.stderr.trim().split('\n');
        assert.equal(lines.length, 1, r!.stderr);
        assert.match(lines[0]!, expected);
        assert.equal(r!.code, 1);
      } finally {
        killCli(run);
      }
    });
  }

  it('serve: an unhandled rejection is one log line and the server goes on', async () => {
    Object.assign(process.env, { CW_INJECT: 'reject', CW_INJECT_READY: join(dir, 'ready-serve') });
    const run = spawnCli(['serve', '--port', '0'], { nodeArgs: ['--import', pathToFileURL(injectFailure).href] });
    delete process.env.CW_INJECT;
    delete process.env.CW_INJECT_READY;
    const out = stdoutOf(run);
    let stderr = '';
    run.child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    try {
      const url = await until('the server to start', 60_000, () => /serving on (http:\/\/\S+?)\/ /.exec(out())?.[1]);
      run.child.kill('SIGUSR2');
      await until('the rejection to be logged', 30_000, () => /unhandled rejection, the server goes on: unexpected error: injected unhandled rejection/.test(stderr), () => stderr);
      const health = await fetch(`${url}/healthz`);
      assert.equal(health.status, 200);
      assert.equal(run.child.exitCode, null, 'still running');
      assert.doesNotMatch(stderr, /\n\s+at /);
    } finally {
      killCli(run);
    }
  });
});

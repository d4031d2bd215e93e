import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ffmpegSync, garbageBytes, makeTempDir, removeDir, truncateCopy } from '../fixtures-media.js';
import { speechFixture, writeFixtureWav } from '../fixtures-speech.js';
import { exitWithin, killCli, runCli, spawnCli } from '../run-cli.js';
import { until } from '../wait.js';

/** One line on stderr, `causeway: error: ...`, matching `re`, exit code 1, no stack. */
function assertOneLineError(r: { code: number | null; stderr: string }, re: RegExp, what: string): void {
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line for ${what}: ${r.stderr}`);
  assert.match(lines[0]!, /^causeway: error: /, what);
  assert.match(lines[0]!, re, what);
  assert.doesNotMatch(r.stderr, /\n\s+at /, what);
  assert.equal(r.code, 1, `${what}: ${r.stderr}`);
}

/** The children of `pid` named `comm`, read from /proc (no ps: its absence must not read as "none"). */
function childrenNamed(pid: number, comm: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    // pid (comm) state ppid ...: comm may hold spaces and parentheses, so split at the last ')'.
    const close = stat.lastIndexOf(')');
    const ppid = Number(stat.slice(close + 2).split(' ')[1]);
    if (ppid === pid && stat.slice(stat.indexOf('(') + 1, close) === comm) out.push(Number(name));
  }
  return out;
}

describe('causeway CLI: bad input and output for transcribe and binaural', function () {
  this.timeout(300_000);
  let dir: string;
  let wav: string;
  const inputs: [string, string, RegExp][] = [];
  before(() => {
    dir = makeTempDir('cw-cli-bad-');
    wav = writeFixtureWav(speechFixture([0.5, 'lights on', 1.0, 'volume up', 0.8], 16000), dir, 'speech.wav');
    const p = (n: string) => join(dir, n);
    writeFileSync(p('empty.wav'), '');
    writeFileSync(p('junk.mp4'), garbageBytes(20000));
    truncateCopy(wav, p('cut.wav'), 40000);
    ffmpegSync(['-f', 'lavfi', '-i', 'testsrc=d=1:s=64x48', p('video.mp4')]);
    inputs.push(
      ['missing', p('missing.wav'), /input not found: .*missing\.wav.*\[input-not-found\]/],
      ['empty', p('empty.wav'), /empty\.wav is empty.*\[input-empty\]/],
      ['not media', p('junk.mp4'), /junk\.mp4.*\[corrupt-input\]/],
      ['truncated', p('cut.wav'), /cut\.wav.*truncated.*\[corrupt-input\]/],
      ['no audio stream', p('video.mp4'), /video\.mp4.*no audio stream \[no-audio-stream\]/],
    );
  });
  after(() => removeDir(dir));

  it('transcribe: missing, empty, not media, truncated, no audio -> one line, exit 1', async () => {
    for (const [what, input, re] of inputs) assertOneLineError(await runCli(['transcribe', input, '--quiet']), re, `transcribe ${what}`);
  });

  it('binaural: missing, empty, not media, truncated, no audio -> one line, exit 1', async () => {
    for (const [what, input, re] of inputs) assertOneLineError(await runCli(['binaural', input, join(dir, `out-${what.replace(/ /g, '-')}.wav`), '--quiet']), re, `binaural ${what}`);
  });

  it('binaural: an output in a missing directory, with an unknown extension, or a directory -> one plain line, exit 1', async () => {
    mkdirSync(join(dir, 'a-dir'));
    const cases: [string, RegExp][] = [
      [join(dir, 'no', 'such', 'dir', 'out.wav'), /cannot write .*out\.wav: its directory does not exist .*\[output-failed\]/],
      [join(dir, 'out.xyz'), /cannot write .*out\.xyz: ffmpeg knows no output format for the extension '\.xyz' \(the format follows the extension: \.wav, .*\[output-failed\]/],
      [join(dir, 'a-dir'), /cannot write .*a-dir: the name has no extension .*\[output-failed\]/],
    ];
    for (const [out, re] of cases) assertOneLineError(await runCli(['binaural', wav, out, '--quiet']), re, `binaural -> ${out}`);
    assert.ok(!existsSync(join(dir, 'out.xyz')));
  });

  for (const command of ['vad', 'transcribe'] as const) {
    it(`${command}: its ffmpeg child killed with SIGKILL mid-file -> one line naming the input and the signal, exit 1`, async () => {
      // Long enough that ffmpeg is still running (held back by the model's queue) when it is killed.
      const long = join(dir, `long-${command}.wav`);
      ffmpegSync(['-f', 'lavfi', '-i', 'sine=frequency=220:sample_rate=16000:duration=600', long]);
      const run = spawnCli([command, long, '--quiet']);
      try {
        const [ffmpeg] = await until('the ffmpeg child to start', 60_000, () => {
          const found = childrenNamed(run.child.pid!, 'ffmpeg');
          return found.length > 0 && found;
        });
        process.kill(ffmpeg!, 'SIGKILL');
        const r = await exitWithin(run, 60_000);
        assertOneLineError(r, /long-.*\.wav.*killed by SIGKILL.*\[ffmpeg-failed\]/, `${command} with ffmpeg killed`);
      } finally {
        killCli(run);
      }
    });
  }
});

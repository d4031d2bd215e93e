#!/usr/bin/env node
/**
 * The `causeway` command. Errors are one line on stderr and a non-zero exit code; `--debug`
 * adds the stack. Program output (segments, JSON) goes to stdout, logs to stderr.
 */
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { lastValueFrom, Subject, takeUntil, tap } from 'rxjs';
import { glueNegativeValues } from './cli-args.js';
import { CliProcess, reportError } from './cli-process.js';
import { nowMs, type VadEvent } from '../core/frames.js';
import { logger, setLogLevel } from '../core/log.js';
import { metricValue, sharedMetrics } from '../core/metrics.js';
import { DEVICES, type Device } from '../core/onnx/session.js';
import { defaultCommandModel } from '../core/models/default-models.js';
import { detectSpeech } from './pipelines/detect-speech.js';
import { probeInput } from './pipelines/file-audio.js';

const OPTIONS_USAGE = `options:
  --json        one JSON object per segment
  --realtime    read the input at 1x speed, like a live source
  --timeout     seconds a network input (rtsp, http, tcp, ...) may send nothing before it fails (default 10; 0: wait forever)
  --device      ONNX execution provider: auto (default: the CPU, and a GPU for the batch sizes where it
                measured faster at load), cpu, cuda, webgpu;
                a model whose outputs on the device differ from the CPU's runs on the CPU (with a warning)
  --threads     ONNX intra-op threads (default 1)
  --quiet       no log lines on stderr
  --debug       show stack traces`;

class UsageError extends Error {}

const log = logger('cli');

const cli = new CliProcess(process.argv.includes('--debug'));
/** Fires when stdout's reader has gone: the running pipeline stops (its ffmpeg children are killed). */
const stdoutGone$ = new Subject<void>();
cli.whenStdoutCloses(() => stdoutGone$.next());

const fmt = (us: number) => (us / 1e6).toFixed(3);

function printSegment(e: VadEvent, json: boolean): void {
  if (e.type !== 'speech-end') return;
  if (json) cli.out(JSON.stringify({ type: 'speech', startUs: e.startUs, endUs: e.endUs }) + '\n');
  else cli.out(`speech ${fmt(e.startUs)} ${fmt(e.endUs)} (${((e.endUs - e.startUs) / 1e6).toFixed(2)} s)\n`);
}

async function runVad(input: string, opts: { json: boolean; realtime: boolean; device: Device; threads: number; timeoutMs: number }): Promise<{ segments: number; seconds: number; wallSeconds: number }> {
  const t0 = nowMs();
  const info = await probeInput(input, opts.timeoutMs);
  let segments = 0;
  await lastValueFrom(
    detectSpeech(input, { info, realtime: opts.realtime, device: opts.device, threads: opts.threads, timeoutMs: opts.timeoutMs }).pipe(
      takeUntil(stdoutGone$),
      tap((e) => {
        if (e.type === 'speech-end') segments++;
        printSegment(e, opts.json);
      }),
    ),
    { defaultValue: undefined },
  );
  const dropped = await metricValue(sharedMetrics.drops, { operator: 'vad', policy: 'drop-oldest' });
  if (dropped > 0) log.warn(`${dropped} audio frame(s) dropped: the VAD fell behind real time (queue policy drop-oldest)`);
  return { segments, seconds: info.durationSec ?? NaN, wallSeconds: (nowMs() - t0) / 1000 };
}

/** The example files the CLI hands to the app: the demo clip and the page `serve` shows. */
export function demoClipPath(): string {
  return fileURLToPath(new URL('../../examples/assets/speech.ogg', import.meta.url));
}

export function examplePageDir(): string {
  return fileURLToPath(new URL('../../examples/web/', import.meta.url));
}

const OPTIONS = {
  json: { type: 'boolean', default: false },
  realtime: { type: 'boolean', default: false },
  device: { type: 'string', default: 'auto' },
  threads: { type: 'string', default: '1' },
  timeout: { type: 'string', default: '10' },
  quiet: { type: 'boolean', default: false },
  debug: { type: 'boolean', default: false },
  host: { type: 'string', default: '127.0.0.1' },
  port: { type: 'string', default: '8080' },
  token: { type: 'string' },
  'max-sessions': { type: 'string', default: '8' },
  nats: { type: 'string' },
  'nats-creds': { type: 'string' },
  role: { type: 'string' },
  name: { type: 'string' },
  'drain-seconds': { type: 'string', default: '30' },
  'asr-model': { type: 'string' },
  'binaural-engine': { type: 'string', default: 'hrtf' },
  engine: { type: 'string' },
  model: { type: 'string' },
  format: { type: 'string', default: 'text' },
  azimuth: { type: 'string', default: '0' },
  elevation: { type: 'string', default: '0' },
  distance: { type: 'string', default: '1' },
  path: { type: 'string' },
  sofa: { type: 'string' },
  room: { type: 'string' },
  sessions: { type: 'string', default: '8' },
  seconds: { type: 'string', default: '10' },
  pipeline: { type: 'string', default: 'captions' },
  'no-batch': { type: 'boolean', default: false },
  thread: { type: 'string' },
  frames: { type: 'string' },
  fps: { type: 'string', default: '15' },
  prompt: { type: 'string' },
  seed: { type: 'string' },
  controls: { type: 'string' },
  hop: { type: 'string' },
  window: { type: 'string' },
  output: { type: 'string' },
  'time-axis': { type: 'string', default: '1' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

function parseCommandLine(argv: string[]) {
  return parseArgs({ args: glueNegativeValues(argv, OPTIONS), allowPositionals: true, options: OPTIONS });
}
type Values = ReturnType<typeof parseCommandLine>['values'];

interface CommandContext {
  values: Values;
  /** The positional arguments after the command's name. */
  rest: string[];
  device: Device;
  threads: number;
  timeoutMs: number;
  common: { json: boolean; realtime: boolean; device: Device; threads: number; timeoutMs: number };
}

interface Command {
  /** Its lines in the usage text. */
  usage: string;
  /** Positional arguments it takes ('any': it checks them itself, or takes none it reads). */
  args: number | 'any';
  argsError?: string;
  run(ctx: CommandContext): Promise<void>;
}

/** Every command, in the order the usage text lists them. */
const COMMANDS: Record<string, Command> = {
  vad: {
    usage: `  causeway vad <input> [--json] [--realtime] [--timeout S] [--device D] [--threads N] [--debug]
      speech segments of any media file or URL ffmpeg reads, one line each; a plain RTP stream
      (an .sdp file or rtp://host:port, Opus) is read directly and ends --timeout S (default 2)
      after its last packet`,
    args: 1,
    argsError: 'vad takes exactly one input (a file path or URL)',
    async run({ rest, common }) {
      const r = await runVad(rest[0], common);
      if (cli.stdoutClosed) return;
      // A live stream (plain RTP) has no duration to compare with.
      if (Number.isNaN(r.seconds)) process.stderr.write(`${r.segments} segment(s); the stream ended after ${r.wallSeconds.toFixed(2)} s\n`);
      else process.stderr.write(`${r.segments} segment(s) in ${r.seconds.toFixed(2)} s of audio, processed in ${r.wallSeconds.toFixed(2)} s (real-time factor ${(r.wallSeconds / r.seconds).toFixed(4)})\n`);
    },
  },
  transcribe: {
    usage: `  causeway transcribe <input> [--engine conformer|zipformer|moonshine] [--model path] [--format text|json|srt|vtt] [--realtime] [--timeout S] [--device D]
      speech recognition: partial hypotheses live on a terminal, finals only when piped.
      conformer (default): a NeMo-contract cache-aware CTC step graph; without --model, Causeway's
        own command recogniser (digits and 30 command words)
      moonshine: Moonshine tiny, English dictation (the model comes with the npm package)
      zipformer: an icefall/sherpa-onnx streaming zipformer2 transducer; --model is its directory`,
    args: 1,
    argsError: 'transcribe takes exactly one input (a file path or URL)',
    async run({ values, rest, device, threads, timeoutMs }) {
      const engine = values.engine ?? 'conformer';
      if (engine !== 'conformer' && engine !== 'zipformer' && engine !== 'moonshine') throw new UsageError(`--engine must be conformer, zipformer or moonshine, got '${engine}'`);
      if (engine === 'zipformer' && !values.model) throw new UsageError('--engine zipformer needs --model <dir> (encoder, decoder, joiner and tokens.txt)');
      const format = values.format!;
      if (!['text', 'json', 'srt', 'vtt'].includes(format)) throw new UsageError(`--format must be text, json, srt or vtt, got '${format}'`);
      const { transcribe, srtCue, vttCue } = await import('./pipelines/transcribe.js');
      const live = process.stdout.isTTY && format === 'text';
      let cues = 0;
      if (format === 'vtt') cli.out('WEBVTT\n\n');
      await lastValueFrom(
        transcribe(
          rest[0],
          engine === 'moonshine'
            ? // Partials are shown on a terminal only: piped, each segment is decoded once, for its final.
              { engine, model: values.model, realtime: values.realtime, device, threads, timeoutMs, partials: live }
            : { engine, model: values.model ?? defaultCommandModel(), realtime: values.realtime, device, threads, timeoutMs },
        ).pipe(
          takeUntil(stdoutGone$),
          tap((e) => {
            if (e.type === 'partial') {
              // Partials only on a terminal, rewritten in place; a pipe gets finals only.
              if (live) cli.out(`\r\x1b[2K${e.text}`);
              return;
            }
            cues++;
            if (format === 'json') cli.out(JSON.stringify({ type: 'final', text: e.text, startUs: e.startUs, endUs: e.endUs }) + '\n');
            else if (format === 'srt') cli.out(srtCue(cues, e));
            else if (format === 'vtt') cli.out(vttCue(e));
            else cli.out(`${live ? '\r\x1b[2K' : ''}${fmt(e.startUs)} ${fmt(e.endUs)} ${e.text}\n`);
          }),
        ),
        { defaultValue: undefined },
      );
    },
  },
  binaural: {
    usage: `  causeway binaural <input> <output> [--azimuth A] [--elevation E] [--distance D] [--path "t:az,el[,d];..."] [--engine hrtf|neural] [--sofa file] [--room R] [--model step.onnx] [--device D]
      the input's voice (downmixed to mono) placed around the listener, for headphones: stereo at 48 kHz,
      the output format following its extension. Azimuth in degrees counter-clockwise from the front
      (90 = left, 270 = right; negative values as they are: --azimuth -90), elevation up, distance in metres
      (gain 1/distance); --path moves it through keyframes at t seconds, interpolated in between.
      The HRTFs come from a SOFA file, by default Debian's libmysofa1 MIT KEMAR set; --engine neural
      renders with Causeway's BinauralFlow-style model instead (models/binaural-flow; --room 0..1 adds
      its learned room, default 0)`,
    args: 2,
    argsError: 'binaural takes an input and an output (files or URLs; the output format follows its extension)',
    async run({ values, rest, device, threads }) {
      const engine = values.engine ?? 'hrtf';
      if (engine !== 'hrtf' && engine !== 'neural') throw new UsageError(`--engine must be hrtf (measured HRTFs) or neural (the binaural-flow model) for binaural, got '${engine}'`);
      const room = values.room === undefined ? undefined : Number(values.room);
      if (room !== undefined && (values.room!.trim() === '' || !(room >= 0 && room <= 1))) throw new UsageError(`--room must be a number in [0, 1], got '${values.room}'`);
      if (room !== undefined && engine !== 'neural') throw new UsageError('--room applies to --engine neural only');
      const num = (name: 'azimuth' | 'elevation' | 'distance', ok: (v: number) => boolean, what: string): number => {
        const v = Number(values[name]);
        if (values[name]!.trim() === '' || !Number.isFinite(v) || !ok(v)) throw new UsageError(`--${name} must be ${what}, got '${values[name]}'`);
        return v;
      };
      const azimuth = num('azimuth', () => true, 'a number of degrees');
      const elevation = num('elevation', (v) => Math.abs(v) <= 90, 'degrees in [-90, 90]');
      const distance = num('distance', (v) => v > 0, 'a positive number of metres');
      const { parsePath, renderBinauralFile } = await import('./pipelines/binaural.js');
      let path;
      try {
        path = values.path === undefined ? undefined : parsePath(values.path);
      } catch (e) {
        throw new UsageError((e as Error).message);
      }
      const r = await renderBinauralFile(rest[0], rest[1], { azimuth, elevation, distance, path, sofa: values.sofa, engine: engine as 'hrtf' | 'neural', room, model: engine === 'neural' ? values.model : undefined, device, threads });
      if (!values.quiet) {
        process.stderr.write(`${rest[1]}: ${r.seconds.toFixed(2)} s rendered binaurally (${r.hrtf}) in ${r.wallSeconds.toFixed(2)} s (real-time factor ${(r.wallSeconds / r.seconds).toFixed(4)})\n`);
      }
    },
  },
  generate: {
    usage: `  causeway generate <out.mp4|out.webm|out.y4m> --frames N [--fps 15] [--prompt SCENE] [--controls "t:action;..."] [--seed S] [--model step.onnx] [--device D]
      video generated frame by frame by the video-world model (models/video-world), each frame from the
      one before it; SCENE is stripes, checker, gradient or dots (or 0-3); actions at t seconds are
      stop, left, right, up, down or scene=SCENE (a scene switch re-caches the model's memory);
      --seed starts the object at a place drawn from S (default: the centre)`,
    args: 1,
    argsError: 'generate takes exactly one output (a file; the format follows its extension)',
    async run({ values, rest, device, threads }) {
      const frames = Number(values.frames);
      if (values.frames === undefined || !Number.isInteger(frames) || frames < 1) throw new UsageError(`--frames must be a positive integer, got '${values.frames ?? ''}'`);
      const fps = Number(values.fps);
      if (!(fps > 0 && fps <= 240)) throw new UsageError(`--fps must be in (0, 240], got '${values.fps}'`);
      const { generateFile } = await import('./pipelines/generate.js');
      const seed = values.seed === undefined ? undefined : Number(values.seed);
      if (seed !== undefined && !Number.isInteger(seed)) throw new UsageError(`--seed must be an integer, got '${values.seed}'`);
      const r = await generateFile(rest[0], { frames, fps, prompt: values.prompt, controls: values.controls, seed, model: values.model, device, threads });
      if (!values.quiet) process.stderr.write(`${rest[0]}: ${r.frames} frames (${r.size}x${r.size}, ${r.seconds.toFixed(2)} s at ${fps} fps) generated in ${r.wallSeconds.toFixed(2)} s (${(r.frames / r.wallSeconds).toFixed(1)} frames/s)\n`);
    },
  },
  streamify: {
    usage: `  causeway streamify <window-model.onnx> <out-dir> --hop H [--time-axis 1] [--window W] [--output tensor] [--json]
      a CNN over windows of frames (one result per window) as a step graph that takes the H newest
      frames and one packed state: out-dir/step.onnx and step.json; equal to the window model on
      every window ending at a multiple of H, or refused naming the node that cannot be made exact;
      --window for an input that does not fix its length, --output to stream up to that tensor`,
    args: 2,
    argsError: 'streamify takes the window model and an output directory',
    async run({ values, rest }) {
      const hop = Number(values.hop);
      if (values.hop === undefined || !Number.isInteger(hop) || hop < 1) throw new UsageError(`--hop must be a positive integer (frames a step brings), got '${values.hop ?? ''}'`);
      const timeAxis = Number(values['time-axis']);
      if (!Number.isInteger(timeAxis) || timeAxis < 1) throw new UsageError(`--time-axis must be a positive integer (axis 0 is the batch), got '${values['time-axis']}'`);
      const window = values.window === undefined ? undefined : Number(values.window);
      if (window !== undefined && !(Number.isInteger(window) && window >= 1)) throw new UsageError(`--window must be a positive integer (frames), got '${values.window}'`);
      const { streamifyFile } = await import('../core/onnx/streamify/streamify.js');
      const spec = await streamifyFile(rest[0], rest[1], { hop, timeAxis, window, output: values.output });
      cli.out(
        values.json
          ? JSON.stringify(spec) + '\n'
          : `${rest[1]}/step.onnx: ${spec.hop} frames a step (a window: ${spec.window}), ${spec.outputsPerStep} result(s) a step, ${spec.caches.length} cache(s) in one state of ${spec.state.shape[1]} floats; ` +
              `equal to the window model from step ${spec.warmupSteps} on; convolution MACs ${fmtMacs(spec.macs.step)} a step against ${fmtMacs(spec.macs.window)} a window (bound ${((spec.macs.window * spec.outputsPerStep) / Math.max(1, spec.macs.step)).toFixed(1)}x)\n`,
      );
    },
  },
  worker: {
    usage: `  causeway worker --nats nats://host:4222 [--max-sessions 8] [--name W] [--drain-seconds 30] [--nats-creds file] [--device D]
      a scale-out worker: the default and generate pipelines for sessions a front places here over
      NATS, no public HTTP; SIGTERM drains (no new sessions; running ones end at the deadline)`,
    args: 0,
    argsError: 'worker takes no arguments',
    async run({ values, device }) {
      if (!values.nats) throw new UsageError('worker needs --nats <url>');
      const maxSessions = Number(values['max-sessions']);
      if (!Number.isInteger(maxSessions) || maxSessions < 1) throw new UsageError(`--max-sessions must be a positive integer, got '${values['max-sessions']}'`);
      const drainSeconds = Number(values['drain-seconds']);
      if (!(drainSeconds >= 0)) throw new UsageError(`--drain-seconds must be a number >= 0, got '${values['drain-seconds']}'`);
      const { startWorker } = await import('./cluster/worker.js');
      const { defaultPipeline } = await import('./server/session-pipeline.js');
      const { generatePipeline } = await import('./server/generate-pipeline.js');
      const worker = await startWorker({
        nats: values.nats,
        natsCredsFile: values['nats-creds'],
        name: values.name,
        maxSessions,
        pipeline: defaultPipeline({ device, asrModel: values['asr-model'] }),
        pipelines: { generate: generatePipeline({ device }) },
      });
      cli.serving = true;
      cli.out(`Causeway worker ${worker.name} is serving over NATS ${values.nats} (${maxSessions} sessions at most)\n`);
      let stopping = false;
      process.once('SIGINT', () => void worker.close().then(() => process.exit(0)));
      process.on('SIGTERM', () => {
        if (stopping) return;
        stopping = true;
        cli.out(`worker ${worker.name}: draining (deadline ${drainSeconds} s)\n`);
        void worker
          .drain(drainSeconds * 1000)
          .then(() => worker.close())
          .then(() => process.exit(0));
      });
    },
  },
  doctor: {
    usage: `  causeway doctor [--json]
      which execution providers start here (cpu, cuda, webgpu) and, for each shipped model on each,
      whether its outputs match the CPU's and a step's time at batch 1 and 32`,
    args: 0,
    argsError: 'doctor takes no arguments',
    async run({ values }) {
      const { doctor, formatDoctor } = await import('./pipelines/doctor.js');
      const r = await doctor();
      cli.out(values.json ? JSON.stringify(r) + '\n' : formatDoctor(r));
    },
  },
  loadtest: {
    usage: `  causeway loadtest [--sessions 8] [--seconds 10] [--pipeline captions|binaural|default] [--no-batch] [--thread worker|main] [--json] [--device D]
      N live sessions in this process (the demo clip at real-time pace, no browser) through the
      server's pipeline: whether all kept up (no drops, frame age p99 < 200 ms), CPU per session,
      steps per model run`,
    args: 0,
    argsError: 'loadtest takes no arguments',
    async run({ values, device }) {
      const sessions = Number(values.sessions);
      if (!Number.isInteger(sessions) || sessions < 1) throw new UsageError(`--sessions must be a positive integer, got '${values.sessions}'`);
      const seconds = Number(values.seconds);
      if (!(seconds > 0)) throw new UsageError(`--seconds must be a positive number, got '${values.seconds}'`);
      const kind = values.pipeline!;
      if (kind !== 'captions' && kind !== 'binaural' && kind !== 'default') throw new UsageError(`--pipeline must be captions, binaural or default, got '${kind}'`);
      const thread = values.thread;
      if (thread !== undefined && thread !== 'worker' && thread !== 'main') throw new UsageError(`--thread must be worker or main, got '${thread}'`);
      const { loadtest } = await import('./pipelines/loadtest.js');
      const r = await loadtest({ sessions, seconds, pipeline: kind, clip: demoClipPath(), device, batch: values['no-batch'] ? { maxBatch: 1 } : undefined, thread });
      cli.out(
        values.json
          ? JSON.stringify(r) + '\n'
          : `${r.sessions} ${r.pipeline} session(s) for ${r.seconds} s: ${r.realtime ? 'real time' : 'NOT real time'} (frame age p99 ${r.frameAgeP99Ms.toFixed(0)} ms, ${r.dropped} frame(s) dropped); ` +
              `${r.cpuMsPerSecondPerSession.toFixed(1)} ms of CPU per second per session; ${r.batchSizeMean.toFixed(1)} steps per model run\n`,
      );
    },
  },
  demo: {
    usage: `  causeway demo [--json]
      the VAD pipeline on the speech clip shipped with Causeway, with its real-time factor`,
    args: 'any',
    async run({ common }) {
      const clip = demoClipPath();
      cli.out(`Causeway demo: Silero VAD v5 (ONNX) on ${clip}\n`);
      const r = await runVad(clip, common);
      cli.out(`${r.segments} speech segment(s) in ${r.seconds.toFixed(2)} s of audio; processed in ${r.wallSeconds.toFixed(2)} s, real-time factor ${(r.wallSeconds / r.seconds).toFixed(4)} (${(r.seconds / r.wallSeconds).toFixed(0)}x faster than real time)\n`);
    },
  },
  serve: {
    usage: `  causeway serve [--host 127.0.0.1] [--port 8080] [--token T] [--max-sessions 8] [--device D] [--asr-model step.onnx] [--binaural-engine hrtf|neural]
      the WebRTC server (WHIP ingest, /events, /metrics, /healthz) and the example page; live
      captions use --asr-model (a conformer-engine model; default: the embedded command recogniser);
      the microphone returns binaurally, --binaural-engine hrtf (default) or neural; the page's
      Generate mode (POST /whip?pipeline=generate) streams the video-world model, steered live
  causeway serve --nats nats://host:4222 --role front [--host] [--port] [--token T] [--nats-creds file]
      a scale-out front: the page, WHIP, /events, /metrics, /healthz, no models; sessions run on
      workers (docs/deployment.md); a NATS token comes from CAUSEWAY_NATS_TOKEN`,
    args: 'any',
    async run({ values, device }) {
      if (values.nats !== undefined || values.role !== undefined) return serveFront(values);
      const port = Number(values.port);
      const maxSessions = Number(values['max-sessions']);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be 0..65535, got '${values.port}'`);
      if (!Number.isInteger(maxSessions) || maxSessions < 1) throw new UsageError(`--max-sessions must be a positive integer, got '${values['max-sessions']}'`);
      const binauralEngine = values['binaural-engine'];
      if (binauralEngine !== 'hrtf' && binauralEngine !== 'neural') throw new UsageError(`--binaural-engine must be hrtf or neural, got '${binauralEngine}'`);
      const { startServer } = await import('./server/http-server.js');
      const { defaultPipeline } = await import('./server/session-pipeline.js');
      const { generatePipeline } = await import('./server/generate-pipeline.js');
      const server = await startServer({
        host: values.host,
        port,
        token: values.token,
        maxSessions,
        pipeline: defaultPipeline({ device, asrModel: values['asr-model'], binauralEngine }),
        pipelines: { generate: generatePipeline({ device }) },
        page: examplePageDir(),
      });
      cli.serving = true;
      cli.out(`Causeway is serving on ${server.url}/  (open it in a browser; WHIP endpoint ${server.url}/whip)\n`);
      const stop = () => {
        cli.out('shutting down\n');
        void server.close().then(() => process.exit(0));
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    },
  },
};

async function serveFront(values: Values): Promise<void> {
  if (values.role !== 'front') throw new UsageError(`--nats needs --role front (a worker is \`causeway worker --nats <url>\`), got '${values.role ?? ''}'`);
  if (!values.nats) throw new UsageError('--role front needs --nats <url>');
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be 0..65535, got '${values.port}'`);
  const { startFront } = await import('./cluster/front.js');
  const front = await startFront({ nats: values.nats, natsCredsFile: values['nats-creds'], host: values.host, port, token: values.token, page: examplePageDir() });
  cli.serving = true;
  cli.out(`Causeway front is serving on ${front.url}/  (sessions placed on workers over NATS ${values.nats})\n`);
  const stop = () => {
    cli.out('front: shutting down\n');
    void front.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

function fmtMacs(n: number): string {
  return `${(n / 1e6).toFixed(2)} M`;
}

const USAGE = `usage:\n${Object.values(COMMANDS).map((c) => c.usage).join('\n')}\n${OPTIONS_USAGE}`;

async function main(argv: string[]): Promise<void> {
  const { values, positionals } = parseCommandLine(argv);
  if (values.quiet) setLogLevel('silent');
  if (values.debug) setLogLevel('debug');
  const [command, ...rest] = positionals;
  if (values.help || !command) {
    cli.out(USAGE + '\n');
    if (!command && !values.help) process.exitCode = 2;
    return;
  }
  const device = values.device as Device;
  if (!DEVICES.includes(device)) throw new UsageError(`--device must be ${DEVICES.join(', ')}, got '${values.device}'`);
  const threads = Number(values.threads);
  if (!Number.isInteger(threads) || threads < 1) throw new UsageError(`--threads must be a positive integer, got '${values.threads}'`);
  const timeout = Number(values.timeout);
  if (values.timeout!.trim() === '' || !(timeout >= 0) || !Number.isFinite(timeout)) throw new UsageError(`--timeout must be a number of seconds >= 0, got '${values.timeout}'`);
  const timeoutMs = timeout * 1000;
  const common = { json: values.json!, realtime: values.realtime!, device, threads, timeoutMs };
  const cmd = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
  if (!cmd) throw new UsageError(`unknown command '${command}'`);
  if (cmd.args !== 'any' && rest.length !== cmd.args) throw new UsageError(cmd.argsError!);
  await cmd.run({ values, rest, device, threads, timeoutMs, common });
}

main(process.argv.slice(2)).catch((e: unknown) => {
  const debug = process.argv.includes('--debug');
  if (e instanceof UsageError || (e as { code?: string })?.code?.startsWith?.('ERR_PARSE_ARGS')) {
    process.stderr.write(`causeway: ${(e as Error).message}\n${USAGE}\n`);
    process.exitCode = 2;
    return;
  }
  reportError(e, debug);
  process.exitCode = 1;
});

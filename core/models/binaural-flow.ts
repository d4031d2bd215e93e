/**
 * Causeway's neural binaural renderer (models/binaural-flow): a BinauralFlow-style causal U-Net
 * over the streaming STFT of a mono voice, run by a midpoint ODE solver inside one ONNX step
 * graph per STFT frame.
 *
 * Contract (step.onnx, all float32; B is the batch, 1 per stream, free so that streams' steps batch):
 *   inputs  mono [B, 2, bins]         the mono frame's spectrum, rows re and im (bins = nFft/2 + 1)
 *           cond [B, 6]               cos az, sin az, cos el, sin el, ln distance (m), room (0..1)
 *           noise [B, 4, unetBins]    standard normal draws for the flow's start (L re, L im, R re, R im)
 *           bank [B, E, S]            the buffer bank: for each of the E = 2 x steps solver evaluations,
 *                                     every causal conv's past input frames, packed (step.json's
 *                                     bank_layout); zeros at the start of a stream
 *   outputs binaural [B, 4, bins]     left re, left im, right re, right im
 *           bank_next [B, E, S]       the bank for the next frame (StepState maps it back to `bank`)
 * Settings come from the sidecar step.json (sample_rate, n_fft, hop, window, bins, unet_bins,
 * evaluations, bank_size, schedule, sigma, receptive_field_frames, ...); offline.onnx beside it is
 * the same weights over a whole sequence (mono [1, 2, bins, T], cond [1, 6, T], noise
 * [1, 4, unetBins, T] -> binaural [1, 4, bins, T]).
 *
 * Noise: the flow starts from the mono spectrum on both ears plus sigma times Gaussian noise. The
 * draws come from `FlowNoise`, a seeded generator read in frame order (4 x unetBins values a
 * frame), so a stream is deterministic for a seed and equal to the offline graph fed the same
 * draws.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { readSidecar } from './sidecar.js';
import { CausewayError } from '../errors.js';
import type { ModelContract } from '../onnx/contract.js';
import { acquireModel, type ModelLease } from '../onnx/shared-models.js';
import type { SessionOptions } from '../onnx/session.js';
import type { StepState } from '../onnx/step-model.js';
import { mulberry32 } from '../../kernels/mulberry32.js';

const PACKAGE_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** The trained model Causeway ships (models/binaural-flow/model). */
export function defaultBinauralFlowModel(): string {
  return join(PACKAGE_ROOT, 'models', 'binaural-flow', 'model', 'step.onnx');
}

export interface BinauralFlowConfig {
  sampleRate: number;
  nFft: number;
  hop: number;
  /** nFft / 2 + 1. */
  bins: number;
  /** Bins the U-Net sees (the Nyquist bin of the output is 0). */
  unetBins: number;
  /** U-Net evaluations per frame (2 per midpoint step): the bank's first dim. */
  evaluations: number;
  /** Floats of buffered conv input per evaluation. */
  bankSize: number;
  /** Solver times, 0 .. 1. */
  schedule: number[];
  sigma: number;
  /** Frames (the current one included) that reach an output frame through one U-Net evaluation. */
  receptiveField: number;
  /**
   * The gain the `binaural` operator applies to the model's output (step.json `output_gain`,
   * default 1): the shipped model learnt the level of the hrtf engine's old default HRTF scaling,
   * and this brings it to the current default's, so the two engines play at the same level.
   */
  outputGain: number;
}

export const COND_SIZE = 6;

/** Reads the settings sidecar (`step.onnx` -> `step.json`); errors name the file and the key. */
export function readBinauralFlowConfig(modelPath: string): BinauralFlowConfig {
  const { meta, bad, int } = readSidecar(modelPath, 'binaural-flow model', 'causeway-binaural-flow');
  const nFft = int('n_fft');
  const bins = int('bins');
  if (bins !== nFft / 2 + 1) throw bad('bins', `n_fft / 2 + 1 = ${nFft / 2 + 1} as`);
  if (meta.window !== 'hann') throw bad('window', "'hann' as");
  const cond = meta.cond;
  if (!Array.isArray(cond) || cond.length !== COND_SIZE) throw bad('cond', `${COND_SIZE} conditioning names as`);
  const schedule = meta.schedule;
  if (!Array.isArray(schedule) || schedule.length < 2 || !schedule.every((t) => typeof t === 'number')) throw bad('schedule', 'solver times as');
  const sigma = meta.sigma;
  if (typeof sigma !== 'number' || !(sigma >= 0)) throw bad('sigma', 'a number >= 0 as');
  const outputGain = meta.output_gain ?? 1;
  if (typeof outputGain !== 'number' || !(outputGain > 0) || !Number.isFinite(outputGain)) throw bad('output_gain', 'a finite number > 0 (or no key) as');
  return {
    sampleRate: int('sample_rate'),
    nFft,
    hop: int('hop'),
    bins,
    unetBins: int('unet_bins'),
    evaluations: int('evaluations'),
    bankSize: int('bank_size'),
    schedule: schedule as number[],
    sigma,
    receptiveField: int('receptive_field_frames'),
    outputGain,
  };
}

export function binauralFlowContract(c: BinauralFlowConfig): ModelContract {
  // 'B' is the batch: free in graphs exported since batching (many streams' steps in one run),
  // 1 in older ones (which the contract accepts; their steps run one at a time).
  const bank = ['B', c.evaluations, c.bankSize];
  return {
    name: 'Causeway binaural-flow',
    inputs: [
      { name: 'mono', dtype: 'float32', shape: ['B', 2, c.bins] },
      { name: 'cond', dtype: 'float32', shape: ['B', COND_SIZE] },
      { name: 'noise', dtype: 'float32', shape: ['B', 4, c.unetBins] },
      { name: 'bank', dtype: 'float32', shape: bank },
    ],
    outputs: [
      { name: 'binaural', dtype: 'float32', shape: ['B', 4, c.bins] },
      { name: 'bank_next', dtype: 'float32', shape: bank },
    ],
    state: [{ input: 'bank', output: 'bank_next', initialShape: [1, c.evaluations, c.bankSize] }],
    batchDim: 'B',
    // A source 40 degrees to the left, 1.5 m away, a little room: the per-ear delays put large
    // arguments into sin/cos, which WebGPU computes less exactly (lavapipe: about 1e-3 of the
    // output's scale, -60 dB, inaudible); bound 1e-2 (-40 dB).
    probe: { dims: { B: 1 }, values: { cond: Array.from(conditioning(40, 0, 1.5, 0.2)) }, tolerance: 1e-2 },
  };
}

/** Where the source is for the model: direction (degrees, SOFA convention), distance (m), and the room (0 anechoic .. 1). */
export function conditioning(azimuth: number, elevation: number, distance: number, room: number, out = new Float32Array(COND_SIZE)): Float32Array {
  const az = (azimuth * Math.PI) / 180, el = (elevation * Math.PI) / 180;
  out[0] = Math.cos(az);
  out[1] = Math.sin(az);
  out[2] = Math.cos(el);
  out[3] = Math.sin(el);
  out[4] = Math.log(distance);
  out[5] = room;
  return out;
}

/** Seeded standard-normal draws (mulberry32 + Box-Muller), in a fixed order: the flow's start noise. */
export class FlowNoise {
  private next: () => number;
  private spare: number | undefined;

  constructor(private readonly seed = 0) {
    this.next = mulberry32(seed);
  }

  private uniform(): number {
    return (this.next() + 0.5) / 4294967296;
  }

  fill(out: Float32Array): Float32Array {
    for (let i = 0; i < out.length; i++) {
      if (this.spare !== undefined) {
        out[i] = this.spare;
        this.spare = undefined;
        continue;
      }
      const r = Math.sqrt(-2 * Math.log(this.uniform()));
      const a = 2 * Math.PI * this.uniform();
      out[i] = r * Math.cos(a);
      this.spare = r * Math.sin(a);
    }
    return out;
  }

  reset(): void {
    this.next = mulberry32(this.seed);
    this.spare = undefined;
  }
}

export interface BinauralFlowStreamOptions extends SessionOptions {
  /** Seed of the flow's start noise (default 0). */
  seed?: number;
}

/**
 * One stream through a shared binaural-flow model: one mono spectrum in (StreamingStft layout,
 * nFft + 2 floats: re0, im0, re1, im1, ...), the left and right spectra out in the same layout.
 */
export class BinauralFlowStream {
  private readonly state: StepState;
  private readonly noise: FlowNoise;
  private readonly mono: Float32Array;
  private readonly draws: Float32Array;
  readonly left: Float32Array;
  readonly right: Float32Array;
  /** Frames stepped since the start or the last reset. */
  frames = 0;

  private constructor(
    private readonly lease: ModelLease,
    readonly config: BinauralFlowConfig,
    seed: number,
  ) {
    this.state = lease.model.newState();
    this.noise = new FlowNoise(seed);
    this.mono = new Float32Array(2 * config.bins);
    this.draws = new Float32Array(4 * config.unetBins);
    this.left = new Float32Array(2 * config.bins);
    this.right = new Float32Array(2 * config.bins);
  }

  static async open(modelPath: string = defaultBinauralFlowModel(), options: BinauralFlowStreamOptions = {}): Promise<BinauralFlowStream> {
    const config = readBinauralFlowConfig(modelPath);
    const lease = await acquireModel(modelPath, binauralFlowContract(config), { device: options.device, threads: options.threads, batch: options.batch, thread: options.thread });
    return new BinauralFlowStream(lease, config, options.seed ?? 0);
  }

  get provider(): string {
    return this.lease.model.provider;
  }

  /**
   * One STFT frame; resolves when `left` and `right` hold its binaural spectra (reused by the
   * next step). `cond` is the conditioning for this frame (see `conditioning`).
   */
  async step(spectrum: Float32Array, cond: Float32Array): Promise<void> {
    const { bins } = this.config;
    if (spectrum.length < 2 * bins) throw new CausewayError('invalid-frame', `binaural-flow: a spectrum needs ${2 * bins} floats, got ${spectrum.length}`);
    if (cond.length !== COND_SIZE) throw new CausewayError('invalid-argument', `binaural-flow: conditioning needs ${COND_SIZE} values, got ${cond.length}`);
    const mono = this.mono;
    for (let k = 0; k < bins; k++) {
      mono[k] = spectrum[2 * k];
      mono[bins + k] = spectrum[2 * k + 1];
    }
    const out = await this.lease.model.step(
      {
        mono: new ort.Tensor('float32', mono, [1, 2, bins]),
        cond: new ort.Tensor('float32', cond, [1, COND_SIZE]),
        noise: new ort.Tensor('float32', this.noise.fill(this.draws), [1, 4, this.config.unetBins]),
      },
      this.state,
    );
    const y = out.binaural.data as Float32Array;
    for (let k = 0; k < bins; k++) {
      this.left[2 * k] = y[k];
      this.left[2 * k + 1] = y[bins + k];
      this.right[2 * k] = y[2 * bins + k];
      this.right[2 * k + 1] = y[3 * bins + k];
    }
    out.binaural.dispose();
    this.frames++;
  }

  /** Back to the start: empty buffer bank, the noise from its seed. */
  reset(): void {
    this.state.reset();
    this.noise.reset();
    this.frames = 0;
  }

  dispose(): void {
    this.state.dispose();
    this.lease.release();
  }
}

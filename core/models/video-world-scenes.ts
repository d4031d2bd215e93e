/**
 * The synthetic world the video-world model learns: a size x size frame, a dark patterned
 * background (the scene, the model's "prompt") and one bright object that moves in the commanded
 * direction at the scene's speed and stops at the walls. Deterministic: the same scene, start and
 * commands give the same frames. Shared by the data generator (models/video-world/gen-data.mjs,
 * through dist/), the generator's first frame, and the tests that check what the trained model
 * does (the tracker finds the object as the brightest blob).
 *
 * Conditioning, per frame (what the model sees with frame n to produce frame n + 1):
 *   [scene one-hot (SCENES.length), dx, dy], dx, dy in {-1, 0, 1} (the command: left/right, up/down).
 */

export type Rgb = readonly [number, number, number];

export interface Scene {
  name: string;
  pattern: 'stripes' | 'checker' | 'gradient' | 'dots';
  bg: Rgb;
  bg2: Rgb;
  shape: 'square' | 'disk' | 'diamond' | 'plus';
  colour: Rgb;
  /** Half-size of the object, pixels. */
  radius: number;
  /** Pixels per frame. */
  speed: number;
}

/** Scenes ("prompts"): background pattern and colours, object shape, colour, size and speed. Every background is darker than every object. */
export const SCENES: readonly Scene[] = [
  { name: 'stripes', pattern: 'stripes', bg: [40, 50, 90], bg2: [20, 25, 50], shape: 'square', colour: [250, 250, 250], radius: 5, speed: 2 },
  { name: 'checker', pattern: 'checker', bg: [30, 80, 40], bg2: [15, 45, 25], shape: 'disk', colour: [255, 235, 80], radius: 6, speed: 2.5 },
  { name: 'gradient', pattern: 'gradient', bg: [90, 30, 60], bg2: [30, 15, 70], shape: 'diamond', colour: [120, 255, 255], radius: 6, speed: 3 },
  { name: 'dots', pattern: 'dots', bg: [60, 60, 60], bg2: [25, 25, 25], shape: 'plus', colour: [255, 160, 220], radius: 6, speed: 1.5 },
];

export const COMMANDS: Readonly<Record<string, readonly [number, number]>> = { stop: [0, 0], left: [-1, 0], right: [1, 0], up: [0, -1], down: [0, 1] };
export const COND_DIM = SCENES.length + 2;

export function condVector(scene: number, dx: number, dy: number, out: Float32Array = new Float32Array(COND_DIM)): Float32Array {
  out.fill(0);
  out[scene] = 1;
  out[SCENES.length] = dx;
  out[SCENES.length + 1] = dy;
  return out;
}

function background(s: Scene, x: number, y: number, size: number): Rgb {
  switch (s.pattern) {
    case 'stripes':
      return Math.floor(x / 8) % 2 === 0 ? s.bg : s.bg2;
    case 'checker':
      return (Math.floor(x / 8) + Math.floor(y / 8)) % 2 === 0 ? s.bg : s.bg2;
    case 'gradient': {
      const t = (x + y) / (2 * (size - 1));
      return [s.bg[0] * (1 - t) + s.bg2[0] * t, s.bg[1] * (1 - t) + s.bg2[1] * t, s.bg[2] * (1 - t) + s.bg2[2] * t];
    }
    case 'dots':
      return (x % 8 - 3.5) ** 2 + (y % 8 - 3.5) ** 2 < 5 ? s.bg : s.bg2;
    default:
      throw new Error(`world: unknown pattern ${String(s.pattern)}`);
  }
}

function inside(s: Scene, dx: number, dy: number): boolean {
  const r = s.radius;
  switch (s.shape) {
    case 'square':
      return Math.abs(dx) <= r && Math.abs(dy) <= r;
    case 'disk':
      return dx * dx + dy * dy <= r * r;
    case 'diamond':
      return Math.abs(dx) + Math.abs(dy) <= r * 1.3;
    case 'plus':
      return (Math.abs(dx) <= r && Math.abs(dy) <= r / 2.5) || (Math.abs(dy) <= r && Math.abs(dx) <= r / 2.5);
    default:
      throw new Error(`world: unknown shape ${String(s.shape)}`);
  }
}

/** One frame as size*size*3 bytes (RGB, row-major): the scene's background with the object centred at (x, y). */
export function render(scene: number, x: number, y: number, size = 64, out = new Uint8Array(size * size * 3)): Uint8Array {
  const s = SCENES[scene];
  for (let py = 0; py < size; py++) {
    for (let px = 0; px < size; px++) {
      const c: Rgb = inside(s, px + 0.5 - x, py + 0.5 - y) ? s.colour : background(s, px, py, size);
      const at = (py * size + px) * 3;
      out[at] = Math.round(c[0]);
      out[at + 1] = Math.round(c[1]);
      out[at + 2] = Math.round(c[2]);
    }
  }
  return out;
}

/** The object's next centre: moved by the command at the scene's speed, held inside the walls (it stops there). */
export function move(scene: number, x: number, y: number, dx: number, dy: number, size = 64): [number, number] {
  const s = SCENES[scene];
  const lo = s.radius + 1;
  const hi = size - s.radius - 1;
  return [Math.min(hi, Math.max(lo, x + dx * s.speed)), Math.min(hi, Math.max(lo, y + dy * s.speed))];
}

/** The brightest blob's centre: the mean position of pixels whose luminance is at least 85% of the frame's brightest (null on a flat frame). */
export function track(rgb: Uint8Array, size = 64): { x: number; y: number; pixels: number } | null {
  let max = 0;
  let min = 255;
  const lum = new Float32Array(size * size);
  for (let i = 0; i < size * size; i++) {
    const l = 0.299 * rgb[3 * i] + 0.587 * rgb[3 * i + 1] + 0.114 * rgb[3 * i + 2];
    lum[i] = l;
    max = Math.max(max, l);
    min = Math.min(min, l);
  }
  if (max - min < 40) return null;
  const cut = min + 0.85 * (max - min);
  let sx = 0, sy = 0, n = 0;
  for (let i = 0; i < size * size; i++) {
    if (lum[i] >= cut) {
      sx += (i % size) + 0.5;
      sy += Math.floor(i / size) + 0.5;
      n++;
    }
  }
  return { x: sx / n, y: sy / n, pixels: n };
}

/** Frame bytes (size x size RGB) -> patch tokens in [-1, 1] ([T, P], the model's layout). */
export function toTokens(rgb: Uint8Array, size: number, patch: number, out = new Float32Array(size * size * 3)): Float32Array {
  const g = size / patch;
  let o = 0;
  for (let gy = 0; gy < g; gy++) {
    for (let gx = 0; gx < g; gx++) {
      for (let py = 0; py < patch; py++) {
        for (let px = 0; px < patch; px++) {
          const at = ((gy * patch + py) * size + gx * patch + px) * 3;
          out[o++] = rgb[at] / 127.5 - 1;
          out[o++] = rgb[at + 1] / 127.5 - 1;
          out[o++] = rgb[at + 2] / 127.5 - 1;
        }
      }
    }
  }
  return out;
}

/** Patch tokens -> frame bytes, clamped. */
export function fromTokens(tokens: Float32Array, size: number, patch: number, out = new Uint8Array(size * size * 3)): Uint8Array {
  const g = size / patch;
  let o = 0;
  for (let gy = 0; gy < g; gy++) {
    for (let gx = 0; gx < g; gx++) {
      for (let py = 0; py < patch; py++) {
        for (let px = 0; px < patch; px++) {
          const at = ((gy * patch + py) * size + gx * patch + px) * 3;
          for (let ch = 0; ch < 3; ch++) out[at + ch] = Math.max(0, Math.min(255, Math.round((tokens[o++] + 1) * 127.5)));
        }
      }
    }
  }
  return out;
}

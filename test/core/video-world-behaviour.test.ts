/**
 * What the shipped video-world model does (models/video-world/model, trained by make.sh), checked
 * on its own generated frames, each the model's prediction from the one before:
 * - the object follows commands: a brightness tracker on the generated frames moves in the
 *   commanded direction on >= 90% of commanded steps (steps the walls allow), in every scene, and
 *   stays put under 'stop';
 * - after 10,000 frames the frames are still the world: the object is there, of the size and
 *   brightness it had at frame 100, and the background's statistics are within bounds of frame 100's;
 * - a scene switch (KV re-cache) changes the scene within a few frames and keeps the object where
 *   it was.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { condVector, fromTokens, move, render, SCENES, toTokens, track } from '../../core/models/video-world-scenes.js';
import { VideoWorldStream } from '../../core/models/video-world.js';
import { rng } from '../helpers-random.js';

const shipped = fileURLToPath(new URL('../../../models/video-world/model/step.onnx', import.meta.url));

/** Per-channel mean and standard deviation of the pixels farther than `r` from (x, y): the background. */
function background(rgb: Uint8Array, size: number, x: number, y: number, r: number): { mean: number[]; sd: number[] } {
  const sum = [0, 0, 0];
  const sq = [0, 0, 0];
  let n = 0;
  for (let py = 0; py < size; py++) {
    for (let px = 0; px < size; px++) {
      if (Math.hypot(px + 0.5 - x, py + 0.5 - y) <= r) continue;
      n++;
      for (let k = 0; k < 3; k++) {
        const v = rgb[(py * size + px) * 3 + k];
        sum[k] += v;
        sq[k] += v * v;
      }
    }
  }
  const mean = sum.map((s) => s / n);
  return { mean, sd: sq.map((s, k) => Math.sqrt(Math.max(0, s / n - mean[k] ** 2))) };
}

/** The generator's loop (operators/generate-video.ts) without the clock: frame 0 rendered, each next one the model's. */
class Rollout {
  private frame: Float32Array;
  readonly rgb: Uint8Array<ArrayBuffer>;
  private readonly cond: Float32Array;
  scene: number;

  private constructor(
    readonly stream: VideoWorldStream,
    scene: number,
  ) {
    const c = stream.config;
    this.scene = scene;
    this.frame = toTokens(render(scene, c.size / 2, c.size / 2, c.size), c.size, c.patch);
    this.rgb = new Uint8Array(c.size * c.size * 3);
    fromTokens(this.frame, c.size, c.patch, this.rgb);
    this.cond = new Float32Array(c.condDim);
  }

  static async open(scene: number): Promise<Rollout> {
    return new Rollout(await VideoWorldStream.open(shipped, { device: 'cpu' }), scene);
  }

  get size(): number {
    return this.stream.config.size;
  }

  async step(dx: number, dy: number): Promise<Uint8Array> {
    const c = this.stream.config;
    const next = await this.stream.step(this.frame, condVector(this.scene, dx, dy, this.cond));
    for (let i = 0; i < next.length; i++) this.frame[i] = Math.max(-1, Math.min(1, next[i]));
    return fromTokens(this.frame, c.size, c.patch, this.rgb);
  }

  async switchScene(scene: number): Promise<void> {
    this.scene = scene;
    await this.stream.recache((k) => condVector(scene, k[SCENES.length], k[SCENES.length + 1], k));
  }

  dispose(): void {
    this.stream.dispose();
  }
}

const DIRS: [number, number][] = [[0, 0], [-1, 0], [1, 0], [0, -1], [0, 1]];

describe('models/video-world: what the shipped model does', function () {
  this.timeout(300_000);

  it('the object follows commands on >= 90% of commanded steps and holds still on stop, in every scene', async () => {
    const rand = rng(12);
    const lines: string[] = [];
    let followed = 0;
    let commanded = 0;
    let still = 0;
    let stops = 0;
    for (let scene = 0; scene < SCENES.length; scene++) {
      const r = await Rollout.open(scene);
      try {
        const speed = SCENES[scene].speed;
        let at = track(r.rgb, r.size)!;
        let ok = 0;
        let n = 0;
        let [dx, dy] = [0, 0];
        for (let k = 0; k < 150; k++) {
          if (k % 10 === 0) [dx, dy] = DIRS[Math.floor(rand() * DIRS.length)];
          const now = track(await r.step(dx, dy), r.size);
          assert.ok(now !== null, `${SCENES[scene].name}: the object is there at frame ${k + 1}`);
          const [wx, wy] = move(scene, at.x, at.y, dx, dy, r.size);
          const room = Math.abs(wx - at.x) + Math.abs(wy - at.y);
          const along = dx * (now.x - at.x) + dy * (now.y - at.y);
          if (dx === 0 && dy === 0) {
            stops++;
            if (Math.hypot(now.x - at.x, now.y - at.y) < 0.5 * speed) still++;
          } else if (room >= 0.5 * speed) {
            // A step the walls allow: it must move that way by at least a quarter of the scene's speed.
            n++;
            if (along >= 0.25 * speed) ok++;
          }
          at = now;
        }
        followed += ok;
        commanded += n;
        lines.push(`${SCENES[scene].name} ${ok}/${n}`);
      } finally {
        r.dispose();
      }
    }
    console.log(`      moved as commanded on ${followed}/${commanded} commanded steps (${lines.join(', ')}); still on ${still}/${stops} stop steps`);
    assert.ok(commanded >= 200, `enough commanded steps: ${commanded}`);
    assert.ok(followed >= 0.9 * commanded, `${followed}/${commanded} = ${((100 * followed) / commanded).toFixed(1)}%`);
    assert.ok(still >= 0.9 * stops, `still on stop: ${still}/${stops}`);
  });

  it('after 10,000 frames the frames are still the world: the object of its frame-100 size and brightness, the background as at frame 100', async () => {
    const r = await Rollout.open(0);
    try {
      const s = SCENES[0];
      const size = r.size;
      const objectPixels = track(render(0, 32, 32, size), size)!.pixels;
      const rand = rng(13);
      let [dx, dy] = [0, 0];
      const seen: { frame: number; pixels: number; luma: number; bg: { mean: number[]; sd: number[] } }[] = [];
      const t0 = performance.now();
      for (let k = 1; k <= 10_000; k++) {
        if (k % 15 === 0) [dx, dy] = DIRS[Math.floor(rand() * DIRS.length)];
        const rgb = await r.step(dx, dy);
        if (k === 100 || k > 9_990) {
          const t = track(rgb, size);
          assert.ok(t !== null, `the object is there at frame ${k}`);
          let luma = 0;
          for (let i = 0; i < size * size; i++) luma = Math.max(luma, 0.299 * rgb[3 * i] + 0.587 * rgb[3 * i + 1] + 0.114 * rgb[3 * i + 2]);
          seen.push({ frame: k, pixels: t.pixels, luma, bg: background(rgb, size, t.x, t.y, s.radius * 1.5 + 2) });
        }
      }
      const ms = (performance.now() - t0) / 10_000;
      const [at100, ...late] = seen;
      const fmt = (v: number[]) => v.map((x) => x.toFixed(1)).join('/');
      console.log(`      ${ms.toFixed(2)} ms a frame; frame 100: object ${at100.pixels} px (drawn: ${objectPixels}), luma ${at100.luma.toFixed(0)}, background mean ${fmt(at100.bg.mean)} sd ${fmt(at100.bg.sd)}; frame 10,000: object ${late.at(-1)!.pixels} px, luma ${late.at(-1)!.luma.toFixed(0)}, background mean ${fmt(late.at(-1)!.bg.mean)} sd ${fmt(late.at(-1)!.bg.sd)}`);
      for (const f of late) {
        // The generated object is softer than the drawn one (fewer pixels near its peak): the bound is frame 100's.
        assert.ok(f.pixels >= 0.5 * at100.pixels && f.pixels <= 2 * at100.pixels, `frame ${f.frame}: object of ${f.pixels} px (frame 100: ${at100.pixels}, drawn: ${objectPixels})`);
        assert.ok(f.luma >= 0.8 * at100.luma, `frame ${f.frame}: object luma ${f.luma.toFixed(0)} vs ${at100.luma.toFixed(0)} at frame 100`);
        for (let k = 0; k < 3; k++) {
          assert.ok(Math.abs(f.bg.mean[k] - at100.bg.mean[k]) <= 8, `frame ${f.frame}: background mean ${fmt(f.bg.mean)} vs ${fmt(at100.bg.mean)}`);
          assert.ok(Math.abs(f.bg.sd[k] - at100.bg.sd[k]) <= 0.25 * at100.bg.sd[k] + 3, `frame ${f.frame}: background sd ${fmt(f.bg.sd)} vs ${fmt(at100.bg.sd)}`);
        }
      }
    } finally {
      r.dispose();
    }
  });

  it('a scene switch changes the background within a few frames and keeps the object where it was', async () => {
    const lines: string[] = [];
    for (const [from, to] of [[0, 1], [1, 2], [2, 3], [3, 0]]) {
      const r = await Rollout.open(from);
      try {
        const size = r.size;
        // Off the centre first, then still.
        for (let k = 0; k < 12; k++) await r.step(1, -1);
        for (let k = 0; k < 3; k++) await r.step(0, 0);
        const before = track(r.rgb, size)!;
        await r.switchScene(to);
        const want = background(render(to, before.x, before.y, size), size, before.x, before.y, SCENES[to].radius * 1.5 + 2).mean;
        let after = before;
        let frames = 0;
        for (; frames < 3; ) {
          frames++;
          const rgb = await r.step(0, 0);
          after = track(rgb, size)!;
          const got = background(rgb, size, after.x, after.y, SCENES[to].radius * 1.5 + 2).mean;
          if (got.every((v, k) => Math.abs(v - want[k]) <= 12)) break;
          assert.ok(frames < 3, `${SCENES[from].name} -> ${SCENES[to].name}: background ${got.map((v) => v.toFixed(0))} after ${frames} frames, want ${want.map((v) => v.toFixed(0))}`);
        }
        // Still for a few frames more: the object stays.
        for (let k = 0; k < 5; k++) after = track(await r.step(0, 0), size)!;
        const moved = Math.hypot(after.x - before.x, after.y - before.y);
        lines.push(`${SCENES[from].name} -> ${SCENES[to].name}: ${frames} frame(s), object moved ${moved.toFixed(1)} px`);
        assert.ok(moved <= 3, `${SCENES[from].name} -> ${SCENES[to].name}: the object moved ${moved.toFixed(1)} px`);
      } finally {
        r.dispose();
      }
    }
    console.log(`      ${lines.join('; ')}`);
  });
});

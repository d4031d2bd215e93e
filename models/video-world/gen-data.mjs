// Training episodes for the video-world model, rendered by Causeway's own synthetic world
// (core/models/video-world-scenes.ts, through dist/: run `npm run build` first):
//   node models/video-world/gen-data.mjs <outDir> <episodes> [frames per episode, 40] [seed, 1]
// Writes frames.u8 ([episodes, frames + 1, 64, 64, 3] RGB bytes), cond.f32 ([episodes, frames, C]:
// cond n turns frame n into frame n + 1) and meta.json. Each episode: a random scene and start,
// commands (stop, left, right, up, down, or a diagonal) held for 3-14 frames each, and in 30% of
// episodes one scene switch at a random frame (the object keeps its place, takes the new scene's
// look and speed): the model learns the switch from the conditioning. Deterministic for its seed.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { COND_DIM, condVector, move, render, SCENES } from '../../dist/core/models/video-world-scenes.js';

const [outDir, episodesArg, framesArg = '40', seedArg = '1'] = process.argv.slice(2);
if (!outDir || !episodesArg) {
  console.error('usage: node models/video-world/gen-data.mjs <outDir> <episodes> [frames per episode] [seed]');
  process.exit(2);
}
const episodes = Number(episodesArg);
const frames = Number(framesArg);
const SIZE = 64;

let s = Number(seedArg) >>> 0;
function rand() {
  let t = (s = (s + 0x6d2b79f5) >>> 0);
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const pick = (n) => Math.floor(rand() * n);

const DIRECTIONS = [[0, 0], [-1, 0], [1, 0], [0, -1], [0, 1], [-1, -1], [1, -1], [-1, 1], [1, 1]];
const frameBytes = SIZE * SIZE * 3;
const video = new Uint8Array(episodes * (frames + 1) * frameBytes);
const cond = new Float32Array(episodes * frames * COND_DIM);
let switches = 0;
for (let e = 0; e < episodes; e++) {
  let scene = pick(SCENES.length);
  let x = 10 + rand() * (SIZE - 20);
  let y = 10 + rand() * (SIZE - 20);
  const switchAt = rand() < 0.3 ? 1 + pick(frames - 2) : -1;
  if (switchAt >= 0) switches++;
  let dir = DIRECTIONS[pick(5)];
  let hold = 3 + pick(12);
  const base = e * (frames + 1) * frameBytes;
  render(scene, x, y, SIZE, video.subarray(base, base + frameBytes));
  for (let n = 0; n < frames; n++) {
    if (hold-- <= 0) {
      // Mostly the four directions and stop; diagonals a quarter of the time.
      dir = rand() < 0.75 ? DIRECTIONS[pick(5)] : DIRECTIONS[5 + pick(4)];
      hold = 2 + pick(12);
    }
    if (n === switchAt) scene = (scene + 1 + pick(SCENES.length - 1)) % SCENES.length;
    condVector(scene, dir[0], dir[1], cond.subarray((e * frames + n) * COND_DIM, (e * frames + n + 1) * COND_DIM));
    [x, y] = move(scene, x, y, dir[0], dir[1], SIZE);
    const at = base + (n + 1) * frameBytes;
    render(scene, x, y, SIZE, video.subarray(at, at + frameBytes));
  }
}
mkdirSync(outDir, { recursive: true });
writeFileSync(join(outDir, 'frames.u8'), video);
writeFileSync(join(outDir, 'cond.f32'), new Uint8Array(cond.buffer));
writeFileSync(join(outDir, 'meta.json'), JSON.stringify({ episodes, frames, size: SIZE, cond_dim: COND_DIM, scenes: SCENES.map((x) => x.name), switches, seed: Number(seedArg) }, null, 2));
console.log(`${episodes} episodes of ${frames} frames (${switches} with a scene switch) in ${outDir}`);

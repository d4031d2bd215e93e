import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { track } from '../../core/models/video-world-scenes.js';
import { parseControls } from '../../src/pipelines/generate.js';
import { runCli } from '../run-cli.js';

const tiny = fileURLToPath(new URL('../../../models/video-world/tiny/step.onnx', import.meta.url));

/** Frames in a video file, counted by ffprobe decoding it. */
function countFrames(path: string): { frames: number; width: number; height: number } {
  const r = spawnSync('ffprobe', ['-v', 'error', '-count_frames', '-select_streams', 'v:0', '-show_entries', 'stream=nb_read_frames,width,height', '-of', 'json', path], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const s = JSON.parse(r.stdout).streams[0];
  return { frames: Number(s.nb_read_frames), width: s.width, height: s.height };
}

describe('causeway generate', function () {
  this.timeout(120_000);
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'cw-generate-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('writes every frame through ffmpeg (.y4m, .webm, .mp4), steered by a command script', async () => {
    for (const ext of ['y4m', 'webm', 'mp4']) {
      const out = join(dir, `world.${ext}`);
      const r = await runCli(['generate', out, '--frames', '12', '--fps', '10', '--model', tiny, '--controls', '0.3:right;0.6:scene=dots', '--device', 'cpu']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, new RegExp(`world\\.${ext}: 12 frames \\(32x32, 1\\.20 s at 10 fps\\) generated in \\d+\\.\\d+ s`));
      assert.deepEqual(countFrames(out), { frames: 12, width: 32, height: 32 }, ext);
    }
  });

  it('--seed starts the object at a place drawn from the seed: the same seed the same place, none the centre', async () => {
    const first = async (args: string[]) => {
      const out = join(dir, `first-${args.join('')}.y4m`);
      const r = await runCli(['generate', out, '--frames', '1', '--model', tiny, '--device', 'cpu', ...args]);
      assert.equal(r.code, 0, r.stderr);
      const raw = spawnSync('ffmpeg', ['-v', 'error', '-i', out, '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'], { maxBuffer: 1 << 20 });
      assert.equal(raw.status, 0, String(raw.stderr));
      return track(new Uint8Array(raw.stdout), 32)!;
    };
    const centre = await first([]);
    assert.ok(Math.abs(centre.x - 16) < 1 && Math.abs(centre.y - 16) < 1, JSON.stringify(centre));
    const a = await first(['--seed', '7']);
    const again = await first(['--seed', '7']);
    const b = await first(['--seed', '8']);
    assert.deepEqual(a, again);
    assert.ok(Math.hypot(a.x - b.x, a.y - b.y) > 1 && Math.hypot(a.x - 16, a.y - 16) > 1, JSON.stringify({ a, b }));
    const bad = await runCli(['generate', join(dir, 'x.y4m'), '--frames', '1', '--model', tiny, '--seed', 'lucky']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--seed must be an integer, got 'lucky'/);
  });

  it('parses the command script, and says what is wrong with a bad one or a missing model', async () => {
    assert.deepEqual(parseControls('0.5:right; 2:scene=dots;3:scene=1;4.25:stop'), {
      controls: [{ command: 'right', atUs: 500_000 }, { command: 'stop', atUs: 4_250_000 }],
      prompts: [{ scene: 'dots', atUs: 2_000_000 }, { scene: 1, atUs: 3_000_000 }],
    });
    assert.throws(() => parseControls('1:jump'), /unknown action 'jump' at 1 s \(commands: stop, left, right, up, down; or scene=NAME\)/);
    assert.throws(() => parseControls('soon:left'), /'soon:left' is not t:action/);
    assert.throws(() => parseControls('1:scene=jungle'), /unknown scene "jungle"/);
    const bad = await runCli(['generate', join(dir, 'x.y4m'), '--frames', '3', '--model', tiny, '--controls', '1:jump']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /unknown action 'jump'/);
    const noFrames = await runCli(['generate', join(dir, 'x.y4m'), '--model', tiny]);
    assert.equal(noFrames.code, 2);
    assert.match(noFrames.stderr, /--frames must be a positive integer/);
    const noModel = await runCli(['generate', join(dir, 'x.y4m'), '--frames', '3', '--model', join(dir, 'none.onnx')]);
    assert.notEqual(noModel.code, 0);
    assert.match(noModel.stderr, /video-world model .*none\.onnx not found/);
  });
});

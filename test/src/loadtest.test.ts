import assert from 'node:assert/strict';
import type { LoadtestReport } from '../../src/pipelines/loadtest.js';
import { runCli } from '../run-cli.js';

describe('causeway loadtest', function () {
  this.timeout(120_000);

  it('--json: N live sessions through the captions pipeline, with what they cost and whether they kept up', async () => {
    const r = await runCli(['loadtest', '--sessions', '3', '--seconds', '4', '--json', '--quiet', '--device', 'cpu']);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as LoadtestReport;
    assert.deepEqual(Object.keys(report).sort(), ['batchSizeMean', 'cpuMsPerSecondPerSession', 'dropped', 'frameAgeP99Ms', 'outputs', 'pipeline', 'realtime', 'seconds', 'sessions'].sort());
    assert.equal(report.sessions, 3);
    assert.equal(report.pipeline, 'captions');
    // The demo clip has three phrases in 15 s: in 4 s each session says at least the first one (speech-start, then captions).
    assert.ok(report.outputs >= 3, `outputs ${report.outputs}`);
    assert.ok(report.cpuMsPerSecondPerSession > 0 && report.cpuMsPerSecondPerSession < 3000, `cpu ${report.cpuMsPerSecondPerSession}`);
    assert.ok(report.frameAgeP99Ms >= 0 && report.dropped >= 0 && report.batchSizeMean >= 1);
    assert.equal(report.realtime, report.dropped === 0 && report.frameAgeP99Ms < 200);
    // The same with the models on the main thread instead of their workers.
    const main = await runCli(['loadtest', '--sessions', '2', '--seconds', '3', '--json', '--quiet', '--device', 'cpu', '--thread', 'main']);
    assert.equal(main.code, 0, main.stderr);
    assert.ok((JSON.parse(main.stdout) as LoadtestReport).outputs >= 2);
  });

  it('the binaural pipeline returns audio frames; bad arguments are usage errors', async () => {
    const r = await runCli(['loadtest', '--sessions', '2', '--seconds', '1', '--pipeline', 'binaural', '--quiet']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^2 binaural session\(s\) for 1 s: (real time|NOT real time) \(frame age p99 \d+ ms, \d+ frame\(s\) dropped\); \d+\.\d ms of CPU per second per session/);
    for (const [args, re] of [
      [['--sessions', '0'], /--sessions must be a positive integer/],
      [['--seconds', 'x'], /--seconds must be a positive number/],
      [['--pipeline', 'video'], /--pipeline must be captions, binaural or default/],
      [['--thread', 'gpu'], /--thread must be worker or main/],
    ] as const) {
      const bad = await runCli(['loadtest', ...args, '--quiet']);
      assert.equal(bad.code, 2, bad.stderr);
      assert.match(bad.stderr, re);
    }
  });
});

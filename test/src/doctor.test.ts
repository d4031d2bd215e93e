import assert from 'node:assert/strict';
import type { DoctorReport } from '../../src/pipelines/doctor.js';
import { runCli } from '../run-cli.js';

describe('causeway doctor', function () {
  this.timeout(180_000);

  it('--json: the providers that start here and, per shipped model and provider, the device check and step times', async () => {
    const r = await runCli(['doctor', '--json', '--quiet']);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as DoctorReport;
    const byName = new Map(report.providers.map((p) => [p.name, p]));
    assert.deepEqual([...byName.keys()], ['cpu', 'cuda', 'webgpu']);
    assert.equal(byName.get('cpu')!.available, true);
    // This machine and CI have lavapipe (scripts/setup.sh); CUDA's libraries are not installed.
    assert.equal(byName.get('webgpu')!.available, true, byName.get('webgpu')!.reason);
    // ... and names the device: lavapipe's llvmpipe, a CPU-type Vulkan device.
    assert.match(byName.get('webgpu')!.adapter ?? '', /llvmpipe.*\(cpu, Mesa/, JSON.stringify(byName.get('webgpu')));
    assert.match(byName.get('cpu')!.adapter ?? '', /\(\d+ logical cores\)$/);
    for (const p of report.providers) if (!p.available) assert.ok(p.reason && p.reason.length > 10, `${p.name}: a reason`);
    const available = report.providers.filter((p) => p.available).map((p) => p.name);
    for (const name of ['silero-vad', 'command-asr', 'binaural-flow']) {
      const rows = report.models.filter((m) => m.name === name);
      assert.deepEqual(rows.map((m) => m.provider), available, name);
      for (const m of rows) {
        assert.ok(m.msBatch1 > 0 && Number.isFinite(m.msBatch1), `${name} on ${m.provider}: msBatch1 ${m.msBatch1}`);
        assert.ok(m.msBatch32 === null || m.msBatch32 > 0, `${name} on ${m.provider}: msBatch32 ${m.msBatch32}`);
        if (m.provider === 'cpu') assert.ok(m.ok && m.maxDiff === 0);
      }
    }
    // Silero VAD v5 is wrong on WebGPU (measured 0.86 off): the report says so.
    const silero = report.models.find((m) => m.name === 'silero-vad' && m.provider === 'webgpu')!;
    assert.equal(silero.ok, false);
    assert.ok(silero.maxDiff > 0.1, `maxDiff ${silero.maxDiff}`);
    assert.ok(report.models.find((m) => m.name === 'silero-vad' && m.provider === 'cpu')!.msBatch32 !== null, 'Silero batches');
    console.log(`      ${report.models.map((m) => `${m.name}/${m.provider}: ${m.ok ? 'ok' : 'differs'} ${m.msBatch1.toFixed(2)} ms${m.msBatch32 === null ? '' : `, batch 32 ${m.msBatch32.toFixed(1)} ms`}`).join('; ')}`);
  });

  it('without --json: one line per provider and per model and provider', async () => {
    const r = await runCli(['doctor', '--quiet']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^providers:\n {2}cpu +available on .+ logical cores\)\n/);
    assert.match(r.stdout, /\n {2}webgpu +available on llvmpipe/);
    assert.match(r.stdout, /silero-vad +webgpu +DIFFERS from the CPU by .*: runs on the CPU instead/);
    assert.match(r.stdout, /command-asr +cpu +reference; batch 1 \d+\.\d+ ms/);
  });
});

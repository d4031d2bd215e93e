/**
 * npm test after the build: the suite in two phases. Most files run two at a time (mocha
 * --parallel, one process per file): they wait on ffmpeg, sockets and timers as much as they
 * compute, so two share a 2-core machine well. The files that drive chromium or a cluster of
 * processes in real time then run one at a time: two of them at once starve a real-time audio
 * path (a fake microphone's words lost under the load), which is a result about the machine,
 * not about Causeway. Both phases always run; the exit status is the worse of the two.
 * Arguments go to both mocha runs (e.g. --bail).
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const tests = join(root, 'dist', 'test');
/** One at a time: chromium pages and multi-process clusters streaming in real time. */
const SERIAL = ['browser/', 'cluster/', 'server/webrtc-e2e.test.js', 'server/janus.test.js'];

function specs(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return specs(path);
    return name.endsWith('.test.js') ? [relative(tests, path)] : [];
  });
}

const all = specs(tests).sort();
const serial = all.filter((f) => SERIAL.some((s) => f.startsWith(s)));
const parallel = all.filter((f) => !serial.includes(f));
const mocha = join(root, 'node_modules', 'mocha', 'bin', 'mocha.js');
// .mocharc.json's settings, without its spec (it names every file: plain `npx mocha` runs them all, one at a time).
const rc = JSON.parse(readFileSync(join(root, '.mocharc.json'), 'utf8'));
const settings = ['--no-config', '--timeout', String(rc.timeout), '--reporter', rc.reporter];
const run = (args, files) =>
  spawnSync(process.execPath, [mocha, ...settings, ...args, ...process.argv.slice(2), ...files.map((f) => join('dist', 'test', f))], { cwd: root, stdio: 'inherit' }).status ?? 1;

console.log(`${parallel.length} test files two at a time, then ${serial.length} one at a time`);
const first = run(['--parallel', '--jobs', '2'], parallel);
const second = run([], serial);
process.exit(Math.max(first, second));

/**
 * Processes, read from /proc. Tests that count child processes must not pass because a tool is
 * missing: `ps`/`pgrep` absent (or failing) used to read as "no processes". /proc unreadable
 * throws instead.
 */
import { readdirSync, readFileSync } from 'node:fs';

interface ProcStat {
  pid: number;
  comm: string;
  /** One letter: R running, S sleeping, Z zombie, ... */
  stat: string;
  ppid: number;
}

function pids(): number[] {
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch (e) {
    throw new Error(`cannot list processes: /proc is not readable (${(e as Error).message})`);
  }
  const out = names.filter((n) => /^\d+$/.test(n)).map(Number);
  if (!out.includes(process.pid)) throw new Error('cannot list processes: /proc does not show this process');
  return out;
}

/** undefined when the process is gone between listing and reading (it may end at any time). */
function readStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split at the last ')'.
  const close = text.lastIndexOf(')');
  const comm = text.slice(text.indexOf('(') + 1, close);
  const [stat, ppid] = text.slice(close + 2).split(' ');
  return { pid, comm, stat: stat!, ppid: Number(ppid) };
}

/** Children of this process: pid, state (Z = zombie) and command name (15 characters at most, as the kernel keeps it). */
export function childProcesses(): { pid: number; stat: string; comm: string }[] {
  const out: { pid: number; stat: string; comm: string }[] = [];
  for (const pid of pids()) {
    const s = readStat(pid);
    if (s && s.ppid === process.pid) out.push({ pid, stat: s.stat, comm: s.comm });
  }
  return out;
}

/** Pids (other than this process) whose command line contains `text`, like `pgrep -f` with a fixed string. */
export function processesMatching(text: string): number[] {
  const out: number[] = [];
  for (const pid of pids()) {
    if (pid === process.pid) continue;
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0').join(' ').includes(text)) out.push(pid);
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

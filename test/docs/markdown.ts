/** Fenced code blocks of a markdown file, for the test that runs every example the docs show. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface CodeBlock {
  /** Path as given (relative to the repository root). */
  readonly file: string;
  /** 1-based line of the opening fence. */
  readonly line: number;
  /** The fence's info string ('ts', 'sh', '' ...). */
  readonly lang: string;
  readonly code: string;
}

/** `file` relative to `root`. */
export function codeBlocks(file: string, root: string): CodeBlock[] {
  const text = readFileSync(join(root, file), 'utf8');
  const blocks: CodeBlock[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^```\s*(\S*)\s*$/.exec(lines[i]!);
    if (!open) continue;
    const body: string[] = [];
    let j = i + 1;
    while (j < lines.length && !/^```\s*$/.test(lines[j]!)) body.push(lines[j++]!);
    if (j === lines.length) throw new Error(`${file}:${i + 1}: code block never closed`);
    blocks.push({ file, line: i + 1, lang: open[1]!, code: body.join('\n') + '\n' });
    i = j;
  }
  return blocks;
}

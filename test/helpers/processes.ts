/**
 * Real processes for end-to-end tests: the `fedscore` CLI from source (`node --import tsx
 * src/cli/main.ts …`), with every line it prints kept, a way to wait for a line, and its exit. A server
 * started this way prints its URL; owner agents print a line per step.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { repoRoot } from './app.js';

export interface CliProcess {
  child: ChildProcess;
  /** Every stdout and stderr line so far, in order, tagged. */
  lines: { stream: 'stdout' | 'stderr'; text: string }[];
  stdout(): string;
  stderr(): string;
  /** Resolves with the first line (of either stream) matching; rejects if the process exits first. */
  waitForLine(pattern: RegExp, what?: string): Promise<string>;
  exited: Promise<number | null>;
}

export function startCli(args: string[], env: NodeJS.ProcessEnv = {}): CliProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'src', 'cli', 'main.ts'), ...args], {
    cwd: repoRoot,
    env: { ...process.env, FEDSCORE_DEBUG: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: CliProcess['lines'] = [];
  const watchers = new Set<() => void>();
  const collect = (stream: 'stdout' | 'stderr') => {
    let buffered = '';
    child[stream]!.setEncoding('utf8');
    child[stream]!.on('data', (chunk: string) => {
      buffered += chunk;
      let end: number;
      while ((end = buffered.indexOf('\n')) >= 0) {
        lines.push({ stream, text: buffered.slice(0, end) });
        buffered = buffered.slice(end + 1);
      }
      for (const watch of [...watchers]) watch();
    });
    child[stream]!.on('end', () => {
      if (buffered) lines.push({ stream, text: buffered });
      for (const watch of [...watchers]) watch();
    });
  };
  collect('stdout');
  collect('stderr');
  const exited = new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => {
      resolve(code); // null when killed by a signal
      for (const watch of [...watchers]) watch();
    });
  });
  let done = false;
  void exited.then(() => (done = true));
  const text = (stream: 'stdout' | 'stderr') => lines.filter((l) => l.stream === stream).map((l) => `${l.text}\n`).join('');
  return {
    child,
    lines,
    stdout: () => text('stdout'),
    stderr: () => text('stderr'),
    exited,
    waitForLine(pattern, what = String(pattern)) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = lines.find((line) => pattern.test(line.text));
          if (found) {
            watchers.delete(check);
            resolve(found.text);
          } else if (done) {
            watchers.delete(check);
            reject(new Error(`waitForLine: the process exited before printing ${what}; it printed:\n${lines.map((l) => l.text).join('\n')}`));
          }
        };
        watchers.add(check);
        check();
        void exited.then(check);
      });
    },
  };
}

/** Runs a CLI command to its end. */
export async function runCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string; lines: CliProcess['lines'] }> {
  const process = startCli(args, env);
  const code = await process.exited;
  return { code, stdout: process.stdout(), stderr: process.stderr(), lines: process.lines };
}

export function lastJsonLine<T = Record<string, unknown>>(stdout: string): T {
  return JSON.parse(stdout.trimEnd().split('\n').at(-1) ?? '') as T;
}

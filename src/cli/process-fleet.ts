/**
 * `fedscore simulate --processes`: every simulated owner a real `fedscore owner enrol` and `fedscore
 * owner run` child process, with its own state directory and its shard written as a CSV file in the
 * federation's schema — exactly what a bank's data team runs, only started many at once. Bounded in
 * number: each process loads its own TensorFlow.js, so this is for tests and demos, not 30,000 owners.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ownerSeed, type OwnerFleet } from '../client/simulation.js';
import type { DatasetSchema, RawRecord } from '../ml/dataset-schema.js';

/** More than this many child processes would each load TensorFlow.js and crowd the machine. */
export const MAX_PROCESSES = 32;

export interface ProcessFleetOptions {
  /** Each owner's rows, raw, in the order the in-process simulation deals them. */
  shards: RawRecord[][];
  schema: DatasetSchema;
  /** Where the shards' files and the owners' state directories go. */
  dir: string;
  /** Lines of the children's output, prefixed with the owner's name (for --verbose runs). */
  onOutput?(owner: string, line: string): void;
}

export function processFleet(options: ProcessFleetOptions): OwnerFleet {
  const owners = options.shards.map((_, index) => ({ name: `owner-${index + 1}`, state: path.join(options.dir, `owner-${index + 1}`), data: path.join(options.dir, `owner-${index + 1}.csv`) }));
  return {
    async enrol({ operator, federation, enrolmentToken, options: run, signal }) {
      if (owners.length > MAX_PROCESSES) throw new Error(`processFleet: at most ${MAX_PROCESSES} owner processes, got ${owners.length}`);
      await mkdir(options.dir, { recursive: true, mode: 0o700 });
      for (const [index, owner] of owners.entries()) {
        signal.throwIfAborted();
        await writeFile(owner.data, formatCsv(options.schema, options.shards[index]!), { mode: 0o600 });
        // As the in-process fleet: in secure mode the first 2k owners volunteer for committees.
        const volunteer = run.secure !== undefined && index < 2 * run.secure.committee;
        const args = ['owner', 'enrol', '--server', operator.baseUrl, '--federation', federation.id, '--state', owner.state, '--name', owner.name, '--json'];
        if (run.mode === 'secure' && !volunteer) args.push('--no-committee');
        await finish(startCli(args, { FEDSCORE_ENROLMENT_TOKEN: enrolmentToken }, owner.name, options.onOutput), owner.name, signal);
        run.onProgress?.({ phase: 'enrol', done: index + 1, total: owners.length });
      }
    },
    async run({ options: run, participants, signal }) {
      const submitted = new Map<number, number>();
      const onLine = (owner: string, line: string) => {
        options.onOutput?.(owner, line);
        const round = /^round (\d+): submitted /.exec(line)?.[1];
        if (round === undefined) return;
        const done = (submitted.get(Number(round)) ?? 0) + 1;
        submitted.set(Number(round), done);
        run.onProgress?.({ phase: 'round', round: Number(round), done, total: participants });
      };
      const children = owners.map((owner, index) =>
        startCli(['owner', 'run', '--state', owner.state, '--data', owner.data, '--seed', String(ownerSeed(run.training.seed, index)), '--json'], {}, owner.name, onLine),
      );
      await Promise.all(children.map((child, index) => finish(child, owners[index]!.name, signal)));
    },
  };
}

/** The same CLI as this process: the TypeScript sources through tsx in a checkout, the compiled one when installed. */
function cliCommand(): string[] {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith('.ts')) return ['--import', 'tsx', path.join(path.dirname(here), 'main.ts')];
  return [path.join(path.dirname(here), 'main.js')];
}

interface Child {
  process: ChildProcess;
  stderr: string[];
  exited: Promise<number | null>;
}

function startCli(args: string[], env: NodeJS.ProcessEnv, owner: string, onLine?: (owner: string, line: string) => void): Child {
  const child = spawn(process.execPath, [...cliCommand(), ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const stderr: string[] = [];
  lines(child.stdout!, (line) => onLine?.(owner, line));
  lines(child.stderr!, (line) => {
    stderr.push(line);
    if (stderr.length > 20) stderr.shift();
    onLine?.(owner, line);
  });
  const exited = new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve(code));
  });
  return { process: child, stderr, exited };
}

/** Waits for a child; a non-zero exit is an error carrying its last stderr lines; an abort stops it. */
async function finish(child: Child, owner: string, signal: AbortSignal): Promise<void> {
  const stop = () => child.process.kill('SIGTERM');
  signal.addEventListener('abort', stop, { once: true });
  try {
    const code = await child.exited;
    if (code !== 0 && !signal.aborted) throw new Error(`${owner} exited with code ${code}: ${child.stderr.slice(-5).join(' | ') || 'no message'}`);
  } finally {
    signal.removeEventListener('abort', stop);
  }
}

function lines(stream: NodeJS.ReadableStream, onLine: (line: string) => void): void {
  let buffered = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    buffered += chunk;
    let end: number;
    while ((end = buffered.indexOf('\n')) >= 0) {
      onLine(buffered.slice(0, end));
      buffered = buffered.slice(end + 1);
    }
  });
  stream.on('end', () => buffered && onLine(buffered));
}

/** Records as the schema's file format: its delimiter, a header when it has one, RFC 4180 quoting where needed. */
export function formatCsv(schema: DatasetSchema, records: RawRecord[]): string {
  const names = schema.columns.map((column) => column.name);
  const quote = (value: unknown) => {
    const text = value === null || value === undefined ? '' : String(value);
    return text.includes(schema.delimiter) || /["\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
  };
  const rows = records.map((record) => names.map((name) => quote(record[name])).join(schema.delimiter));
  return `${[...(schema.header ? [names.map(quote).join(schema.delimiter)] : []), ...rows].join('\n')}\n`;
}

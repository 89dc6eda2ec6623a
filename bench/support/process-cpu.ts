/**
 * CPU seconds every process of one program has used so far, read from /proc (Linux): the load bench
 * measures PostgreSQL's share of a window this way, backends and background workers together, since
 * they are separate processes the bench did not start. Zero where /proc cannot be read.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

let ticksPerSecond: number | undefined;

function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** Sum of utime + stime over every process whose command name is `command` (e.g. 'postgres'). */
export function programCpuSeconds(command: string): number {
  let ticks = 0;
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return 0;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // the process ended between the listing and the read
    }
    // pid (comm) state …: comm may hold spaces or parentheses, so split after its last ')'.
    const open = stat.indexOf('(');
    const close = stat.lastIndexOf(')');
    if (stat.slice(open + 1, close) !== command) continue;
    const fields = stat.slice(close + 2).split(' ');
    ticks += Number(fields[11]) + Number(fields[12]); // utime, stime: fields 14 and 15 of stat(5)
  }
  return ticks / clockTicks();
}

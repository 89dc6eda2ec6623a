/**
 * A dependency-free progress bar for long CLI runs. It draws only on a terminal: when stderr is a pipe or a
 * file it writes nothing at all, so logs and CI output stay clean and `--json` consumers never see it.
 */
import type { OutputStream } from './cli-io.js';

export interface ProgressBar {
  /** Sets the label (e.g. `round 3/20`) and total for a new phase, and redraws from zero. */
  start(label: string, total: number): void;
  update(done: number): void;
  /** Erases the bar so a normal line can be printed; the next `update` draws it again. */
  clear(): void;
  /** Erases the bar for good. */
  stop(): void;
}

const REDRAW_INTERVAL_MS = 80;

export function createProgressBar(stream: OutputStream, now: () => number = () => performance.now()): ProgressBar {
  if (!stream.isTTY) return { start() {}, update() {}, clear() {}, stop() {} };

  let label = '';
  let total = 1;
  let done = 0;
  let visible = false;
  let lastDraw = -Infinity;

  const draw = (): void => {
    // Some pseudo-terminals report 0 columns; treat that like unknown.
    const width = Math.max(10, Math.min(40, (stream.columns || 80) - label.length - 24));
    const fraction = total > 0 ? Math.min(1, done / total) : 1;
    const filled = Math.round(fraction * width);
    const bar = '█'.repeat(filled) + '░'.repeat(width - filled);
    // Integer arithmetic: 58 / 100 * 100 is 57.99… in floating point.
    const percent = `${total > 0 ? Math.floor((Math.min(done, total) * 100) / total) : 100}%`.padStart(4);
    // \r and "erase line" redraw in place without scrolling the terminal.
    stream.write(`\r\x1b[2K${label} ${bar} ${percent} ${done}/${total}`);
    visible = true;
    lastDraw = now();
  };

  const erase = (): void => {
    if (visible) stream.write('\r\x1b[2K');
    visible = false;
  };

  return {
    start(nextLabel, nextTotal) {
      label = nextLabel;
      total = nextTotal;
      done = 0;
      draw();
    },
    update(nextDone) {
      done = nextDone;
      // Redrawing on every owner would cost more than the owners themselves on a fast run.
      if (done >= total || now() - lastDraw >= REDRAW_INTERVAL_MS) draw();
    },
    clear: erase,
    stop: erase,
  };
}

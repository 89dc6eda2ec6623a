/** The bar must be silent off a terminal, and on one must redraw in place and erase itself. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createProgressBar } from './progress.js';

describe('createProgressBar', () => {
  it('writes nothing when the stream is not a TTY', () => {
    const written: string[] = [];
    const bar = createProgressBar({ write: (chunk: string) => written.push(chunk) });
    bar.start('round 1/3', 10);
    bar.update(5);
    bar.update(10);
    bar.clear();
    bar.stop();
    assert.deepEqual(written, []);
  });

  it('redraws in place on a TTY, throttled, always drawing completion, and erases itself', () => {
    const written: string[] = [];
    let clock = 0;
    const bar = createProgressBar({ write: (chunk: string) => written.push(chunk), isTTY: true, columns: 80 }, () => clock);
    bar.start('round 1/3', 4);
    bar.update(1); // within the redraw interval: skipped
    clock = 100;
    bar.update(2);
    bar.update(4); // completion is always drawn
    bar.stop();
    assert.equal(written.length, 4);
    assert.ok(written.slice(0, 3).every((chunk) => chunk.startsWith('\r\x1b[2Kround 1/3 ')));
    assert.match(written[1]!, / 50% 2\/4$/);
    assert.match(written[2]!, / 100% 4\/4$/);
    assert.equal(written[3], '\r\x1b[2K');
    bar.stop();
    assert.equal(written.length, 4, 'erasing twice writes nothing');
  });
});

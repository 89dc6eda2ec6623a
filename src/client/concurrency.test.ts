/** The owner pool must never exceed its bound, must keep input order, and must stop after a failure. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { mapWithConcurrency } from './concurrency.js';

describe('mapWithConcurrency', () => {
  it('keeps results in input order and never runs more than the limit', async () => {
    let running = 0;
    let peak = 0;
    const items = Array.from({ length: 25 }, (_, i) => i);
    const results = await mapWithConcurrency(items, 4, async (item) => {
      running++;
      peak = Math.max(peak, running);
      await sleep((item * 7) % 5);
      running--;
      return item * 2;
    });
    assert.deepEqual(results, items.map((i) => i * 2));
    assert.equal(peak, 4);
  });

  it('starts nothing new after a failure and rejects with the first error', async () => {
    const started: number[] = [];
    await assert.rejects(
      mapWithConcurrency(Array.from({ length: 20 }, (_, i) => i), 2, async (item) => {
        started.push(item);
        await sleep(1);
        if (item === 3) throw new Error('owner 3 failed');
        return item;
      }),
      /owner 3 failed/,
    );
    assert.ok(started.length <= 5, `started ${started.length} tasks`);
  });

  it('stops when the signal aborts', async () => {
    const controller = new AbortController();
    let calls = 0;
    await assert.rejects(
      mapWithConcurrency(
        Array.from({ length: 10 }, (_, i) => i),
        1,
        async () => {
          if (++calls === 2) controller.abort(new Error('interrupted'));
        },
        controller.signal,
      ),
      /interrupted/,
    );
    assert.equal(calls, 2);
  });

  it('handles an empty list and refuses a non-positive limit', async () => {
    assert.deepEqual(await mapWithConcurrency([], 3, async () => 1), []);
    await assert.rejects(mapWithConcurrency([1], 0, async () => 1), /positive whole limit, got 0/);
  });
});

/**
 * The owner pool must never exceed its bound, must keep input order, and must stop after a failure. Every
 * task waits on a promise the test settles, so which tasks run, and when each finishes, is chosen here
 * rather than left to timers.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mapWithConcurrency } from './concurrency.js';

interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(error: Error): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

// The pool reacts to a settled task only through promise callbacks, and the event loop runs every queued
// callback before it reaches setImmediate: afterwards, whatever the pool was going to start has started.
const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('mapWithConcurrency', () => {
  it('keeps results in input order and keeps exactly the limit running while work remains', async () => {
    const limit = 4;
    const items = Array.from({ length: 25 }, (_, i) => i);
    const gates = items.map(() => deferred<void>());
    const running = new Set<number>();
    let peak = 0;
    const results = mapWithConcurrency(items, limit, async (item) => {
      running.add(item);
      peak = Math.max(peak, running.size);
      await gates[item]!.promise;
      running.delete(item);
      return item * 2;
    });

    // Finishing the newest task first makes completion order the reverse of input order at the end.
    const finished: number[] = [];
    for (let done = 0; done < items.length; done++) {
      await flush();
      assert.equal(running.size, Math.min(limit, items.length - done), `tasks running after ${done} finished`);
      const newest = Math.max(...running);
      finished.push(newest);
      gates[newest]!.resolve();
    }
    assert.deepEqual(await results, items.map((i) => i * 2));
    // Tasks started in input order, finished as 3, 4, …, 24, then 2, 1, 0.
    assert.deepEqual(finished, [...items.slice(limit - 1), ...items.slice(0, limit - 1).reverse()]);
    assert.equal(peak, limit);
  });

  it('starts nothing new after a failure and rejects with the first error once the running tasks settle', async () => {
    const items = Array.from({ length: 10 }, (_, i) => i);
    const gates = items.map(() => deferred<number>());
    const started: number[] = [];
    let settled: { value: number[] } | { error: unknown } | undefined;
    // Read through a call: TypeScript would otherwise keep `settled` narrowed to undefined by the asserts.
    const outcome = () => settled;
    void mapWithConcurrency(items, 3, (item) => {
      started.push(item);
      return gates[item]!.promise;
    }).then(
      (value) => (settled = { value }),
      (error: unknown) => (settled = { error }),
    );
    await flush();
    assert.deepEqual(started, [0, 1, 2]);

    gates[1]!.reject(new Error('owner 1 failed'));
    await flush();
    assert.deepEqual(started, [0, 1, 2], 'a task started after the failure');
    assert.equal(outcome(), undefined, 'settled while tasks 0 and 2 were still running');

    // A later failure does not replace the first, and a later success does not clear it.
    gates[2]!.reject(new Error('owner 2 failed'));
    await flush();
    assert.equal(outcome(), undefined, 'settled while task 0 was still running');
    gates[0]!.resolve(0);
    await flush();
    const final = outcome();
    assert.ok(final !== undefined && 'error' in final, `expected a rejection, got ${JSON.stringify(final)}`);
    assert.match(String(final.error), /owner 1 failed/);
    assert.deepEqual(started, [0, 1, 2]);
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

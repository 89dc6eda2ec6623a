/**
 * Tests for the seeded generator: training reproducibility rests on the same seed giving the same
 * stream on every machine, and on shuffles being permutations.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRng, shuffleInPlace } from './random.js';

test('createRng: same seed, same stream; different seeds, different streams', () => {
  const a = createRng(42);
  const b = createRng(42);
  const c = createRng(43);
  const xs = Array.from({ length: 100 }, () => a());
  assert.deepEqual(Array.from({ length: 100 }, () => b()), xs);
  assert.notDeepEqual(Array.from({ length: 100 }, () => c()), xs);
});

test('createRng: outputs lie in [0, 1) and are roughly uniform', () => {
  const rng = createRng(7);
  const buckets = new Array<number>(10).fill(0);
  for (let i = 0; i < 10_000; i++) {
    const x = rng();
    assert.ok(x >= 0 && x < 1);
    buckets[Math.floor(x * 10)]!++;
  }
  for (const count of buckets) assert.ok(count > 850 && count < 1150, `bucket count ${count}`);
});

test('createRng: the high half of a large seed matters', () => {
  const a = createRng(5);
  const b = createRng(5 + 2 ** 32);
  assert.notEqual(a(), b());
});

test('createRng: rejects non-integer seeds', () => {
  assert.throws(() => createRng(1.5), /createRng: expected a safe integer seed, got 1.5/);
  assert.throws(() => createRng(Number.NaN), /createRng/);
});

test('shuffleInPlace: a deterministic permutation', () => {
  const items = Array.from({ length: 50 }, (_, i) => i);
  const once = shuffleInPlace([...items], createRng(1));
  const again = shuffleInPlace([...items], createRng(1));
  assert.deepEqual(once, again);
  assert.notDeepEqual(once, items);
  assert.deepEqual([...once].sort((x, y) => x - y), items);
  const target = [3, 1, 2];
  assert.equal(shuffleInPlace(target, createRng(2)), target);
  assert.deepEqual(shuffleInPlace([], createRng(2)), []);
});

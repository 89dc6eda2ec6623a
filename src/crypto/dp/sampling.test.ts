/** Verifiable Poisson sampling: a fixed function of (seed, owner, rate), with the right inclusion rate. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { seededRandomBytes } from '../field.js';
import { isSampled, newSamplingSeed } from './sampling.js';

test('the same seed and owner always decide the same way, and a known answer holds', () => {
  const seed = 'ab'.repeat(32);
  assert.equal(isSampled(seed, 'owner-1', 0.5), isSampled(seed, 'owner-1', 0.5));
  // Frozen: anyone re-implementing the rule must get these.
  assert.deepEqual(['a', 'b', 'c', 'd', 'e', 'f'].map((id) => isSampled(seed, id, 0.5)), FROZEN);
  assert.equal(isSampled(seed, 'anyone', 1), true);
});

test('each owner is in with probability rate, independently of the others', () => {
  const seed = newSamplingSeed(seededRandomBytes('sampling test'));
  for (const rate of [0.01, 0.1, 0.5]) {
    const n = 20_000;
    let inRound = 0;
    for (let i = 0; i < n; i++) if (isSampled(seed, `owner-${i}`, rate)) inRound++;
    // Binomial(n, rate): 6 standard deviations either side cannot fail by chance.
    const sd = Math.sqrt(n * rate * (1 - rate));
    assert.ok(Math.abs(inRound - n * rate) < 6 * sd, `rate ${rate}: ${inRound} of ${n}`);
  }
  // A sampled set is nested in the set sampled at a higher rate (same coin, lower threshold).
  for (let i = 0; i < 500; i++) if (isSampled(seed, `o${i}`, 0.1)) assert.ok(isSampled(seed, `o${i}`, 0.2));
});

test('bad seeds and rates are refused', () => {
  assert.throws(() => isSampled('zz', 'o', 0.5), /expected a 64-character hex seed/);
  for (const rate of [0, -0.1, 1.5, Number.NaN]) assert.throws(() => isSampled('00'.repeat(32), 'o', rate), /expected a rate in \(0, 1\]/);
});

const FROZEN = [false, true, false, false, true, true];

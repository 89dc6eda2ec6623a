import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decideRound, type RoundProgress } from './round-rules.js';

const t0 = new Date('2026-01-01T00:00:00Z');
const later = new Date('2026-01-01T01:00:00Z');
const round = (overrides: Partial<RoundProgress> = {}): RoundProgress => ({
  status: 'open',
  submissionCount: 0,
  minOwners: 3,
  targetOwners: null,
  deadline: later,
  partialSumCount: 0,
  summingDeadline: null,
  ...overrides,
});
const plain = { aggregation: 'plain' } as const;
const secure = { aggregation: 'secure', threshold: 2 } as const;

test('an open round waits until min owners, then aggregates (plain) or freezes (secure)', () => {
  assert.deepEqual(decideRound(round({ submissionCount: 2 }), plain, t0), { action: 'wait' });
  assert.deepEqual(decideRound(round({ submissionCount: 3 }), plain, t0), { action: 'aggregate' });
  assert.deepEqual(decideRound(round({ submissionCount: 3 }), secure, t0), { action: 'freeze' });
});

test('an open round short of owners fails at its deadline, not before', () => {
  const decision = decideRound(round({ submissionCount: 1 }), plain, later);
  assert.equal(decision.action, 'fail');
  assert.match((decision as { reason: string }).reason, /1 of 3/);
  assert.deepEqual(decideRound(round({ submissionCount: 1 }), plain, new Date(later.getTime() - 1)), { action: 'wait' });
});

test('a round with a target (every sampled owner) waits for all of them, and at its deadline settles with the minimum', () => {
  const sampled = round({ minOwners: 3, targetOwners: 5 });
  assert.deepEqual(decideRound({ ...sampled, submissionCount: 4 }, plain, t0), { action: 'wait' });
  assert.deepEqual(decideRound({ ...sampled, submissionCount: 5 }, plain, t0), { action: 'aggregate' });
  assert.deepEqual(decideRound({ ...sampled, submissionCount: 3 }, secure, later), { action: 'freeze' });
  assert.equal(decideRound({ ...sampled, submissionCount: 2 }, plain, later).action, 'fail');
  // A target below the minimum never closes a round early.
  assert.deepEqual(decideRound(round({ targetOwners: 1, submissionCount: 2 }), plain, t0), { action: 'wait' });
});

test('a summing round reconstructs at t partial sums and fails at its summing deadline with fewer', () => {
  const summing = round({ status: 'summing', submissionCount: 3, summingDeadline: later });
  assert.deepEqual(decideRound({ ...summing, partialSumCount: 1 }, secure, t0), { action: 'wait' });
  assert.deepEqual(decideRound({ ...summing, partialSumCount: 2 }, secure, t0), { action: 'reconstruct' });
  const failed = decideRound({ ...summing, partialSumCount: 1 }, secure, later);
  assert.equal(failed.action, 'fail');
  assert.match((failed as { reason: string }).reason, /1 of 2 required partial sums/);
});

test('settled rounds never move again', () => {
  for (const status of ['closed', 'failed'] as const) {
    assert.deepEqual(decideRound(round({ status, submissionCount: 9 }), plain, later), { action: 'wait' });
    assert.deepEqual(decideRound(round({ status, partialSumCount: 9 }), secure, later), { action: 'wait' });
  }
});

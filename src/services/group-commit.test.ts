import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GroupCommit, type Outcome } from './group-commit.js';

/** A commit whose transactions the test ends by hand, recording every batch it was given. */
function manualCommit() {
  const batches: number[][] = [];
  const ends: ((outcomes: Outcome<string>[] | Error) => void)[] = [];
  const commit = (items: number[]) => {
    batches.push(items);
    return new Promise<Outcome<string>[]>((resolve, reject) => ends.push((o) => (o instanceof Error ? reject(o) : resolve(o))));
  };
  const ok = (items: number[]) => items.map((i) => ({ ok: true as const, value: `done ${i}` }));
  return { batches, ends, commit, ok };
}

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

test('items of one event-loop turn are written together at its end; items arriving meanwhile share the next transaction', async () => {
  const m = manualCommit();
  const sizes: number[] = [];
  const group = new GroupCommit(m.commit, 256, (size) => sizes.push(size));
  const first = [1, 2].map((i) => group.submit('round', i));
  assert.deepEqual(m.batches, [], 'nothing is written before the turn ends');
  await nextTurn();
  assert.deepEqual(m.batches, [[1, 2]]);
  const waiting = [3, 4, 5].map((i) => group.submit('round', i));
  m.ends[0]!(m.ok([1, 2]));
  assert.deepEqual(await Promise.all(first), ['done 1', 'done 2']);
  await nextTurn();
  assert.deepEqual(m.batches, [[1, 2], [3, 4, 5]]);
  m.ends[1]!(m.ok([3, 4, 5]));
  assert.deepEqual(await Promise.all(waiting), ['done 3', 'done 4', 'done 5']);
  assert.deepEqual(sizes, [2, 3]);
});

test('a lone item on a quiet server is written within the turn it arrived in plus one', async () => {
  const m = manualCommit();
  const group = new GroupCommit(m.commit, 256);
  const lone = group.submit('round', 7);
  await nextTurn();
  assert.deepEqual(m.batches, [[7]]);
  m.ends[0]!(m.ok([7]));
  assert.equal(await lone, 'done 7');
});

test('keys batch separately, a batch is bounded, and each item gets its own outcome', async () => {
  const m = manualCommit();
  const group = new GroupCommit(m.commit, 2);
  const a = group.submit('a', 1);
  const b = group.submit('b', 10);
  await nextTurn();
  const rest = Promise.allSettled([2, 3, 4].map((i) => group.submit('a', i)));
  assert.deepEqual(m.batches, [[1], [10]]);
  m.ends[0]!(m.ok([1]));
  m.ends[1]!([{ ok: false, error: new Error('duplicate 10') }]);
  assert.equal(await a, 'done 1');
  await assert.rejects(b, /duplicate 10/);
  await nextTurn();
  assert.deepEqual(m.batches.slice(2), [[2, 3]]);
  m.ends[2]!([{ ok: true, value: 'done 2' }, { ok: false, error: new Error('closed 3') }]);
  await nextTurn();
  assert.deepEqual(m.batches.slice(3), [[4]]);
  m.ends[3]!(new Error('database gone'));
  assert.deepEqual(
    (await rest).map((s) => (s.status === 'fulfilled' ? s.value : (s.reason as Error).message)),
    ['done 2', 'closed 3', 'database gone'],
  );
});

test('a commit that answers for the wrong number of items fails the whole batch', async () => {
  const group = new GroupCommit(async () => [], 8);
  await assert.rejects(group.submit('k', 1), /expected 1 outcomes, got 0/);
});

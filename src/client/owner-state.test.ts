/**
 * The state directory holds an owner's keys and its memory of each round: created private, refused when
 * others could read it, locked against a second agent, and a journal that survives a crash mid-append.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFile, chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { journalSummary, OwnerStateDir, StateError, type OwnerIdentity } from './owner-state.js';

let scratch: string;
before(async () => (scratch = await mkdtemp(path.join(tmpdir(), 'fedscore-state-'))));
after(async () => rm(scratch, { recursive: true, force: true }));

const identity = (ownerId = 'owner-1'): OwnerIdentity => ({
  version: 1,
  server: 'http://127.0.0.1:3000',
  federationId: 'fed-1',
  ownerId,
  name: 'bank a',
  role: 'owner',
  apiKey: 'fsk_secret',
  identity: { publicKey: Buffer.alloc(32, 1).toString('base64'), privateKey: Buffer.alloc(32, 2).toString('base64') },
  charter: { fingerprint: 'a'.repeat(64), document: { version: 1, aggregation: 'plain', secure: null } },
  committeeVolunteer: true,
  enrolledAt: '2026-01-01T00:00:00.000Z',
});

test('a new state directory and its owner file are private, and it cannot be enrolled into twice', async () => {
  const dir = path.join(scratch, 'new');
  await OwnerStateDir.create(dir, identity());
  assert.equal(((await stat(dir)).mode & 0o777).toString(8), '700');
  assert.equal(((await stat(path.join(dir, 'owner.json'))).mode & 0o777).toString(8), '600');
  await assert.rejects(OwnerStateDir.assertFree(dir), (error: unknown) => error instanceof StateError && /already exists: this state directory belongs to owner owner-1/.test(error.message));
  await assert.rejects(OwnerStateDir.create(dir, identity('owner-2')), /already exists/);
  assert.equal(JSON.parse(await readFile(path.join(dir, 'owner.json'), 'utf8')).ownerId, 'owner-1', 'the first identity is untouched');
  assert.deepEqual((await OwnerStateDir.open(dir)).identity, identity());
});

test('an owner file readable or writable by group or others is refused, naming the fix', async () => {
  const dir = path.join(scratch, 'loose');
  await OwnerStateDir.create(dir, identity());
  for (const mode of [0o640, 0o604, 0o620, 0o644]) {
    await chmod(path.join(dir, 'owner.json'), mode);
    await assert.rejects(OwnerStateDir.open(dir), (error: unknown) => error instanceof StateError && error.message.includes(`(mode 0${mode.toString(8)})`) && /chmod 600/.test(error.message));
  }
  await chmod(path.join(dir, 'owner.json'), 0o600);
  await OwnerStateDir.open(dir);
  await assert.rejects(OwnerStateDir.open(path.join(scratch, 'missing')), /does not exist: run `fedscore owner enrol --state/);
});

test('the journal survives a torn last line and refuses damage in the middle', async () => {
  const dir = path.join(scratch, 'journal');
  const state = await OwnerStateDir.create(dir, identity());
  await state.record({ event: 'trained', round: 1, samples: 10, loss: 0.5 });
  await state.record({ event: 'submitted', round: 1, samples: 10, loss: 0.5, resumed: false });
  await state.record({ event: 'summed', round: 1, position: 2, owners: 4, resumed: false });
  await appendFile(path.join(dir, 'journal.jsonl'), '{"event":"submit'); // a crash mid-append
  const reopened = await OwnerStateDir.open(dir);
  assert.deepEqual(journalSummary(reopened.entries()), { submitted: [1], committee: [1], missed: [] });
  const text = await readFile(path.join(dir, 'journal.jsonl'), 'utf8');
  await writeFile(path.join(dir, 'journal.jsonl'), `garbage\n${text}`, { mode: 0o600 });
  await assert.rejects(OwnerStateDir.open(dir), /journal.jsonl line 1 is not JSON; the journal is damaged/);
});

test('a pending upload is kept private until acknowledged, then gone', async () => {
  const state = await OwnerStateDir.create(path.join(scratch, 'pending'), identity());
  assert.equal(await state.loadPending(3), undefined);
  const upload = { kind: 'update' as const, round: 3, samples: 5, loss: 0.25, body: { weights: [0.5, -1], numSamples: 5, metrics: { loss: 0.25 } } };
  await state.savePending(upload);
  assert.equal(((await stat(path.join(state.dir, 'pending-3.json'))).mode & 0o777).toString(8), '600');
  assert.deepEqual(await state.loadPending(3), upload);
  assert.deepEqual(await state.pendingRounds(), [3]);
  assert.equal(await state.loadPending(4), undefined);
  await state.clearPending(3);
  await state.clearPending(3); // idempotent
  assert.deepEqual(await state.pendingRounds(), []);
});

test('one agent per state directory: a live holder is refused, a dead one’s lock is taken over', async () => {
  const state = await OwnerStateDir.create(path.join(scratch, 'locked'), identity());
  const release = await state.lock();
  await assert.rejects(state.lock(), new RegExp(`in use by another agent \\(pid ${process.pid}\\)`));
  await release();
  // A lock left by a process that has exited (an agent that was SIGKILLed).
  const gone = spawn(process.execPath, ['-e', '']);
  await new Promise((resolve) => gone.once('exit', resolve));
  await writeFile(path.join(state.dir, 'agent.lock'), JSON.stringify({ pid: gone.pid, host: (await import('node:os')).hostname(), startedAt: 'then' }), { mode: 0o600 });
  const again = await state.lock();
  assert.equal(JSON.parse(await readFile(path.join(state.dir, 'agent.lock'), 'utf8')).pid, process.pid);
  await again();
  // Another host's lock is never taken over: that agent may be alive.
  await writeFile(path.join(state.dir, 'agent.lock'), JSON.stringify({ pid: 1, host: 'elsewhere', startedAt: 'then' }), { mode: 0o600 });
  await assert.rejects(state.lock(), /in use by an agent on host elsewhere .* delete .*agent\.lock/);
});

/**
 * The repositories under the load a burst of waking agents makes: many identical lookups at once. Prisma
 * merges concurrent findUnique calls into one query, which on SQLite overflows the parameter limit for a
 * compound key (P2029 at 500 concurrent calls, measured with Prisma 7.10), so repositories must not use
 * findUnique with one — checked here both by running the burst and by reading the sources.
 */
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { openTestDatabase } from '../../test/helpers/database.js';
import { findModelVersion, findModelWeights } from './models.repository.js';
import { findRound, hasPartialSum, hasUpdate } from './rounds.repository.js';

const BURST = 1500;

test('a burst of concurrent lookups by compound keys succeeds', async (t) => {
  const { db } = await openTestDatabase(t);
  const p = db.prisma;
  await p.federation.create({ data: { id: 'f', name: 'f', datasetSchema: '{}', modelSpec: '{}', trainingConfig: '{}', enrolmentTokenHash: 'h' } });
  await p.round.create({ data: { id: 'r', federationId: 'f', number: 1, status: 'open', baseModelVersion: 0, minOwners: 1, deadline: new Date() } });
  await p.modelVersion.create({ data: { id: 'm', federationId: 'f', version: 0, weights: new Uint8Array(8), metrics: '{}' } });
  const burst = <T>(lookup: (i: number) => Promise<T>) => Promise.all(Array.from({ length: BURST }, (_, i) => lookup(i)));
  assert.ok((await burst(() => findRound(p, 'f', 1))).every((round) => round?.id === 'r'));
  assert.ok((await burst((i) => hasUpdate(p, 'r', `owner-${i}`))).every((found) => found === false));
  assert.ok((await burst((i) => hasPartialSum(p, 'r', `member-${i}`))).every((found) => found === false));
  assert.ok((await burst(() => findModelVersion(p, 'f', 0))).every((version) => version?.version === 0));
  assert.ok((await burst(() => findModelWeights(p, 'f', 0))).every((weights) => weights?.length === 2));
});

test('no repository looks a row up with findUnique by a compound key', async () => {
  const dir = path.dirname(fileURLToPath(import.meta.url));
  const files = (await readdir(dir)).filter((name) => name.endsWith('.repository.ts'));
  assert.ok(files.length >= 4);
  for (const name of files) {
    const source = await readFile(path.join(dir, name), 'utf8');
    // Compound unique inputs are named field1_field2 (e.g. federationId_number).
    assert.doesNotMatch(source, /findUnique(OrThrow)?\(\{\s*where:\s*\{\s*\w+_\w+\s*:/, `${name} uses findUnique with a compound key`);
  }
});

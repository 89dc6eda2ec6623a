/**
 * The per-process parse of a federation's JSON settings (federations.repository.ts): requests share one
 * frozen parse while the stored text is unchanged, and a change made through another connection (another
 * instance) is parsed again on the next read, on the hot path and inside a transaction alike.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openTestDatabase } from '../../test/helpers/database.js';
import { openDatabase } from './client.js';
import { findFederation, setSelection } from './federations.repository.js';

test('findFederation shares one frozen parse until the stored settings change, whoever changes them', async (t) => {
  const { db, ...target } = await openTestDatabase(t);
  const other = await openDatabase(target);
  t.after(() => other.close());
  await db.prisma.federation.create({
    data: { id: 'f', name: 'f', datasetSchema: '{"columns":[{"name":"a"}]}', modelSpec: '{"kind":"logreg"}', trainingConfig: '{"rounds":1}', enrolmentTokenHash: 'h' },
  });

  const first = (await findFederation(db.prisma, 'f'))!;
  const again = (await findFederation(db.prisma, 'f'))!;
  assert.notEqual(again, first, 'each read is a record of its own');
  assert.equal(again.datasetSchema, first.datasetSchema, 'sharing the parsed settings');
  assert.ok(Object.isFrozen(first.datasetSchema) && Object.isFrozen(first.datasetSchema.columns[0]), 'frozen all the way down');
  assert.throws(() => {
    (first.trainingConfig as { rounds: number }).rounds = 2;
  }, TypeError);
  const inTransaction = (await db.prisma.$transaction((tx) => findFederation(tx, 'f')))!;
  assert.equal(inTransaction.datasetSchema, first.datasetSchema);

  // Another connection to the same database changes one JSON column: the next read parses again.
  await setSelection(other.prisma, 'f', { rule: 'manual', metric: 'logLoss', patience: null });
  const changed = (await findFederation(db.prisma, 'f'))!;
  assert.deepEqual(changed.selection, { rule: 'manual', metric: 'logLoss', patience: null });
  assert.notEqual(changed.datasetSchema, first.datasetSchema);
  assert.deepEqual(changed.datasetSchema, first.datasetSchema);
});

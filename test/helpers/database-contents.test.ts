/**
 * The "database unchanged" check is only as good as its coverage: these tests prove the generic reader
 * (and the database-drawn fingerprint) sees every table and column the migrations create, and that a
 * change to any one column shows in both.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ADMIN_KEY, bearer, createTestApp, setupFederation, type TestApp } from './app.js';
import { catalogColumns, fingerprint, MODEL_NAMES, modelColumns, readEveryRow, snapshot } from './database-contents.js';

let t: TestApp;
before(async () => (t = await createTestApp()));
after(async () => t.close());

test('the snapshot reads every table and every column the database has', async () => {
  assert.deepEqual(modelColumns(), await catalogColumns(t.database));
  assert.deepEqual(Object.keys(await snapshot(t.database)).sort(), [...MODEL_NAMES].sort());
  assert.deepEqual(Object.keys(await fingerprint(t.database)).sort(), [...MODEL_NAMES].sort());
});

test('a change to any single column of any row shows in the snapshot', async () => {
  const { federationId, keys } = await setupFederation(t, 2);
  await t.http.post(`/v1/federations/${federationId}/rounds`).set(bearer(ADMIN_KEY)).send({}).expect(201);
  await t.http.post(`/v1/federations/${federationId}/rounds/1/updates`).set(bearer(keys[0]!)).send({ weights: new Array(44).fill(0.5), numSamples: 3 });
  const rows = await readEveryRow(t.database);
  const before = await snapshot(t.database);
  const printed = await fingerprint(t.database);
  assert.equal(printed.Update!.length, rows.Update!.length, 'the fingerprint has a line per row');
  let mutated = 0;
  for (const [model, list] of Object.entries(rows)) {
    const row = list[0];
    if (!row) continue;
    for (const [column, value] of Object.entries(row)) {
      if (column === 'id') continue;
      const changed = await mutateColumn(model, row.id as string, column, value);
      if (!changed) continue;
      mutated++;
      assert.notDeepEqual(await snapshot(t.database), before, `${model}.${column} changed but the snapshot did not`);
      assert.notDeepEqual(await fingerprint(t.database), printed, `${model}.${column} changed but the fingerprint did not`);
      await restoreColumn(model, row.id as string, column, value);
      assert.deepEqual(await snapshot(t.database), before, `${model}.${column} restored`);
      assert.deepEqual(await fingerprint(t.database), printed, `${model}.${column} restored (fingerprint)`);
    }
  }
  assert.ok(mutated >= 20, `mutated ${mutated} columns`);
});

type Delegate = { update(args: { where: { id: string }; data: Record<string, unknown> }): Promise<unknown> };
const delegate = (model: string) =>
  (t.database.prisma as unknown as Record<string, Delegate>)[model.charAt(0).toLowerCase() + model.slice(1)]!;

/** Sets one column to a different value of its own type; false for a foreign key (the change would not be valid). */
async function mutateColumn(model: string, id: string, column: string, value: unknown): Promise<boolean> {
  if (column.endsWith('Id')) return false;
  let next: unknown;
  if (value instanceof Uint8Array) next = Uint8Array.from([...value, 1]);
  else if (value instanceof Date) next = new Date(value.getTime() + 1000);
  else if (typeof value === 'number') next = value + 1;
  else if (typeof value === 'boolean') next = !value;
  else if (typeof value === 'string') next = `${value}~`;
  else if (value === null) return false;
  else throw new Error(`mutateColumn: unexpected ${typeof value} in ${model}.${column}`);
  await delegate(model).update({ where: { id }, data: { [column]: next } });
  return true;
}

async function restoreColumn(model: string, id: string, column: string, value: unknown): Promise<void> {
  await delegate(model).update({ where: { id }, data: { [column]: value } });
}

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ADMIN_KEY, bearer, createTestApp, crxRecord, setupFederation, snapshot, type TestApp } from '../helpers/app.js';

let t: TestApp;
before(async () => (t = await createTestApp()));
after(async () => t.close());

test('the operator scores records with the latest model; the label column is ignored', async () => {
  const { federationId } = await setupFederation(t, 0);
  const record = crxRecord();
  const withoutLabel = { ...record };
  delete withoutLabel.A16;
  const res = await t.http
    .post(`/v1/federations/${federationId}/predictions`)
    .set(bearer(ADMIN_KEY))
    .send({ records: [record, withoutLabel] })
    .expect(200);
  assert.equal(res.body.modelVersion, 0);
  assert.equal(res.body.predictions.length, 2);
  for (const prediction of res.body.predictions) {
    assert.ok(prediction.score >= 0 && prediction.score <= 1);
    assert.equal(prediction.label, prediction.score >= 0.5);
  }
  assert.equal(res.body.predictions[0].score, res.body.predictions[1].score);
});

test('records that do not fit the schema are refused by index and column', async () => {
  const { federationId, keys } = await setupFederation(t, 1);
  const before = await snapshot(t.database);
  const cases: [Record<string, unknown>, string][] = [
    [{ ...crxRecord(), A4: 'zz' }, 'records.1.A4'],
    [{ ...crxRecord(), A2: '?' }, 'records.1.A2'],
    [{ ...crxRecord(), A2: 'abc' }, 'records.1.A2'],
    [{ ...crxRecord(), NOT_A_COLUMN: 'x' }, 'records.1.NOT_A_COLUMN'],
  ];
  for (const [bad, path] of cases) {
    const res = await t.http
      .post(`/v1/federations/${federationId}/predictions`)
      .set(bearer(ADMIN_KEY))
      .send({ records: [crxRecord(), bad] })
      .expect(422);
    assert.equal(res.body.type, 'https://fedscore.dev/problems/validation-failed');
    assert.deepEqual(res.body.errors.map((e: { path: string }) => e.path), [path]);
  }
  await t.http.post(`/v1/federations/${federationId}/predictions`).set(bearer(ADMIN_KEY)).send({ records: [] }).expect(422);
  await t.http.post(`/v1/federations/${federationId}/predictions`).set(bearer(keys[0]!)).send({ records: [crxRecord()] }).expect(403);
  const missing = await t.http
    .post(`/v1/federations/${federationId}/predictions`)
    .set(bearer(ADMIN_KEY))
    .send({ records: [crxRecord()], modelVersion: 5 })
    .expect(404);
  assert.equal(missing.body.type, 'https://fedscore.dev/problems/model-version-not-found');
  assert.deepEqual(await snapshot(t.database), before);
});

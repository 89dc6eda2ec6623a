import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { findFederation, setStandardisation } from '../../src/db/federations.repository.js';
import { ADMIN_KEY, assertProblem, assertRefused, bearer, createTestApp, crxRecord, crxSchema, federationBody, setupFederation, snapshot, type TestApp } from '../helpers/app.js';

let t: TestApp;
before(async () => (t = await createTestApp()));
after(async () => t.close());

/** Lines of crx.data: positives and negatives, values on both sides of every numeric mean. */
const CRX_LINES = [
  'b,30.83,0,u,g,w,v,1.25,t,t,01,f,g,00202,0,+',
  'a,58.67,4.46,u,g,q,h,3.04,t,t,06,f,g,00043,560,+',
  'b,20.17,5.625,u,g,w,v,1.71,t,f,0,f,s,00120,0,+',
  'a,22.92,11.585,u,g,cc,v,0.04,t,f,0,f,g,00080,1349,+',
  'b,32.33,7.5,u,g,e,bb,1.585,t,f,0,t,s,00420,0,-',
  'a,19.17,0.585,y,p,aa,v,0.585,t,f,0,t,g,00160,0,-',
];
const recordOf = (line: string) => Object.fromEntries(crxSchema.columns.map((column, i) => [column.name, line.split(',')[i]!]));

/**
 * The model's input for one record, computed here from the schema file and the federation's feature
 * names alone — not with the server's encoder — so a wrong encoding, a wrong version or a constant score
 * shows. "A4=u" is a one-hot column, a bare name a numeric (standardised) or binary column.
 */
function encodeIndependently(featureNames: string[], record: Record<string, string>): number[] {
  return featureNames.map((feature) => {
    const [name, category] = feature.split('=') as [string, string | undefined];
    const column = crxSchema.columns.find((c) => c.name === name)!;
    const value = record[name]!;
    if (category !== undefined) return value === category ? 1 : 0;
    if (column.type === 'binary') return column.values.indexOf(value);
    if (column.type === 'numeric') return (Number(value) - column.mean!) / column.std!;
    throw new Error(`encodeIndependently: unexpected column ${name}`);
  });
}

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

/** Publishes version 1 of a logistic regression with weights chosen for its size (one owner, minOwners 1). */
async function publish(weightsFor: (size: number) => number[]) {
  const setup = await setupFederation(t, 1, {
    training: { rounds: 1, localEpochs: 1, batchSize: 8, learningRate: 0.1, minOwners: 1, roundDeadlineSeconds: 600, autoAdvance: false, seed: 1 },
  });
  await t.http.post(`/v1/federations/${setup.federationId}/rounds`).set(bearer(ADMIN_KEY)).send({}).expect(201);
  const weights = weightsFor(setup.featureCount + 1);
  await t.http.post(`/v1/federations/${setup.federationId}/rounds/1/updates`).set(bearer(setup.keys[0]!)).send({ weights, numSamples: 1 }).expect(201);
  const federation = (await t.http.get(`/v1/federations/${setup.federationId}`).set(bearer(ADMIN_KEY)).expect(200)).body;
  return { ...setup, weights, featureNames: federation.featureNames as string[] };
}

test('a trained version scores each record as an independent computation does; the label column is ignored', async () => {
  // Weights of both signs and different sizes on every feature, and a bias: nothing cancels out.
  const { federationId, featureNames, weights } = await publish((size) => Array.from({ length: size }, (_, i) => (((i * 7) % 11) - 5) / 6));
  const size = weights.length;
  assert.equal(featureNames.length, size - 1);
  const records = CRX_LINES.map(recordOf);
  const expected = records.map((record) => {
    const x = encodeIndependently(featureNames, record);
    return sigmoid(x.reduce((sum, xi, i) => sum + xi * Math.fround(weights[i]!), Math.fround(weights[size - 1]!)));
  });
  assert.ok(expected.some((p) => p < 0.4) && expected.some((p) => p > 0.6), `the records should fall on both sides of 0.5: ${expected.map((p) => p.toFixed(3))}`);

  const withoutLabel = records.map(({ A16: _label, ...rest }) => rest);
  for (const [body, what] of [
    [{ records }, 'latest version, with labels'],
    [{ records: withoutLabel, modelVersion: 1 }, 'version 1, without labels'],
  ] as const) {
    const res = await t.http.post(`/v1/federations/${federationId}/predictions`).set(bearer(ADMIN_KEY)).send(body).expect(200);
    assert.equal(res.body.modelVersion, 1, what);
    assert.equal(res.body.predictions.length, records.length, what);
    res.body.predictions.forEach((prediction: { score: number; label: boolean }, i: number) => {
      assert.ok(Math.abs(prediction.score - expected[i]!) < 1e-5, `${what}, record ${i}: ${prediction.score} vs ${expected[i]}`);
      assert.equal(prediction.label, expected[i]! >= 0.5, `${what}, record ${i}: label`);
    });
  }
  // Version 0 is still there, and is the untrained all-zero model.
  const zero = await t.http.post(`/v1/federations/${federationId}/predictions`).set(bearer(ADMIN_KEY)).send({ records, modelVersion: 0 }).expect(200);
  assert.deepEqual(zero.body.predictions.map((p: { score: number }) => p.score), records.map(() => 0.5));
});

test('a federation whose schema declares a signed-log column scores through it; a bad transform is refused', async () => {
  // A15 (amounts up to 1e5) in log units: mean 3, std 3 of sign(x)·ln(1 + |x|).
  const schema = structuredClone(crxSchema);
  schema.columns = schema.columns.map((column) => (column.name === 'A15' ? { name: 'A15', type: 'numeric', transform: 'signed-log', mean: 3, std: 3, range: [0, 100000] } : column));
  const setup = await setupFederation(t, 1, {
    datasetSchema: schema,
    training: { rounds: 1, localEpochs: 1, batchSize: 8, learningRate: 0.1, minOwners: 1, roundDeadlineSeconds: 600, autoAdvance: false, seed: 1 },
  });
  const federation = (await t.http.get(`/v1/federations/${setup.federationId}`).set(bearer(ADMIN_KEY)).expect(200)).body;
  assert.deepEqual(
    federation.datasetSchema.columns.find((c: { name: string }) => c.name === 'A15'),
    { name: 'A15', type: 'numeric', transform: 'signed-log', mean: 3, std: 3, range: [0, 100000] },
  );
  // Weight 1 on A15 alone, no bias: the score is σ((sign(x)·ln(1 + |x|) − 3)/3).
  await t.http.post(`/v1/federations/${setup.federationId}/rounds`).set(bearer(ADMIN_KEY)).send({}).expect(201);
  const weights = (federation.featureNames as string[]).map((name) => (name === 'A15' ? 1 : 0)).concat([0]);
  await t.http.post(`/v1/federations/${setup.federationId}/rounds/1/updates`).set(bearer(setup.keys[0]!)).send({ weights, numSamples: 1 }).expect(201);
  const amounts = ['0', '560', '1349', '-20'];
  const res = await t.http
    .post(`/v1/federations/${setup.federationId}/predictions`)
    .set(bearer(ADMIN_KEY))
    .send({ records: amounts.map((A15) => ({ ...crxRecord(), A15 })) })
    .expect(200);
  const expected = [sigmoid(-1), sigmoid((Math.log(561) - 3) / 3), sigmoid((Math.log(1350) - 3) / 3), sigmoid((-Math.log(21) - 3) / 3)];
  res.body.predictions.forEach((prediction: { score: number }, i: number) => {
    assert.ok(Math.abs(prediction.score - expected[i]!) < 1e-5, `A15 = ${amounts[i]}: ${prediction.score} vs ${expected[i]}`);
  });

  const withColumn = (name: string, column: object) => ({ ...schema, columns: schema.columns.map((c) => (c.name === name ? column : c)) });
  const cases: [object, { path: string; message: string }, string][] = [
    [withColumn('A15', { name: 'A15', type: 'numeric', transform: 'log', mean: 3, std: 3 }), { path: 'body.datasetSchema.columns.14.transform', message: 'Invalid input: expected "signed-log"' }, 'an unknown transform'],
    [withColumn('A1', { name: 'A1', type: 'binary', values: ['b', 'a'], transform: 'signed-log' }), { path: 'body.datasetSchema.columns.0', message: 'Unrecognized key: "transform"' }, 'a transform on a binary column'],
  ];
  for (const [datasetSchema, error, what] of cases) {
    const refused = await assertRefused(t, () => t.http.post('/v1/federations').set(bearer(ADMIN_KEY)).send(federationBody({ datasetSchema })), 422, 'validation-failed', what);
    assert.deepEqual(refused.body.errors, [error], what);
  }
});

test('records that do not fit the schema are refused by index and column', async () => {
  const { federationId, keys } = await setupFederation(t, 1);
  const before = await snapshot(t.database);
  const cases: [Record<string, unknown>, string, string][] = [
    [{ ...crxRecord(), A4: 'zz' }, 'records.1.A4', 'unknown value "zz" (expected one of u, y, l, t)'],
    [{ ...crxRecord(), A2: '?' }, 'records.1.A2', 'missing'],
    [{ ...crxRecord(), A2: 'abc' }, 'records.1.A2', 'not a number: "abc"'],
    [{ ...crxRecord(), NOT_A_COLUMN: 'x' }, 'records.1.NOT_A_COLUMN', 'unknown column "NOT_A_COLUMN"'],
  ];
  for (const [bad, path, message] of cases) {
    const res = await t.http
      .post(`/v1/federations/${federationId}/predictions`)
      .set(bearer(ADMIN_KEY))
      .send({ records: [crxRecord(), bad] })
      .expect(422);
    assertProblem(res, 422, 'validation-failed', path);
    assert.deepEqual(res.body.errors, [{ path, message }]);
  }
  await assertRefused(t, () => t.http.post(`/v1/federations/${federationId}/predictions`).set(bearer(ADMIN_KEY)).send({ records: [] }), 422, 'validation-failed', 'no records');
  await assertRefused(t, () => t.http.post(`/v1/federations/${federationId}/predictions`).set(bearer(keys[0]!)).send({ records: [crxRecord()] }), 403, 'forbidden', 'an owner key');
  await assertRefused(t, () => t.http.post(`/v1/federations/${federationId}/predictions`).send({ records: [crxRecord()] }), 401, 'unauthorized', 'no key');
  await assertRefused(
    t,
    () => t.http.post(`/v1/federations/${federationId}/predictions`).set(bearer(ADMIN_KEY)).send({ records: [crxRecord()], modelVersion: 5 }),
    404,
    'model-version-not-found',
  );
  await assertRefused(t, () => t.http.post('/v1/federations/no-such-federation/predictions').set(bearer(ADMIN_KEY)).send({ records: [crxRecord()] }), 404, 'federation-not-found');
  assert.deepEqual(await snapshot(t.database), before);
});

test('every bad field of every record is listed, with the reason and the value, up to 100', async () => {
  const { federationId } = await setupFederation(t, 1);
  const before = await snapshot(t.database);
  const { A14: _absent, ...withoutA14 } = crxRecord();
  const records = [
    crxRecord(),
    { ...withoutA14, A4: 'zz', A2: 'abc', A1: 'c', NOPE: '1' },
    crxRecord(),
    { ...crxRecord(), A6: 'w'.repeat(60), A9: ' ' },
  ];
  const res = await t.http.post(`/v1/federations/${federationId}/predictions`).set(bearer(ADMIN_KEY)).send({ records }).expect(422);
  assertProblem(res, 422, 'validation-failed');
  assert.deepEqual(res.body.errors, [
    { path: 'records.1.NOPE', message: 'unknown column "NOPE"' },
    { path: 'records.1.A1', message: 'unknown value "c" (expected one of b, a)' },
    { path: 'records.1.A2', message: 'not a number: "abc"' },
    { path: 'records.1.A4', message: 'unknown value "zz" (expected one of u, y, l, t)' },
    { path: 'records.1.A14', message: 'missing' },
    { path: 'records.3.A6', message: `unknown value "${'w'.repeat(40)}"… (expected one of c, d, cc, i, j, k, m, r, q, w, x, e, aa, ff)` },
    { path: 'records.3.A9', message: 'missing' },
  ]);
  assert.equal(res.body.detail, "predict: 7 field(s) in 2 record(s) do not fit the federation's schema");

  // 150 bad records with two problems each: the first 100 problems are listed, the detail counts the rest.
  const many = Array.from({ length: 150 }, () => ({ ...crxRecord(), A2: 'x', A3: 'y' }));
  const capped = await t.http.post(`/v1/federations/${federationId}/predictions`).set(bearer(ADMIN_KEY)).send({ records: many }).expect(422);
  assert.equal(capped.body.errors.length, 100);
  assert.deepEqual(capped.body.errors.slice(98), [
    { path: 'records.49.A2', message: 'not a number: "x"' },
    { path: 'records.49.A3', message: 'not a number: "y"' },
  ]);
  assert.equal(capped.body.detail, "predict: 300 field(s) in 150 record(s) do not fit the federation's schema; errors lists the first 100, 200 more are not shown");
  assert.deepEqual(await snapshot(t.database), before);
});

test('a changed federation is seen by the next prediction, on this instance and on another one over the same database', async () => {
  // Each instance keeps parsed federations and their encoders between requests (federations.repository.ts,
  // frozen-memo.ts); both must notice a change at once. Version 1 scores differently from the all-zero version 0.
  const { federationId } = await publish((size) => Array.from({ length: size }, (_, i) => (i % 3) - 1));
  const other = await t.startAnother();
  try {
    const body = { records: [crxRecord()] };
    const score = async (http: typeof t.http) => (await http.post(`/v1/federations/${federationId}/predictions`).set(bearer(ADMIN_KEY)).send(body).expect(200)).body;
    const first = await score(t.http);
    assert.equal(first.modelVersion, 1);
    assert.notEqual(first.predictions[0].score, 0.5);
    assert.deepEqual(await score(other.http), first);

    // Promoting version 0 on this instance changes the default version and the stored selection rule.
    await t.http.post(`/v1/federations/${federationId}/models/0/promote`).set(bearer(ADMIN_KEY)).send({}).expect(200);
    for (const http of [t.http, other.http]) assert.deepEqual(await score(http), { modelVersion: 0, predictions: [{ score: 0.5, label: true }] });

    // And back, promoted from the other instance.
    await other.http.post(`/v1/federations/${federationId}/models/1/promote`).set(bearer(ADMIN_KEY)).send({}).expect(200);
    for (const http of [t.http, other.http]) assert.deepEqual(await score(http), first);

    // New standardisation statistics, stored by the other instance: the stored schema text changes, so
    // both instances parse it again and build a new encoder.
    const stored = (await findFederation(other.database.prisma, federationId))!;
    const schema = structuredClone(stored.datasetSchema);
    const a3 = schema.columns.find((column) => column.name === 'A3')!;
    assert.equal(a3.type, 'numeric');
    if (a3.type === 'numeric') a3.mean = a3.mean! + 10;
    await setStandardisation(other.database.prisma, federationId, schema, stored.standardisation!);
    const shifted = await score(t.http);
    assert.equal(shifted.modelVersion, 1);
    assert.notEqual(shifted.predictions[0].score, first.predictions[0].score);
    assert.deepEqual(await score(other.http), shifted);
  } finally {
    await other.close();
  }
});

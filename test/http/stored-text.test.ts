/**
 * Free text the server stores cannot carry U+0000: PostgreSQL's text refuses a NUL (the insert failed, a
 * 500) and SQLite kept it silently. Every stored text field refuses it with a 422 that names the field, on
 * both databases, and writes nothing; the same text without the NUL, other unusual characters included,
 * is accepted and read back as sent.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { generateIdentityKeyPair } from '../../src/crypto/identity.js';
import { ADMIN_KEY, assertRefused, bearer, createTestApp, crxSchema, federationBody, setupFederation, sharedData, type TestApp } from '../helpers/app.js';

let t: TestApp;
before(async () => (t = await createTestApp()));
after(async () => t.close());

const NUL = '\u0000';
/** Text that is stored as sent: accents, CJK, an emoji, a right-to-left mark, U+2028. */
const UNUSUAL = 'Zürich 名前 🦊 \u200f\u2028 ok';

/** The validation failure names the field and says what is wrong with it. */
function assertNamesField(res: { body: Record<string, unknown> }, field: string): void {
  const errors = res.body.errors as { path: string; message: string }[] | undefined;
  const error = errors?.find((e) => e.path === field);
  assert.ok(error, `expected an error at ${field}, got ${JSON.stringify(errors)}`);
  assert.match(error.message, /U\+0000/);
}

test('a federation name, a dataset schema’s texts and a named committee’s node names refuse U+0000', async () => {
  const create = (body: object) => () => t.http.post('/v1/federations').set(bearer(ADMIN_KEY)).send(body);
  const cases: [object, string][] = [
    [federationBody({ name: `crx${NUL}` }), 'body.name'],
    [federationBody({ datasetSchema: { ...crxSchema, description: `rows${NUL}` } }), 'body.datasetSchema.description'],
    [federationBody({ datasetSchema: { ...crxSchema, columns: [{ ...crxSchema.columns[0]!, name: `A1${NUL}` }, ...crxSchema.columns.slice(1)] } }), 'body.datasetSchema.columns.0.name'],
    [federationBody({ datasetSchema: { ...crxSchema, missingToken: NUL } }), 'body.datasetSchema.missingToken'],
    [federationBody({ datasetSchema: { ...crxSchema, delimiter: NUL } }), 'body.datasetSchema.delimiter'],
    [federationBody({ datasetSchema: { ...crxSchema, label: { ...crxSchema.label, positive: `+${NUL}` } } }), 'body.datasetSchema.label.positive'],
    [
      federationBody({
        aggregation: 'secure',
        secure: {
          committee: { size: 2, threshold: 2 },
          policy: {
            kind: 'named',
            aggregators: [1, 2].map((i) => ({ name: `node ${i}${NUL}`, identityKey: Buffer.from(generateIdentityKeyPair().publicKey).toString('base64') })),
          },
        },
      }),
      'body.secure.policy.aggregators.0.name',
    ],
  ];
  for (const [body, field] of cases) assertNamesField(await assertRefused(t, create(body), 422, 'validation-failed', field), field);

  const created = await t.http.post('/v1/federations').set(bearer(ADMIN_KEY)).send(federationBody({ name: UNUSUAL })).expect(201);
  assert.equal(created.body.federation.name, UNUSUAL);
  const read = await t.http.get(`/v1/federations/${created.body.federation.id}`).set(bearer(ADMIN_KEY)).expect(200);
  assert.equal(read.body.name, UNUSUAL, 'stored and read back as sent');
});

test('an owner’s name refuses U+0000 at enrolment', async () => {
  const { federationId, enrolmentToken } = await setupFederation(t, 0);
  const enrol = (name: string) => () => t.http.post(`/v1/federations/${federationId}/owners`).send({ enrolmentToken, name });
  for (const name of [NUL, `bank${NUL}`, `${NUL}bank`]) assertNamesField(await assertRefused(t, enrol(name), 422, 'validation-failed', `owner name ${JSON.stringify(name)}`), 'body.name');
  const enrolled = await enrol(UNUSUAL)().expect(201);
  assert.equal(enrolled.body.owner.name, UNUSUAL);
});

test('a scoped key’s label refuses U+0000', async () => {
  const { federationId } = await setupFederation(t, 0);
  const issue = (label: string) => () => t.http.post(`/v1/federations/${federationId}/api-keys`).set(bearer(ADMIN_KEY)).send({ label, scopes: ['read'] });
  assertNamesField(await assertRefused(t, issue(`scoring${NUL}service`), 422, 'validation-failed', 'label'), 'body.label');
  const issued = await issue(` ${UNUSUAL} `)().expect(201);
  assert.equal(issued.body.key.label, UNUSUAL, 'trimmed, otherwise as sent');
});

test('a validation CSV refuses U+0000', async () => {
  const { federationId } = await setupFederation(t, 0);
  const complete = readFileSync(path.join(sharedData, 'crx.data'), 'utf8').split('\n').filter((line) => line && !line.includes('?'));
  const rows = [...complete.filter((line) => line.endsWith('+')).slice(0, 20), ...complete.filter((line) => line.endsWith('-')).slice(0, 20)];
  const put = (csv: string) => () => t.http.put(`/v1/federations/${federationId}/validation`).set(bearer(ADMIN_KEY)).send({ csv });
  const withNul = [...rows.slice(0, 20), rows[20]!.replace(',', `,${NUL}`), ...rows.slice(21)].join('\n') + '\n';
  assertNamesField(await assertRefused(t, put(withNul), 422, 'validation-failed', 'csv'), 'body.csv');
  const attached = await put(rows.join('\n') + '\n')().expect(200);
  assert.equal(attached.body.rows, rows.length);
});

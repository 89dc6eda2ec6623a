/**
 * The leak scanner is what makes "the server stores nothing it should not" a check that can fail: it
 * must find an update stored in each encoding it knows, in each form a column can hold it, and find
 * nothing in values that merely look random.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { candidateSecrets, ENCODINGS, findLeaks, keyProbes, updateProbes, type UpdateUnderTest } from './leak-scan.js';

function update(seed: number, size = 45): UpdateUnderTest {
  let state = seed;
  const next = () => ((state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31 - 0.5);
  return { base: Float32Array.from({ length: size }, () => next() / 10), trained: Float32Array.from({ length: size }, () => next()), numSamples: 7 };
}

test('each encoding is found wherever a column could hold it', () => {
  const u = update(1);
  const probes = updateProbes(u);
  for (const encoding of ENCODINGS) {
    const whole = encoding.whole(u);
    const stored =
      encoding.kind === 'bytes'
        ? [
            ['raw', new Uint8Array(Buffer.concat([randomBytes(5), whole, randomBytes(3)]))],
            ['base64 text', JSON.stringify({ blob: whole.toString('base64') })],
            ['hex text', `prefix:${whole.toString('hex')}`],
          ]
        : [['text', JSON.stringify({ weights: `[${whole.toString('utf8')}]` })]];
    for (const [form, value] of stored) {
      const leaks = findLeaks({ Somewhere: [{ id: 'x', column: value }] }, probes);
      assert.ok(
        leaks.some((leak) => leak.encoding === encoding.name && leak.column === 'column'),
        `${encoding.name} stored as ${String(form)} was not found (found ${JSON.stringify(leaks)})`,
      );
    }
  }
});

test('a prefix of the vector is found too; another update, random bytes and zeros are not', () => {
  const u = update(2);
  const prefix = ENCODINGS[0]!.whole(u).subarray(0, 16);
  assert.equal(findLeaks({ T: [{ id: 'x', c: new Uint8Array(prefix) }] }, updateProbes(u)).length, 1);
  const unrelated = [update(3), update(4)].flatMap((other) => ENCODINGS.filter((e) => e.kind === 'bytes').map((e) => new Uint8Array(e.whole(other))));
  const rows = { T: [...unrelated, randomBytes(4096), new Uint8Array(4096)].map((value, i) => ({ id: String(i), value })) };
  assert.deepEqual(findLeaks(rows, updateProbes(u)), []);
});

test('a private key is found raw, base64, base64url or hex; a stored 32-byte value is a candidate secret', () => {
  const key = randomBytes(32);
  for (const value of [new Uint8Array(key), key.toString('base64'), key.toString('base64url'), `{"k":"${key.toString('hex')}"}`]) {
    assert.equal(findLeaks({ T: [{ id: 'x', value }] }, keyProbes(key)).length > 0, true, String(value));
  }
  const candidates = candidateSecrets({ T: [{ id: 'x', raw: new Uint8Array(key), text: key.toString('base64'), hex: key.toString('hex'), short: new Uint8Array(31) }] });
  assert.deepEqual(
    candidates.map((c) => [c.column, c.bytes.equals(key)]),
    [
      ['raw', true],
      ['text', true],
      ['hex', true],
    ],
  );
});

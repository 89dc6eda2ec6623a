/**
 * The byte-level checks that keep untrusted bytes away from SEAL's trapping loaders: real SEAL objects
 * pass, and every way of lying about a length or a count is refused in JavaScript with a reason.
 */

import assert from 'node:assert/strict';
import zlib from 'node:zlib';
import { after, before, test } from 'node:test';
import type { CipherText } from 'node-seal/implementation/cipher-text.js';
import type { KeyGenerator } from 'node-seal/implementation/key-generator.js';
import { HeInputError } from './errors.js';
import { ckksParamSet } from './params.js';
import { checkCiphertext, checkKeys, HEADER_BYTES, readParams, unwrap, wrap } from './seal-bytes.js';
import {
  acquireContext,
  ciphertextMaxBytes,
  freshCiphertextShape,
  galoisElement,
  getSeal,
  keysShape,
  releaseContext,
  type Seal,
  type SealContext,
} from './seal-runtime.js';

let seal: Seal;
let ctx: SealContext;
let keygen: KeyGenerator;
let fresh: Uint8Array;

const fail = (why: string): HeInputError => new HeInputError('bad-ciphertext', `test: ${why}`);

before(async () => {
  seal = await getSeal();
  ctx = acquireContext(seal, ckksParamSet('n4096'));
  keygen = seal.KeyGenerator(ctx.context);
  const secret = keygen.secretKey();
  const publicKey = keygen.createPublicKey();
  const encryptor = seal.Encryptor(ctx.context, publicKey, secret);
  const plain = ctx.encoder.encode(new Float64Array(ctx.slots).fill(0.5), ctx.scale)!;
  const serializable = encryptor.encryptSymmetricSerializable(plain);
  fresh = serializable.saveArray(seal.ComprModeType.none);
  for (const o of [serializable, plain, encryptor, publicKey, secret]) o.delete();
});

after(() => {
  keygen.delete();
  releaseContext(ctx);
});

const check = (bytes: Uint8Array): void => checkCiphertext(bytes, freshCiphertextShape(ctx), 'bad-ciphertext', 'test:');
const patch = (bytes: Uint8Array, at: number, value: bigint): Uint8Array => {
  const copy = bytes.slice();
  new DataView(copy.buffer).setBigUint64(at, value, true);
  return copy;
};

test('a fresh seeded ciphertext passes, through the zlib wire form too, and SEAL loads what was checked', () => {
  check(fresh);
  const wire = wrap(fresh);
  assert.equal(wire[5], 1, 'compr_mode zlib');
  assert.ok(wire.byteLength < fresh.byteLength * 0.6);
  const back = unwrap(wire, ciphertextMaxBytes(ctx, 3), fail);
  assert.deepEqual(back, fresh);
  const ct: CipherText = seal.CipherText();
  ct.loadArray(ctx.context, back);
  assert.equal(ct.coeffModulusSize, 3);
  ct.delete();
});

test('unwrap refuses truncation, size lies, zstd, foreign headers and zlib bombs', () => {
  const wire = wrap(fresh);
  const max = ciphertextMaxBytes(ctx, 3);
  const cases: [Uint8Array, RegExp][] = [
    [wire.subarray(0, 10), /shorter than a header/],
    [wire.subarray(0, 1000), /declares \d+ bytes, 1000 remain/],
    [patch(wire.subarray(0, 1000), 8, 1000n), /not a valid zlib stream/],
    [patch(wire, 8, BigInt(wire.byteLength - 1)), /declares \d+ bytes but \d+ were sent/],
    [Uint8Array.from([...wire.subarray(0, 5), 2, ...wire.subarray(6)]), /zstd compression is not accepted/],
    [Uint8Array.from([0x5f, ...wire.subarray(1)]), /expected a SEAL header/],
    [Uint8Array.from([...wire.subarray(0, 4), 0, ...wire.subarray(5)]), /expected SEAL 4\.1 serialisation, got 4\.0/],
    [new Uint8Array(5000).fill(7), /expected a SEAL header/],
  ];
  for (const [bytes, pattern] of cases) assert.throws(() => unwrap(bytes, max, fail), pattern);
  const bomb = zlib.deflateSync(new Uint8Array(max * 4));
  const header = patch(wrap(fresh).subarray(0, HEADER_BYTES), 8, BigInt(HEADER_BYTES + bomb.byteLength));
  assert.throws(() => unwrap(Uint8Array.from([...header, ...bomb]), max, fail), /inflates beyond/);
});

test('checkCiphertext refuses every inconsistent length, count or field', () => {
  // Offsets in the uncompressed form: 16 header, 32 parms_id, 1 ntt, then u64 size, N, primes, f64 scale, u64 correction.
  const at = { size: 49, n: 57, primes: 65, scale: 73, correction: 81, arraySize: 97, count: 105 };
  const cases: [Uint8Array, RegExp][] = [
    [fresh.subarray(0, 500), /object declares 98498 bytes, 500 remain/],
    [patch(fresh, 8, 500n).subarray(0, 500), /is truncated/],
    [patch(fresh, 16, 1n), /parms_id mismatch/],
    [patch(fresh, at.size, 3n), /expected ciphertext size 2, got 3/],
    [patch(fresh, at.n, 8192n), /expected N=4096, got 8192/],
    [patch(fresh, at.primes, 2n), /expected 3 primes at this level, got 2/],
    [patch(fresh, at.scale, BigInt.asUintN(64, BigInt(new BigInt64Array(new Float64Array([2 ** 20]).buffer)[0]!))), /expected scale 2\^24, got 2\^20\.00/],
    [patch(fresh, at.correction, 2n), /correction factor 1/],
    [patch(fresh, at.count, 12289n), /data count 12289 is neither 12288 \(seeded\) nor 24576/],
    [patch(fresh, at.count, 2n ** 60n), /declares data count beyond 2\^53/],
    [patch(fresh, at.arraySize, 99n), /ciphertext data: overruns its declared size by 98229 bytes/],
    [Uint8Array.from([...patch(fresh, 8, BigInt(fresh.byteLength + 8)), 0, 0, 0, 0, 0, 0, 0, 0]), /bytes left over inside the object/],
  ];
  for (const [bytes, pattern] of cases) assert.throws(() => check(bytes), pattern);
});

test('checkKeys accepts real Galois and relinearisation keys and reports which elements are present', () => {
  const steps = [1, 2, 8];
  const galois = keygen.createGaloisKeysSerializable(Int32Array.from(steps));
  const bytes = galois.saveArray(seal.ComprModeType.none);
  galois.delete();
  const present = checkKeys(bytes, keysShape(ctx, 'galois'), 'test: the Galois keys');
  assert.deepEqual(present, steps.map((s) => (galoisElement(s, 4096) - 1) / 2).sort((a, b) => a - b));
  const relin = keygen.createRelinKeysSerializable();
  const relinBytes = relin.saveArray(seal.ComprModeType.none);
  relin.delete();
  assert.deepEqual(checkKeys(relinBytes, keysShape(ctx, 'relin'), 'test: relin'), [0]);
  // A nested key cut short, with the outer size patched to match, is caught inside.
  const cut = patch(bytes, 8, BigInt(bytes.byteLength - 100)).subarray(0, bytes.byteLength - 100);
  assert.throws(() => checkKeys(cut, keysShape(ctx, 'galois'), 'test:'), HeInputError);
  assert.throws(() => checkKeys(bytes, keysShape(ctx, 'relin'), 'test:'), /declares key count 4096, at most 1 expected/);
});

test('readParams returns the primes SEAL chose', () => {
  const parms = seal.EncryptionParameters(seal.SchemeType.ckks);
  parms.setPolyModulusDegree(4096);
  const chain = seal.CoeffModulus.Create(4096, Int32Array.from([30, 24, 24, 30]));
  parms.setCoeffModulus(chain);
  chain.delete();
  const parsed = readParams(parms.saveArray(seal.ComprModeType.none), 'test:');
  parms.delete();
  assert.equal(parsed.polyModulusDegree, 4096);
  assert.deepEqual(parsed.primes, ctx.allPrimes);
});

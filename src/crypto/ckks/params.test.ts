/**
 * The parameter check a server runs on client-supplied CKKS parameters: the pinned 128-bit table is
 * SEAL's own, insecure or too-short chains are refused with a reason, and every named set passes and
 * builds a SEAL context.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CKKS_PARAM_SETS, checkCkksParams, ckksParamSet, levelsOf, MAX_COEFF_BITS_128, valueBound } from './params.js';
import { acquireContext, getSeal, releaseContext } from './seal-runtime.js';

test('MAX_COEFF_BITS_128 is SEAL CoeffModulus.MaxBitCount(N, tc128)', async () => {
  const seal = await getSeal();
  for (const [n, bits] of Object.entries(MAX_COEFF_BITS_128)) {
    assert.equal(seal.CoeffModulus.MaxBitCount(Number(n), seal.SecurityLevel.tc128), bits, `N=${n}`);
  }
});

test('named sets pass the check, have the documented levels, and SEAL accepts them at 128 bits', async () => {
  const seal = await getSeal();
  assert.equal(levelsOf(ckksParamSet('n4096')), 2);
  assert.equal(levelsOf(ckksParamSet('n8192')), 3);
  assert.equal(valueBound(ckksParamSet('n4096')), 32);
  for (const name of Object.keys(CKKS_PARAM_SETS) as (keyof typeof CKKS_PARAM_SETS)[]) {
    const params = ckksParamSet(name);
    const check = checkCkksParams(params, { levels: levelsOf(params) });
    assert.ok(check.ok, name);
    const ctx = acquireContext(seal, params);
    assert.equal(ctx.levels.length, levelsOf(params) + 1);
    releaseContext(ctx);
  }
});

test('ckksParamSet returns a copy the caller may change', () => {
  const a = ckksParamSet('n4096');
  a.coeffModulusBits.push(60);
  assert.deepEqual(ckksParamSet('n4096').coeffModulusBits, [30, 24, 24, 30]);
});

const refused = (input: unknown, needs?: Parameters<typeof checkCkksParams>[1]): string => {
  const check = checkCkksParams(input, needs);
  assert.equal(check.ok, false, JSON.stringify(input));
  return (check as { reason: string }).reason;
};

test('refuses a coefficient modulus below 128-bit security, naming both sizes', () => {
  const reason = refused({ polyModulusDegree: 4096, coeffModulusBits: [40, 30, 30, 40], scaleBits: 30 });
  assert.match(reason, /140-bit coefficient modulus is below 128-bit security for N=4096 \(at most 109 bits\)/);
  assert.match(refused({ polyModulusDegree: 8192, coeffModulusBits: [60, 50, 50, 60], scaleBits: 50 }), /below 128-bit security/);
});

test('refuses a chain too short for the model, naming the need', () => {
  const params = { polyModulusDegree: 4096, coeffModulusBits: [30, 24, 30], scaleBits: 24 };
  assert.ok(checkCkksParams(params, { levels: 1 }).ok);
  const reason = refused(params, { levels: 2, what: 'the quadratic MLP' });
  assert.match(reason, /a chain of 1 level is too short: the quadratic MLP needs 2/);
  assert.match(refused(ckksParamSet('n4096'), { levels: 3 }), /chain of 2 levels is too short/);
});

test('refuses malformed or unsafe descriptions with a reason and never throws', () => {
  const base = ckksParamSet('n4096');
  const cases: [unknown, RegExp][] = [
    [null, /expected an object/],
    [[], /expected an object/],
    [{ ...base, extra: 1 }, /unknown field "extra"/],
    [{ ...base, polyModulusDegree: 2048 }, /polyModulusDegree expected one of 4096, 8192, 16384, got 2048/],
    [{ ...base, polyModulusDegree: 32768 }, /polyModulusDegree expected/],
    [{ ...base, polyModulusDegree: '4096' }, /polyModulusDegree expected/],
    [{ ...base, coeffModulusBits: [30, 30] }, /3 to 16 prime sizes/],
    [{ ...base, coeffModulusBits: [30, 24, 24.5, 30] }, /integers in \[20, 60\]/],
    [{ ...base, coeffModulusBits: [30, 24, 24, 61] }, /integers in \[20, 60\]/],
    [{ ...base, scaleBits: 10 }, /scaleBits expected an integer in \[20, 55\]/],
    [{ ...base, coeffModulusBits: [30, 24, 23, 30] }, /every middle prime must have scaleBits \(24\) bits, got 23/],
    [{ ...base, coeffModulusBits: [28, 24, 24, 30] }, /must exceed scaleBits \(24\) by at least 6 bits/],
    [{ ...base, coeffModulusBits: [30, 24, 24, 25] }, /special\) prime \(25 bits\) must be at least as large/],
  ];
  for (const [input, pattern] of cases) assert.match(refused(input), pattern);
});

test('refuses a layout that needs more slots than N/2', () => {
  assert.match(refused(ckksParamSet('n4096'), { levels: 1, slots: 4096, what: 'the layout' }), /needs 4096 slots, N=4096 has 2048/);
});

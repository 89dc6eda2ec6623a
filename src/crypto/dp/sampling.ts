/**
 * Poisson sampling of owners that anyone can check. When a differentially private round opens, the server
 * draws a fresh 32-byte seed and publishes it with the round; owner o takes part iff
 *
 *   uint64(SHA-256("fedscore/poisson-sample/v1" ‖ seed ‖ o)[0..8]) < rate · 2⁶⁴,
 *
 * so each owner is in independently with probability `rate` (SHA-256 as a random oracle), the owner
 * decides for itself, and the server cannot pretend someone was or was not sampled. The privacy
 * amplification the accountant credits (the sampled Gaussian mechanism) assumes exactly this: each
 * owner's participation is an independent coin of known bias.
 */
import { createHash } from 'node:crypto';
import { defaultRandomBytes, type RandomBytes } from '../field.js';

const LABEL = Buffer.from('fedscore/poisson-sample/v1', 'utf8');
const TWO64 = 2n ** 64n;

export function newSamplingSeed(rng: RandomBytes = defaultRandomBytes): string {
  const seed = rng(32);
  if (seed.length !== 32) throw new Error(`newSamplingSeed: rng returned ${seed.length} bytes, expected 32`);
  return Buffer.from(seed).toString('hex');
}

/** Whether `ownerId` is in the round seeded by `seedHex` at sampling rate `rate` (0 < rate ≤ 1). */
export function isSampled(seedHex: string, ownerId: string, rate: number): boolean {
  if (!/^[0-9a-f]{64}$/.test(seedHex)) throw new Error('isSampled: expected a 64-character hex seed');
  if (!(rate > 0 && rate <= 1)) throw new Error(`isSampled: expected a rate in (0, 1], got ${rate}`);
  if (rate === 1) return true;
  const digest = createHash('sha256').update(LABEL).update(Buffer.from(seedHex, 'hex')).update(ownerId, 'utf8').digest();
  // rate · 2⁶⁴ as an exact integer threshold: rates are doubles, so scale by 2⁵³ first.
  const threshold = (BigInt(Math.floor(rate * 2 ** 53)) * TWO64) / 2n ** 53n;
  return digest.readBigUInt64BE(0) < threshold;
}

/**
 * The server's side of secure aggregation (DESIGN protocol 2), pure: naming the frozen included set and
 * turning t partial sums into the decoded sum the strategy aggregates — never one owner's update.
 */
import { createHash } from 'node:crypto';
import { unpackFieldVector } from '../crypto/share-codec.js';
import { reconstructVector } from '../crypto/shamir.js';
import { decodeSecureSumVector, secureVectorLength } from '../crypto/secure-update.js';
import { WIDE_ENCODING, type FixedPointEncoding } from '../crypto/fixed-point.js';
import type { SummedUpdate } from './strategy.js';

/** SHA-256 over the sorted owner ids: committee members and the server agree on exactly which shares are summed. */
export function includedSetHash(ownerIds: string[]): string {
  const hash = createHash('sha256');
  for (const id of [...ownerIds].sort()) hash.update(`${id}\n`);
  return hash.digest('hex');
}

export interface PartialSumInput {
  position: number;
  values: Uint8Array;
}

/**
 * Shamir 1979: any t points fix the polynomial, so any t partial sums reconstruct the sum of all included
 * owners' vectors, which is handed to the strategy as a sum (it never sees one owner's vector).
 */
export function reconstructSum(parameters: number, partials: PartialSumInput[], threshold: number, owners: number, encoding: FixedPointEncoding = WIDE_ENCODING): SummedUpdate {
  if (partials.length < threshold) {
    throw new Error(`reconstructSum: expected at least ${threshold} partial sums, got ${partials.length}`);
  }
  const length = secureVectorLength(parameters);
  const shares = partials.slice(0, threshold).map((p) => ({ x: p.position, values: unpackFieldVector(p.values, length, encoding.field) }));
  const { delta, weight } = decodeSecureSumVector(reconstructVector(shares, threshold, encoding.field), parameters, encoding);
  return { delta, weight, owners };
}

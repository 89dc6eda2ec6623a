/**
 * The server's side of secure aggregation (DESIGN protocol 2), pure: naming the frozen included set and
 * turning t partial sums into the next model. The result is handed to the ordinary strategy as a single
 * update, so a strategy only ever sees the sum — never one owner's update.
 */
import { createHash } from 'node:crypto';
import { unpackFieldVector } from '../crypto/share-codec.js';
import { reconstructVector } from '../crypto/shamir.js';
import { decodeSecureSum, secureVectorLength } from '../crypto/secure-update.js';
import type { ClientUpdate } from './strategy.js';

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
 * owners' vectors. Returns it as one update whose weights are the sample-weighted FedAvg.
 */
export function reconstructAggregate(base: Float32Array, partials: PartialSumInput[], threshold: number): ClientUpdate {
  if (partials.length < threshold) {
    throw new Error(`reconstructAggregate: expected at least ${threshold} partial sums, got ${partials.length}`);
  }
  const length = secureVectorLength(base.length);
  const shares = partials.slice(0, threshold).map((p) => ({ x: p.position, values: unpackFieldVector(p.values, length) }));
  const { weights, totalSamples } = decodeSecureSum(base, reconstructVector(shares, threshold));
  return { weights, numSamples: totalSamples, metrics: {} };
}

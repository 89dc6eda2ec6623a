/**
 * The client's half of secure aggregation (DESIGN protocol 2). An owner clips and encodes its update,
 * splits it into Shamir shares — t−1 of them as 32-byte PRG seeds, the rest as full vectors — and seals
 * one envelope per committee member (all under one ephemeral key: envelope.ts, sealEnvelopes), to the X25519 key the member published for this round; all k go up
 * in one request. Check the committee first (committee-trust.ts): this module seals to whatever keys the
 * round view carries. A committee member opens the envelopes of the frozen included set with its round
 * key, adds the shares and uploads one partial sum. Private keys never leave here.
 */
import { openEnvelope, sealEnvelopes, type X25519KeyPair } from '../crypto/envelope.js';
import { defaultRandomBytes, type RandomBytes } from '../crypto/field.js';
import { encodingNamed, type FieldName, type FixedPointEncoding } from '../crypto/fixed-point.js';
import { encodeDpSecureUpdate, encodeSecureStatistics, encodeSecureUpdate } from '../crypto/secure-update.js';
import { splitVectorCompact } from '../crypto/shamir.js';
import { decodeSharePayload, encodeSharePayload, packFieldVector, sharePayloadValues } from '../crypto/share-codec.js';
import type { InboxBytes, InboxView, RoundView, UploadSharesInput } from './http-client.js';

export interface ShareUpload {
  /** The envelopes as bytes: what FedscoreClient.uploadShares frames and sends. */
  envelopes: { recipientId: string; envelope: Uint8Array }[];
  /** The same envelopes in the JSON form (base64), for curl-like callers and for journalling. */
  body: UploadSharesInput;
  /** Bytes of the envelopes (before any framing or base64), for the upload-expansion figure. */
  envelopeBytes: number;
  clipped: boolean;
}

/** What an owner shares: its training result (training round), or the sums a statistics round (moments) or an evaluation round (tallies) asks for. */
export type ShareContent = { base: Float32Array; trained: Float32Array; numSamples: number } | { sums: Float64Array };

/** What sealing reads of a round: any RoundView is one, and a worker thread is sent no more than this. */
export type SealingRound = Pick<RoundView, 'number' | 'kind' | 'privacy'> & {
  secure: Pick<NonNullable<RoundView['secure']>, 'committee' | 'threshold' | 'vectorLength' | 'clipNorm' | 'field' | 'weightCap'> | null;
};

/** Only what sealing reads of a round view (cloning a whole view to a worker thread costs more than the sealing saves). */
export function sealingRound(round: SealingRound): SealingRound {
  const secure = round.secure && {
    committee: round.secure.committee.map(({ position, ownerId, publicKey }) => ({ position, ownerId, publicKey })) as NonNullable<SealingRound['secure']>['committee'],
    threshold: round.secure.threshold,
    vectorLength: round.secure.vectorLength,
    clipNorm: round.secure.clipNorm,
    field: round.secure.field,
    weightCap: round.secure.weightCap,
  };
  return { number: round.number, kind: round.kind, privacy: round.privacy, secure };
}

export type ShareUploadArgs = { federationId: string; ownerId: string; round: SealingRound; rng?: RandomBytes } & ShareContent;

export function buildShareUpload(args: ShareUploadArgs): ShareUpload {
  const { round } = args;
  const secure = round.secure;
  if (!secure) throw new Error(`buildShareUpload: round ${round.number} is not a secure round`);
  const rng = args.rng ?? defaultRandomBytes;
  const members = secure.committee.length;
  const encoding = encodingNamed(secure.field);
  const { vector, clipped } = secureVector(round, args, encoding, rng);
  if (vector.length !== secure.vectorLength) throw new Error(`buildShareUpload: round ${round.number} takes ${secure.vectorLength} values per share, this owner has ${vector.length}`);
  // Which members get seeds varies per owner, so no member's inbox is all full vectors.
  const positions = secure.committee.map((seat) => seat.position);
  const seeded = pickDistinct(positions, secure.threshold - 1, rng);
  const { seeds, vectors } = splitVectorCompact(vector, secure.threshold, members, seeded, rng, encoding.field);
  const sealed = sealEnvelopes(
    secure.committee.map((seat) => {
      if (seat.publicKey === null) throw new Error(`buildShareUpload: committee seat ${seat.position} of round ${round.number} has no key yet`);
      const seed = seeds.find((s) => s.x === seat.position);
      const plaintext = seed
        ? encodeSharePayload({ kind: 'seed', seed: seed.seed })
        : encodeSharePayload({ kind: 'vector', values: vectors.find((v) => v.x === seat.position)!.values }, encoding.field);
      return {
        plaintext,
        recipientPublicKey: new Uint8Array(Buffer.from(seat.publicKey, 'base64')),
        context: { federationId: args.federationId, roundNumber: round.number, senderId: args.ownerId, recipientId: seat.ownerId },
      };
    }),
    rng,
  );
  const envelopes = secure.committee.map((seat, i) => ({ recipientId: seat.ownerId, envelope: sealed[i]! }));
  const envelopeBytes = sealed.reduce((total, envelope) => total + envelope.length, 0);
  const body = { envelopes: envelopes.map(({ recipientId, envelope }) => ({ recipientId, envelope: Buffer.from(envelope).toString('base64') })) };
  return { envelopes, body, envelopeBytes, clipped };
}

function secureVector(round: SealingRound, content: ShareContent, encoding: FixedPointEncoding, rng: RandomBytes): { vector: Float64Array; clipped: boolean } {
  if ('sums' in content) {
    if (round.kind === 'training') throw new Error(`buildShareUpload: round ${round.number} is a training round: share weights, not sums`);
    return { vector: encodeSecureStatistics(content.sums), clipped: false };
  }
  if (round.kind !== 'training') throw new Error(`buildShareUpload: round ${round.number} is a ${round.kind} round: share its sums, not weights`);
  // A differentially private round: clip to the round's C and add this owner's share of the noise.
  const dp = round.privacy;
  return dp
    ? encodeDpSecureUpdate(content.base, content.trained, dp.clipNorm, dp.noiseStdPerOwner, rng)
    : encodeSecureUpdate(content.base, content.trained, Math.min(content.numSamples, round.secure!.weightCap ?? Infinity), round.secure!.clipNorm, encoding);
}

export interface PartialSumArgs {
  federationId: string;
  memberId: string;
  keys: X25519KeyPair;
  inbox: InboxView | InboxBytes;
  /** The round's field (round view, secure.field); wide unless told. */
  field?: FieldName;
}

/** Opens every envelope in a committee member's inbox and adds the shares: its partial sum, packed in the round's field. */
export function partialSumValues(args: PartialSumArgs): Uint8Array {
  const { inbox } = args;
  const field = encodingNamed(args.field ?? 'wide').field;
  const sum = new Float64Array(inbox.vectorLength);
  for (const item of inbox.envelopes) {
    const envelope = typeof item.envelope === 'string' ? new Uint8Array(Buffer.from(item.envelope, 'base64')) : item.envelope;
    const plaintext = openEnvelope(envelope, args.keys, {
      federationId: args.federationId,
      roundNumber: inbox.roundNumber,
      senderId: item.senderId,
      recipientId: args.memberId,
    });
    field.addVectorInto(sum, sharePayloadValues(decodeSharePayload(plaintext, inbox.vectorLength, field), inbox.vectorLength, field));
  }
  return packFieldVector(sum, field);
}

/** partialSumValues in base64, as the JSON form of POST …/partial-sums takes it. */
export function sumInbox(args: PartialSumArgs): string {
  return Buffer.from(partialSumValues(args)).toString('base64');
}

/** A uniform choice of `count` values (Fisher–Yates on rng bytes, rejection-sampled to avoid modulo bias). */
function pickDistinct(values: number[], count: number, rng: RandomBytes): number[] {
  const pool = [...values];
  for (let i = pool.length - 1; i > 0; i--) {
    const bound = i + 1;
    const limit = Math.floor(2 ** 32 / bound) * bound;
    let draw: number;
    do draw = Buffer.from(rng(4)).readUInt32LE(0);
    while (draw >= limit);
    const j = draw % bound;
    [pool[i], pool[j]] = [pool[j]!, pool[i]!];
  }
  return pool.slice(0, count);
}

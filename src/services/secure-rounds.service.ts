/**
 * Secure rounds (DESIGN protocol 2). Owners upload one encrypted Shamir share per committee member in ONE
 * request, all or nothing; when the round freezes its included set, each member fetches the envelopes
 * addressed to it, sums them locally and uploads one partial sum; t partial sums reconstruct the sum.
 * The server stores ciphertext envelopes and partial sums only, never an owner's update, and every check
 * here runs before anything is written.
 */
import type { Db } from '../db/client.js';
import {
  hasPartialSum,
  hasShares,
  partialSumRows,
  shareEnvelopeRows,
  keySeat,
  listCommitteeSeats,
  listInbox,
  SeatAlreadyKeyed,
  type CommitteeDraw,
  type CommitteeSeatRecord,
  type RoundRecord,
} from '../db/rounds.repository.js';
import { ENVELOPE_VERSION, envelopeOverhead, isValidX25519PublicKey } from '../crypto/envelope.js';
import { ED25519_SIGNATURE_BYTES, verifyCommitteeKey } from '../crypto/identity.js';
import { encodeSharePayload, unpackFieldVector } from '../crypto/share-codec.js';
import { ConflictError, DomainError, ForbiddenError, NotFoundError, ValidationError, type ProblemField } from '../errors.js';
import type { Inbox, Round, UploadSharesBody } from '../schemas/rounds.schema.js';
import { requireOwner } from './auth.service.js';
import { newId, type Principal } from './credentials.js';
import type { FederationsService } from './federations.service.js';
import { secureLengthOf } from './round-core.js';
import { assertCollecting, duplicateSubmission, requireMode, roundNotOpen, type RoundsService } from './rounds.service.js';

export class SecureRoundsService {
  constructor(
    private readonly db: Db,
    private readonly federations: FederationsService,
    private readonly rounds: RoundsService,
  ) {}

  /**
   * A seated member publishes its X25519 key for this round, signed by its identity key. The server checks
   * the signature as every owner will (so a broken key is refused here rather than by each owner), and a
   * seat keeps the first key it gets: the same key again is an idempotent retry, another one a conflict.
   */
  async publishCommitteeKey(principal: Principal, federationId: string, number: number, body: { publicKey: string; signature: string }): Promise<Round> {
    const memberId = requireOwner(principal, federationId, 'publishCommitteeKey');
    const federation = await this.federations.load(federationId);
    requireMode(federation, 'secure', 'publishCommitteeKey');
    const round = await this.rounds.find(federationId, number);
    const seat = await this.seatOf(round, memberId, 'publishCommitteeKey');
    const publicKey = new Uint8Array(Buffer.from(body.publicKey, 'base64'));
    const signature = new Uint8Array(Buffer.from(body.signature, 'base64'));
    const problems: ProblemField[] = [];
    if (!isValidX25519PublicKey(publicKey)) problems.push({ path: 'body.publicKey', message: `expected a valid 32-byte X25519 public key, got ${publicKey.length} bytes` });
    if (signature.length !== ED25519_SIGNATURE_BYTES) problems.push({ path: 'body.signature', message: `expected a ${ED25519_SIGNATURE_BYTES}-byte Ed25519 signature, got ${signature.length} bytes` });
    if (problems.length > 0) throw new ValidationError(`publishCommitteeKey: ${problems.length} problem(s) with the key`, problems);
    const statement = { federationId, roundNumber: number, position: seat.position, memberId, publicKey };
    if (seat.identityKey === null || !verifyCommitteeKey(statement, seat.identityKey, signature)) {
      throw new DomainError('invalid-signature', 'Signature does not verify', 422, `publishCommitteeKey: the signature is not this member's identity signing this key for round ${number}, seat ${seat.position}`, [
        { path: 'body.signature', message: 'does not verify against the identity key the member was seated with' },
      ]);
    }
    if (seat.roundKey !== null) {
      if (Buffer.from(seat.roundKey).equals(Buffer.from(publicKey))) return this.rounds.show(federation, round, principal);
      throw keyAlreadySet(number, seat.position);
    }
    if (round.status !== 'open') throw roundNotOpen('publishCommitteeKey', number, round.status);
    try {
      const keyed = await this.db.$transaction((tx) => keySeat(tx, round.id, seat.position, publicKey, signature, this.rounds.clock()));
      if (!keyed) throw roundNotOpen('publishCommitteeKey', number, 'no longer open');
    } catch (error) {
      if (!(error instanceof SeatAlreadyKeyed)) throw error;
      // A concurrent request keyed the seat first: the same key is the same request, another key a conflict.
      const stored = (await listCommitteeSeats(this.db, round.id)).find((s) => s.position === seat.position)?.roundKey;
      if (!stored || !Buffer.from(stored).equals(Buffer.from(publicKey))) throw keyAlreadySet(number, seat.position);
    }
    this.rounds.watch.notify(federationId);
    return this.rounds.show(federation, await this.rounds.find(federationId, number), principal);
  }

  /** A lottery round's draw: the chain value it revealed and the volunteers it drew from. */
  async committeeDraw(principal: Principal, federationId: string, number: number): Promise<CommitteeDraw> {
    requireOwner(principal, federationId, 'getCommitteeDraw');
    const federation = await this.federations.load(federationId);
    requireMode(federation, 'secure', 'getCommitteeDraw');
    const round = await this.rounds.find(federationId, number);
    if (round.committeeDraw === null) {
      throw new DomainError('committee-draw-not-found', 'Committee draw not found', 404, `round ${number} has no committee draw (its committee is named by the charter, not drawn)`);
    }
    return round.committeeDraw;
  }

  /** An owner's k envelopes, one per committee member, accepted all together or not at all. */
  async uploadShares(principal: Principal, federationId: string, number: number, body: UploadSharesBody): Promise<Round> {
    const ownerId = requireOwner(principal, federationId, 'uploadShares');
    const federation = await this.federations.load(federationId);
    requireMode(federation, 'secure', 'uploadShares');
    // The role came with the caller's key (auth.service); aggregator nodes only sum.
    if (principal.kind === 'owner' && principal.role !== 'owner') throw new ForbiddenError('uploadShares: aggregator nodes hold no data and submit no shares');
    const round = await this.rounds.find(federationId, number);
    assertCollecting(round, this.rounds.clock(), 'uploadShares');
    const seats = await listCommitteeSeats(this.db, round.id);
    if (seats.some((seat) => seat.roundKey === null)) {
      throw new ConflictError(
        'committee-not-keyed',
        'The committee has not published its keys',
        `uploadShares: ${seats.filter((seat) => seat.roundKey === null).length} of round ${number}'s ${seats.length} committee members have not published their signed key yet; wait for the round's tag to change`,
      );
    }
    const length = secureLengthOf(federation, round);
    const envelopes = checkEnvelopes(body, seats, length);
    await this.rounds.core.assertMayContribute(round, ownerId, 'uploadShares');
    if (await hasShares(this.db, round.id, ownerId)) throw duplicateSubmission(number);
    const accepted = await this.rounds.core.accept(federation, round, {
      kind: 'shares',
      rows: shareEnvelopeRows(envelopes.map(({ recipientId, bytes }) => ({ id: newId(), roundId: round.id, senderId: ownerId, recipientId, envelope: bytes }))),
      refuse: { closed: () => roundNotOpen('uploadShares', number, 'no longer collecting'), duplicate: () => duplicateSubmission(number) },
    });
    return this.rounds.show(federation, accepted.round, principal, { submitted: true, seats });
  }

  /** A committee member's envelopes from exactly the frozen included set. */
  async inbox(principal: Principal, federationId: string, number: number): Promise<Inbox> {
    const memberId = requireOwner(principal, federationId, 'getInbox');
    const federation = await this.federations.load(federationId);
    requireMode(federation, 'secure', 'getInbox');
    const round = await this.rounds.find(federationId, number);
    const seat = await this.seatOf(round, memberId, 'getInbox');
    if (round.status !== 'summing') throw notSumming('getInbox', round);
    return {
      roundNumber: round.number,
      position: seat.position,
      includedSetHash: round.includedSetHash!,
      vectorLength: secureLengthOf(federation, round),
      envelopes: (await listInbox(this.db, round.id, memberId)).map((row) => ({
        senderId: row.senderId,
        envelope: Buffer.from(row.envelope).toString('base64'),
      })),
    };
  }

  async uploadPartialSum(
    principal: Principal,
    federationId: string,
    number: number,
    body: { includedSetHash: string; values: string },
  ): Promise<Round> {
    const memberId = requireOwner(principal, federationId, 'uploadPartialSum');
    const federation = await this.federations.load(federationId);
    requireMode(federation, 'secure', 'uploadPartialSum');
    const round = await this.rounds.find(federationId, number);
    const seat = await this.seatOf(round, memberId, 'uploadPartialSum');
    if (round.status !== 'summing') throw notSumming('uploadPartialSum', round);
    if (body.includedSetHash !== round.includedSetHash) {
      throw new ConflictError(
        'included-set-mismatch',
        'Partial sum over the wrong included set',
        `uploadPartialSum: round ${number} sums a different set of owners than this partial sum claims`,
      );
    }
    const length = secureLengthOf(federation, round);
    const values = Buffer.from(body.values, 'base64');
    try {
      unpackFieldVector(values, length);
    } catch (error) {
      throw new DomainError('malformed-partial-sum', 'Malformed partial sum', 422, `uploadPartialSum: ${(error as Error).message}`, [
        { path: 'body.values', message: `expected ${length} packed field elements` },
      ]);
    }
    const duplicate = () =>
      new ConflictError('duplicate-partial-sum', 'Partial sum already uploaded', `uploadPartialSum: this member already uploaded for round ${number}`);
    if (await hasPartialSum(this.db, round.id, memberId)) throw duplicate();
    const accepted = await this.rounds.core.accept(federation, round, {
      kind: 'partial-sum',
      rows: partialSumRows({ id: newId(), roundId: round.id, memberId, position: seat.position, includedSetHash: body.includedSetHash, values: new Uint8Array(values) }),
      refuse: { closed: () => notSumming('uploadPartialSum', round), duplicate },
    });
    return this.rounds.show(federation, accepted.round, principal, { partialSumSubmitted: true });
  }

  private async seatOf(round: RoundRecord, memberId: string, action: string): Promise<CommitteeSeatRecord> {
    const seat = (await listCommitteeSeats(this.db, round.id)).find((s) => s.ownerId === memberId);
    if (!seat) throw new ForbiddenError(`${action}: this owner is not on round ${round.number}'s committee`);
    return seat;
  }
}

/**
 * Structure only — the server cannot read an envelope, but it can insist on exactly one per committee
 * member, each of one of the two sizes a share can have (a PRG seed or a full vector) and of the
 * supported version, so a malformed upload is refused before anything is stored.
 */
function checkEnvelopes(body: UploadSharesBody, seats: CommitteeSeatRecord[], length: number) {
  const members = new Set(seats.map((seat) => seat.ownerId));
  const validSizes = new Set([
    envelopeOverhead() + encodeSharePayload({ kind: 'seed', seed: new Uint8Array(32) }).length,
    envelopeOverhead() + encodeSharePayload({ kind: 'vector', values: new Float64Array(length) }).length,
  ]);
  const problems: ProblemField[] = [];
  const seen = new Set<string>();
  const envelopes = body.envelopes.map((item, i) => {
    const bytes = new Uint8Array(Buffer.from(item.envelope, 'base64'));
    if (!members.has(item.recipientId)) problems.push({ path: `body.envelopes.${i}.recipientId`, message: 'not a member of this round’s committee' });
    else if (seen.has(item.recipientId)) problems.push({ path: `body.envelopes.${i}.recipientId`, message: 'a second envelope for this member' });
    seen.add(item.recipientId);
    if (!validSizes.has(bytes.length)) {
      problems.push({ path: `body.envelopes.${i}.envelope`, message: `expected ${[...validSizes].join(' or ')} bytes, got ${bytes.length}` });
    } else if (bytes[0] !== ENVELOPE_VERSION) {
      problems.push({ path: `body.envelopes.${i}.envelope`, message: `unsupported envelope version ${bytes[0]}` });
    }
    return { recipientId: item.recipientId, bytes };
  });
  if (seen.size !== members.size && problems.length === 0) {
    problems.push({ path: 'body.envelopes', message: `expected one envelope for each of the ${members.size} committee members, got ${body.envelopes.length}` });
  }
  if (problems.length > 0) {
    throw new DomainError('malformed-shares', 'Shares do not fit the round’s committee', 422, `uploadShares: ${problems.length} problem(s) with the envelopes`, problems);
  }
  return envelopes;
}

function keyAlreadySet(number: number, position: number): ConflictError {
  return new ConflictError('committee-key-already-set', 'The seat already has a key', `publishCommitteeKey: seat ${position} of round ${number} already has a different key`);
}

function notSumming(action: string, round: RoundRecord): ConflictError {
  return new ConflictError('round-not-summing', 'The round is not summing', `${action}: round ${round.number} is ${round.status}`);
}

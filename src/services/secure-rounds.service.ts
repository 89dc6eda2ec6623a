/**
 * Secure rounds (DESIGN protocol 2). Owners upload one encrypted Shamir share per committee member in ONE
 * request, all or nothing; when the round freezes its included set, each member fetches the envelopes
 * addressed to it, sums them locally and uploads one partial sum; t partial sums reconstruct the sum.
 * The server stores ciphertext envelopes and partial sums only, never an owner's update, and every check
 * here runs before anything is written. Bodies arrive as bytes whichever wire form carried them (JSON with
 * base64, or the binary framing of src/schemas/secure-frames.ts); an inbox is read either whole (JSON) or
 * as frames streamed page by page from the database.
 */
import type { Db } from '../db/client.js';
import {
  hasPartialSum,
  hasShares,
  partialSumRows,
  shareEnvelopeRows,
  keySeat,
  listCommitteeSeats,
  countInbox,
  listInbox,
  SeatAlreadyKeyed,
  type CommitteeDraw,
  type CommitteeSeatRecord,
  type RoundRecord,
} from '../db/rounds.repository.js';
import { ENVELOPE_VERSION, envelopeOverhead, isValidX25519PublicKey } from '../crypto/envelope.js';
import { ED25519_SIGNATURE_BYTES, verifyCommitteeKey } from '../crypto/identity.js';
import type { PrimeField } from '../crypto/field.js';
import { sharePayloadSizes, unpackFieldVector } from '../crypto/share-codec.js';
import { ConflictError, DomainError, ForbiddenError, NotFoundError, ValidationError, type ProblemField } from '../errors.js';
import type { Inbox, Round } from '../schemas/rounds.schema.js';
import { encodeInboxFrame, encodeInboxHeader } from '../schemas/secure-frames.js';
import { requireOwner } from './auth.service.js';
import { newId, type Principal } from './credentials.js';
import type { FederationsService } from './federations.service.js';
import { roundEncoding, secureLengthOf } from './round-core.js';
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
  async uploadShares(principal: Principal, federationId: string, number: number, envelopes: ShareEnvelopeInput[]): Promise<Round> {
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
    checkEnvelopes(envelopes, seats, length, roundEncoding(federation, round).field);
    await this.rounds.core.assertMayContribute(round, ownerId, 'uploadShares');
    if (await hasShares(this.db, round.id, ownerId)) throw duplicateSubmission(number);
    const accepted = await this.rounds.core.accept(federation, round, {
      kind: 'shares',
      rows: shareEnvelopeRows(envelopes.map(({ recipientId, envelope }) => ({ id: newId(), roundId: round.id, senderId: ownerId, recipientId, envelope }))),
      refuse: { closed: () => roundNotOpen('uploadShares', number, 'no longer collecting'), duplicate: () => duplicateSubmission(number) },
    });
    return this.rounds.show(federation, accepted.round, principal, { submitted: true, seats });
  }

  /** A committee member's envelopes from exactly the frozen included set. */
  async inbox(principal: Principal, federationId: string, number: number): Promise<Inbox> {
    const { round, seat, length } = await this.summingSeat(principal, federationId, number);
    return {
      roundNumber: round.number,
      position: seat.position,
      includedSetHash: round.includedSetHash!,
      vectorLength: length,
      envelopes: (await listInbox(this.db, round.id, seat.ownerId)).map((row) => ({
        senderId: row.senderId,
        envelope: Buffer.from(row.envelope).toString('base64'),
      })),
    };
  }

  /**
   * The same inbox in the binary framing, as a stream of frames: every check runs before the first frame,
   * then a header carrying the envelope count and one frame per envelope, read from the database a page at
   * a time as the reader takes them — about INBOX_PAGE_BYTES of envelopes per page (one envelope when a
   * full vector is larger: ⌈6.5·d⌉ bytes), written as one chunk — so an inbox of thousands of envelopes is
   * never one buffer. If the rows read differ from the count (they cannot while the round is summing), the
   * stream fails and the reader sees a cut body.
   */
  async inboxFrames(principal: Principal, federationId: string, number: number): Promise<AsyncIterable<Uint8Array>> {
    const { federation, round, seat, length } = await this.summingSeat(principal, federationId, number);
    const count = await countInbox(this.db, round.id, seat.ownerId);
    const header = encodeInboxHeader({ roundNumber: round.number, position: seat.position, includedSetHash: round.includedSetHash!, vectorLength: length, count });
    const db = this.db;
    const largest = envelopeOverhead() + Math.max(...sharePayloadSizes(length, roundEncoding(federation, round).field));
    const take = Math.max(1, Math.min(MAX_INBOX_PAGE, Math.floor(INBOX_PAGE_BYTES / largest)));
    return (async function* frames() {
      yield header;
      let sent = 0;
      let after: string | undefined;
      for (;;) {
        const rows = await listInbox(db, round.id, seat.ownerId, { ...(after !== undefined && { after }), take });
        const page: Uint8Array[] = [];
        for (const row of rows) {
          if (++sent > count) break;
          page.push(encodeInboxFrame({ id: row.senderId, envelope: row.envelope }));
        }
        if (page.length > 0) yield page.length === 1 ? page[0]! : Buffer.concat(page);
        if (rows.length < take || sent > count) break;
        after = rows.at(-1)!.senderId;
      }
      if (sent !== count) throw new Error(`getInbox: round ${round.number} seat ${seat.position} announced ${count} envelopes and read ${sent}`);
    })();
  }

  private async summingSeat(principal: Principal, federationId: string, number: number) {
    const memberId = requireOwner(principal, federationId, 'getInbox');
    const federation = await this.federations.load(federationId);
    requireMode(federation, 'secure', 'getInbox');
    const round = await this.rounds.find(federationId, number);
    const seat = await this.seatOf(round, memberId, 'getInbox');
    if (round.status !== 'summing') throw notSumming('getInbox', round);
    return { federation, round, seat, length: secureLengthOf(federation, round) };
  }

  async uploadPartialSum(
    principal: Principal,
    federationId: string,
    number: number,
    body: PartialSumInput,
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
    const { values } = body;
    const malformed = (detail: string) =>
      new DomainError('malformed-partial-sum', 'Malformed partial sum', 422, `uploadPartialSum: ${detail}`, [
        { path: 'body.values', message: `expected ${length} packed field elements` },
      ]);
    if (body.count !== undefined && body.count !== length) throw malformed(`round ${number} sums vectors of ${length} elements, this partial sum has ${body.count}`);
    try {
      unpackFieldVector(values, length, roundEncoding(federation, round).field);
    } catch (error) {
      throw malformed((error as Error).message);
    }
    const duplicate = () =>
      new ConflictError('duplicate-partial-sum', 'Partial sum already uploaded', `uploadPartialSum: this member already uploaded for round ${number}`);
    if (await hasPartialSum(this.db, round.id, memberId)) throw duplicate();
    const accepted = await this.rounds.core.accept(federation, round, {
      kind: 'partial-sum',
      rows: partialSumRows({ id: newId(), roundId: round.id, memberId, position: seat.position, includedSetHash: body.includedSetHash, values }),
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

/** One envelope of an upload, whichever wire form carried it. */
export interface ShareEnvelopeInput {
  recipientId: string;
  envelope: Uint8Array;
}

/** A partial sum as bytes; `count` is the element count the binary framing declares (the JSON form has none). */
export interface PartialSumInput {
  includedSetHash: string;
  values: Uint8Array;
  count?: number;
}

/** Envelope bytes per database read (and per chunk written) while streaming an inbox, and the most rows. */
const INBOX_PAGE_BYTES = 1 << 20;
const MAX_INBOX_PAGE = 1024;

/**
 * Structure only — the server cannot read an envelope, but it can insist on exactly one per committee
 * member, each of one of the sizes a share can have (a PRG seed, a packed full vector, or a full vector in
 * the earlier 7-byte layout an older client may still send) and of the supported version, so a malformed
 * upload is refused before anything is stored.
 */
function checkEnvelopes(envelopes: ShareEnvelopeInput[], seats: CommitteeSeatRecord[], length: number, field: PrimeField): void {
  const members = new Set(seats.map((seat) => seat.ownerId));
  const validSizes = new Set(sharePayloadSizes(length, field).map((size) => envelopeOverhead() + size));
  const problems: ProblemField[] = [];
  const seen = new Set<string>();
  envelopes.forEach(({ recipientId, envelope }, i) => {
    if (!members.has(recipientId)) problems.push({ path: `body.envelopes.${i}.recipientId`, message: 'not a member of this round’s committee' });
    else if (seen.has(recipientId)) problems.push({ path: `body.envelopes.${i}.recipientId`, message: 'a second envelope for this member' });
    seen.add(recipientId);
    if (!validSizes.has(envelope.length)) {
      problems.push({ path: `body.envelopes.${i}.envelope`, message: `expected ${[...validSizes].join(' or ')} bytes, got ${envelope.length}` });
    } else if (envelope[0] !== ENVELOPE_VERSION) {
      problems.push({ path: `body.envelopes.${i}.envelope`, message: `unsupported envelope version ${envelope[0]}` });
    }
  });
  if (seen.size !== members.size && problems.length === 0) {
    problems.push({ path: 'body.envelopes', message: `expected one envelope for each of the ${members.size} committee members, got ${envelopes.length}` });
  }
  if (problems.length > 0) {
    throw new DomainError('malformed-shares', 'Shares do not fit the round’s committee', 422, `uploadShares: ${problems.length} problem(s) with the envelopes`, problems);
  }
}

function keyAlreadySet(number: number, position: number): ConflictError {
  return new ConflictError('committee-key-already-set', 'The seat already has a key', `publishCommitteeKey: seat ${position} of round ${number} already has a different key`);
}

function notSumming(action: string, round: RoundRecord): ConflictError {
  return new ConflictError('round-not-summing', 'The round is not summing', `${action}: round ${round.number} is ${round.status}`);
}

/**
 * Whom an owner trusts with its shares. The server hands out the committee — who sits where, and each
 * member's key for the round — and a malicious server could hand out keys of its own, reorder the seats,
 * replay a key from an earlier round or seat parties of its choosing. So before a single envelope is
 * sealed, the owner checks the committee against what it pinned itself: the federation's charter (its
 * fingerprint compared out of band at enrolment) and, for lottery volunteers, the identity key it first
 * saw for each owner id. Every check here runs on the owner's machine; a failure names what did not hold.
 */
import { charterFingerprint, type Charter } from '../crypto/charter.js';
import { encodingOfCharter } from '../crypto/fixed-point.js';

export { formatFingerprint, parseFingerprint, type Charter } from '../crypto/charter.js';
import { drawCommittee, verifyReveal } from '../crypto/committee-lottery.js';
import { committeeKeyMessage, verifyCommitteeKey } from '../crypto/identity.js';
import type { CommitteeDrawView, RoundView } from './http-client.js';

/** The identity keys an owner has seen for other owners, by owner id (trust on first use). */
export interface IdentityPins {
  get(ownerId: string): string | undefined;
  set(ownerId: string, identityKey: string): Promise<void>;
}

export class MemoryIdentityPins implements IdentityPins {
  readonly #pins = new Map<string, string>();
  get(ownerId: string): string | undefined {
    return this.#pins.get(ownerId);
  }
  async set(ownerId: string, identityKey: string): Promise<void> {
    this.#pins.set(ownerId, identityKey);
  }
}

export interface CommitteeCheck {
  federationId: string;
  /** The charter this owner pinned when it enrolled. */
  charter: Charter;
  round: RoundView;
  /** Lottery policy: the draw's inputs as the server gives them (GET …/committee-draw). */
  draw?: CommitteeDrawView;
  pins: IdentityPins;
}

/** Why an owner refuses to share with a round's committee; null when every check holds. */
export async function committeeProblem(check: CommitteeCheck): Promise<string | null> {
  const { round, charter } = check;
  const secure = round.secure;
  const terms = charter.secure;
  if (!secure || !terms) return `round ${round.number} is not a secure round, but this owner's charter is`;
  if (secure.committee.length !== terms.committee.size) {
    return `round ${round.number} seats ${secure.committee.length} committee members; the charter says ${terms.committee.size}`;
  }
  if (secure.threshold !== terms.committee.threshold) return `round ${round.number} has threshold ${secure.threshold}; the charter says ${terms.committee.threshold}`;
  // The field follows from the charter and the round's kind; a server cannot pick another one.
  const charterField = encodingOfCharter(terms.fieldPrime, terms.fixedPointBits);
  if (!charterField) return `the charter's field (prime ${terms.fieldPrime}, ${terms.fixedPointBits} fractional bits) is not one this client knows`;
  const field = round.kind === 'training' ? charterField.name : 'wide';
  if (secure.field !== field) return `round ${round.number} says its vectors are in the ${secure.field} field; the charter makes a ${round.kind} round's field the ${field} one`;
  const positions = secure.committee.map((seat) => seat.position);
  if (positions.some((position, i) => position !== i + 1)) return `round ${round.number}'s seats are not positions 1 … ${terms.committee.size} in order`;

  const seatingProblem = terms.policy.kind === 'named' ? namedProblem(round, terms.policy.aggregators) : await lotteryProblem(check, terms.policy);
  if (seatingProblem) return seatingProblem;

  for (const seat of secure.committee) {
    if (seat.identityKey === null || seat.publicKey === null || seat.signature === null) return `committee seat ${seat.position} has no signed key for round ${round.number} yet`;
    const statement = {
      federationId: check.federationId,
      roundNumber: round.number,
      position: seat.position,
      memberId: seat.ownerId,
      publicKey: bytes(seat.publicKey),
    };
    if (!verifiedOnce(statement, seat.identityKey, seat.signature)) {
      return `the key of committee seat ${seat.position} (member ${seat.ownerId}) is not signed by that member's identity for round ${round.number}, seat ${seat.position}: it was substituted, replayed or moved`;
    }
  }
  return null;
}

/** Named policy: seat i is the charter's i-th aggregator node, by identity key. */
function namedProblem(round: RoundView, aggregators: { name: string; identityKey: string }[]): string | null {
  for (const seat of round.secure!.committee) {
    const node = aggregators[seat.position - 1]!;
    if (seat.identityKey !== node.identityKey) {
      const named = aggregators.find((a) => a.identityKey === seat.identityKey);
      return named
        ? `committee seat ${seat.position} holds ${named.name}, but the charter puts ${node.name} there`
        : `committee seat ${seat.position} holds an identity the charter does not name (it names ${node.name} for that seat)`;
    }
  }
  return null;
}

/**
 * Lottery policy: the revealed value must hash to the charter's anchor in exactly `round` steps (so the
 * server committed to it before anyone enrolled), the seats must be what that value draws from the
 * listed volunteers, and no volunteer may carry a different identity than this owner saw before.
 */
async function lotteryProblem(check: CommitteeCheck, policy: { chainAnchor: string; chainLength: number }): Promise<string | null> {
  const { round, draw, pins } = check;
  if (!draw) return `round ${round.number}'s committee draw was not available to check`;
  if (round.number > policy.chainLength) return `round ${round.number} is past the lottery chain's ${policy.chainLength} rounds`;
  const reveal = Buffer.from(draw.reveal, 'hex');
  if (reveal.length !== 32 || !verifyReveal(Buffer.from(policy.chainAnchor, 'hex'), reveal, round.number)) {
    return `round ${round.number}'s lottery value does not hash to the charter's commitment: the server did not draw with the value it committed to`;
  }
  for (const volunteer of draw.volunteers) {
    const pinned = pins.get(volunteer.ownerId);
    if (pinned !== undefined && pinned !== volunteer.identityKey) {
      return `volunteer ${volunteer.ownerId} now has a different identity key than this owner saw before: refusing a substituted identity`;
    }
  }
  let drawn;
  try {
    drawn = drawCommittee(
      reveal,
      draw.volunteers.map((v) => ({ ownerId: v.ownerId, identityKey: bytes(v.identityKey) })),
      round.secure!.committee.length,
    );
  } catch (error) {
    return `round ${round.number}'s committee draw cannot be recomputed: ${(error as Error).message}`;
  }
  for (const [i, seat] of round.secure!.committee.entries()) {
    const expected = drawn[i]!;
    if (seat.ownerId !== expected.ownerId || seat.identityKey !== Buffer.from(expected.identityKey).toString('base64')) {
      return `committee seat ${seat.position} is not who the lottery draws for round ${round.number} (it draws ${expected.ownerId}): the server seated the committee itself`;
    }
  }
  for (const volunteer of draw.volunteers) if (pins.get(volunteer.ownerId) === undefined) await pins.set(volunteer.ownerId, volunteer.identityKey);
  return null;
}

/**
 * Signature checks remembered by their exact inputs: verification is a pure function of them, and a
 * process running thousands of owners (a simulation) sees the same committee thousands of times. Bounded,
 * so a long-running agent does not grow it.
 */
const verified = new Map<string, boolean>();
const MAX_REMEMBERED = 4096;

function verifiedOnce(statement: Parameters<typeof verifyCommitteeKey>[0], identityKey: string, signature: string): boolean {
  let message: Uint8Array;
  try {
    message = committeeKeyMessage(statement);
  } catch {
    return false; // a malformed statement (a key of the wrong length, say) is not a signed one
  }
  const key = `${Buffer.from(message).toString('base64')}|${identityKey}|${signature}`;
  let ok = verified.get(key);
  if (ok === undefined) {
    ok = verifyCommitteeKey(statement, bytes(identityKey), bytes(signature));
    if (verified.size >= MAX_REMEMBERED) verified.clear();
    verified.set(key, ok);
  }
  return ok;
}

/** Whether a charter the server shows now is the one this owner pinned. */
export function charterMatches(pinnedFingerprint: string, charter: Charter | null): boolean {
  return charter !== null && charterFingerprint(charter) === pinnedFingerprint;
}

function bytes(base64: string): Uint8Array {
  return new Uint8Array(Buffer.from(base64, 'base64'));
}

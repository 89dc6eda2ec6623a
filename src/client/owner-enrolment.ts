/**
 * Joining a federation, as `fedscore owner enrol` and the simulation both do it: read the federation's
 * charter (no key needed) and check it against the fingerprint the operator gave out of band, if one was
 * given; enrol with the enrolment token (the server answers with this owner's API key, shown once); then
 * — in a secure federation, and for every aggregator node — generate an Ed25519 identity here and register
 * only its public half, offering to serve on committees. The identity signs this party's key for each
 * round it is seated in; its private half never leaves the caller.
 */
import { charterFingerprint, charterProblems, type Charter } from '../crypto/charter.js';
import { generateIdentityKeyPair, type Ed25519KeyPair } from '../crypto/identity.js';

export { generateIdentityKeyPair, type Ed25519KeyPair } from '../crypto/identity.js';
import type { FederationView, FedscoreClient } from './http-client.js';

export interface EnrolOptions {
  /** A client for the server; its key, if any, is not used (enrolment is anonymous). */
  client: FedscoreClient;
  federationId: string;
  enrolmentToken: string;
  name: string;
  role: 'owner' | 'aggregator';
  /** The charter fingerprint the operator gave out of band: enrolment is refused, before anything is sent, if the charter differs. */
  charterFingerprint?: string;
  /** Secure federations: offer to sit on committees (aggregator nodes always do). Default true. */
  committeeVolunteer?: boolean;
  /** Secure federations: register an identity at all (a simulation keys only its first few owners). Default true. */
  registerKey?: boolean;
  /** The charter as already read (a simulation reads it once for all its owners); default: read it here. */
  charter?: { charter: Charter; fingerprint: string };
  /**
   * The federation as already read (a simulation's operator created it, and its thousands of owners need not
   * each fetch the same document); default: read it with the new key, which also shows the key works.
   */
  federation?: FederationView;
  /** An identity made earlier (an aggregator node named in a charter generates its identity before the federation exists). */
  identity?: Ed25519KeyPair;
  /**
   * Called with the new identity before the public key is registered: the API key is shown only once, so
   * `fedscore owner enrol` writes its state file here, and a failure after this point loses nothing.
   */
  persist?(enrolment: Enrolment): Promise<void>;
}

export interface Enrolment {
  ownerId: string;
  apiKey: string;
  /** A client acting as this owner. */
  owner: FedscoreClient;
  federation: FederationView;
  /** The charter as read before enrolling, and its fingerprint computed here. */
  charter: Charter;
  charterFingerprint: string;
  /** Null when no identity was registered (plain federations' data owners). */
  identity: Ed25519KeyPair | null;
  committeeVolunteer: boolean;
}

/** The charter does not match the fingerprint the owner was given, or is not a charter at all: nothing was sent. */
export class CharterMismatchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CharterMismatchError';
  }
}

/** Reads a federation's charter and computes its fingerprint here (the server's own figure is not trusted). */
export async function readCharter(client: FedscoreClient, federationId: string): Promise<{ charter: Charter; fingerprint: string }> {
  const { charter } = await client.getCharter(federationId);
  const problems = charterProblems(charter as Charter);
  if (problems.length > 0) throw new CharterMismatchError(`federation ${federationId}'s charter is not valid: ${problems[0]!.path}: ${problems[0]!.message}`);
  return { charter: charter as Charter, fingerprint: charterFingerprint(charter as Charter) };
}

export async function enrolOwner(options: EnrolOptions): Promise<Enrolment> {
  const { charter, fingerprint } = options.charter ?? (await readCharter(options.client, options.federationId));
  if (options.charterFingerprint !== undefined && options.charterFingerprint !== fingerprint) {
    throw new CharterMismatchError(
      `federation ${options.federationId}'s charter has fingerprint ${fingerprint}, not the ${options.charterFingerprint} you were given: not enrolling. ` +
        'Ask the operator, over a channel you trust, which is right',
    );
  }
  const enrolled = await options.client.enrolOwner(options.federationId, {
    enrolmentToken: options.enrolmentToken,
    name: options.name,
    role: options.role,
  });
  const owner = options.client.withApiKey(enrolled.apiKey);
  const federation = options.federation ?? (await owner.getFederation(options.federationId));
  const aggregator = options.role === 'aggregator';
  // Under a named committee only the charter's aggregator nodes serve: a data owner has no seat to sign for.
  const lottery = charter.secure?.policy.kind === 'lottery';
  const wantsKey = aggregator || (lottery && options.registerKey !== false);
  const enrolment: Enrolment = {
    ownerId: enrolled.owner.id,
    apiKey: enrolled.apiKey,
    owner,
    federation,
    charter,
    charterFingerprint: fingerprint,
    identity: wantsKey ? (options.identity ?? generateIdentityKeyPair()) : null,
    committeeVolunteer: wantsKey && (aggregator || options.committeeVolunteer !== false),
  };
  await options.persist?.(enrolment);
  if (enrolment.identity) await registerIdentity(enrolment.owner, federation.id, enrolment.ownerId, enrolment.identity, enrolment.committeeVolunteer);
  return enrolment;
}

/** Registers (again) the public half of a party's identity key; the server refuses a different one. */
export async function registerIdentity(owner: FedscoreClient, federationId: string, ownerId: string, identity: Ed25519KeyPair, committeeVolunteer: boolean): Promise<void> {
  await owner.registerIdentity(federationId, ownerId, { identityKey: Buffer.from(identity.publicKey).toString('base64'), committeeVolunteer });
}

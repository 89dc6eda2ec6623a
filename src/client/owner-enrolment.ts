/**
 * Joining a federation, as `fedscore owner enrol` and the simulation both do it: enrol with the
 * enrolment token (the server answers with this owner's API key, shown once), then — in a secure
 * federation, and for every aggregator node — generate an X25519 key pair here and register only its
 * public half, offering to serve on committees. The private key never leaves the caller.
 */
import { generateX25519KeyPair, type X25519KeyPair } from '../crypto/envelope.js';
import type { FederationView, FedscoreClient } from './http-client.js';

export interface EnrolOptions {
  /** A client for the server; its key, if any, is not used (enrolment is anonymous). */
  client: FedscoreClient;
  federationId: string;
  enrolmentToken: string;
  name: string;
  role: 'owner' | 'aggregator';
  /** Secure federations: offer to sit on committees (aggregator nodes always do). Default true. */
  committeeVolunteer?: boolean;
  /** Secure federations: register a key at all (a simulation keys only its first few owners). Default true. */
  registerKey?: boolean;
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
  /** Null when no key was registered (plain federations' data owners). */
  keys: X25519KeyPair | null;
  committeeVolunteer: boolean;
}

export async function enrolOwner(options: EnrolOptions): Promise<Enrolment> {
  const enrolled = await options.client.enrolOwner(options.federationId, {
    enrolmentToken: options.enrolmentToken,
    name: options.name,
    role: options.role,
  });
  const owner = options.client.withApiKey(enrolled.apiKey);
  const federation = await owner.getFederation(options.federationId);
  const aggregator = options.role === 'aggregator';
  const wantsKey = aggregator || (federation.aggregation === 'secure' && options.registerKey !== false);
  const enrolment: Enrolment = {
    ownerId: enrolled.owner.id,
    apiKey: enrolled.apiKey,
    owner,
    federation,
    keys: wantsKey ? generateX25519KeyPair() : null,
    committeeVolunteer: wantsKey && (aggregator || options.committeeVolunteer !== false),
  };
  await options.persist?.(enrolment);
  if (enrolment.keys) await registerKey(enrolment.owner, federation.id, enrolment.ownerId, enrolment.keys, enrolment.committeeVolunteer);
  return enrolment;
}

/** Registers (again) the public half of an owner's X25519 key; the server keeps the latest. */
export async function registerKey(owner: FedscoreClient, federationId: string, ownerId: string, keys: X25519KeyPair, committeeVolunteer: boolean): Promise<void> {
  await owner.registerPublicKey(federationId, ownerId, { publicKey: Buffer.from(keys.publicKey).toString('base64'), committeeVolunteer });
}

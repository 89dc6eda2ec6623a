/**
 * Committee members for HTTP tests: each registers an Ed25519 identity, and when seated publishes an
 * X25519 key for the round signed by it — what `OwnerAgent` does, done with supertest. A member reuses
 * one X25519 key across rounds here (the signature still binds each round); real agents make a new one.
 */
import type supertest from 'supertest';
import type { RoundView } from '../../src/client/http-client.js';
import { generateX25519KeyPair, type X25519KeyPair } from '../../src/crypto/envelope.js';
import { generateIdentityKeyPair, signCommitteeKey, type Ed25519KeyPair } from '../../src/crypto/identity.js';
import { bearer } from './app.js';

export interface CommitteeParty {
  ownerId: string;
  apiKey: string;
  identity: Ed25519KeyPair;
  /** The X25519 key this party publishes for every round it is seated in. */
  roundKey: X25519KeyPair;
}

/** Registers an identity for the owner (volunteering for committees unless told not to). */
export async function registerParty(http: supertest.Agent, federationId: string, ownerId: string, apiKey: string, committeeVolunteer = true): Promise<CommitteeParty> {
  const identity = generateIdentityKeyPair();
  await http
    .put(`/v1/federations/${federationId}/owners/${ownerId}/identity`)
    .set(bearer(apiKey))
    .send({ identityKey: Buffer.from(identity.publicKey).toString('base64'), committeeVolunteer })
    .expect(200);
  return { ownerId, apiKey, identity, roundKey: generateX25519KeyPair() };
}

/** The body a party sends to publish its key for a seat. */
export function committeeKeyBody(federationId: string, roundNumber: number, position: number, party: CommitteeParty, roundKey: X25519KeyPair = party.roundKey) {
  const statement = { federationId, roundNumber, position, memberId: party.ownerId, publicKey: roundKey.publicKey };
  return { publicKey: Buffer.from(roundKey.publicKey).toString('base64'), signature: Buffer.from(signCommitteeKey(statement, party.identity)).toString('base64') };
}

/** Every seated party publishes its signed key; returns the round as the server then shows it (keyed). */
export async function keyCommittee(http: supertest.Agent, federationId: string, round: RoundView, parties: Map<string, CommitteeParty>): Promise<RoundView> {
  let latest = round;
  for (const seat of round.secure!.committee) {
    const party = parties.get(seat.ownerId);
    if (!party) throw new Error(`keyCommittee: seat ${seat.position} holds ${seat.ownerId}, who is not one of the test's parties`);
    latest = (
      await http
        .put(`/v1/federations/${federationId}/rounds/${round.number}/committee-key`)
        .set(bearer(party.apiKey))
        .send(committeeKeyBody(federationId, round.number, seat.position, party))
        .expect(200)
    ).body as RoundView;
  }
  return latest;
}

/**
 * API keys, enrolment tokens and the principals they identify. Keys are 256-bit random strings with a
 * readable prefix; only their SHA-256 is stored, which is enough for keys this long (no password
 * stretching needed), and lookups go by hash so no stored key is ever compared in the clear.
 */
import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';

export type Principal =
  /** keyId: "env" for ADMIN_API_KEY, else the id of the stored operator key. */
  | { kind: 'operator'; keyId: string }
  | { kind: 'owner'; ownerId: string; federationId: string; role: 'owner' | 'aggregator' }
  | { kind: 'anonymous' };

export type SecretKind = 'operator' | 'owner' | 'enrolment';

const prefixes: Record<SecretKind, string> = { operator: 'fso_', owner: 'fsk_', enrolment: 'fse_' };

export function newSecret(kind: SecretKind): string {
  return prefixes[kind] + randomBytes(32).toString('base64url');
}

export function secretKind(secret: string): SecretKind | undefined {
  return (Object.keys(prefixes) as SecretKind[]).find((kind) => secret.startsWith(prefixes[kind]));
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

export function secretsEqual(a: string, b: string): boolean {
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());
}

/** Short, URL-safe, unguessable identifiers. */
export function newId(): string {
  return randomUUID();
}

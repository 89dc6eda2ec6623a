/**
 * API keys, enrolment tokens and the principals they identify. Keys are 256-bit random strings with a
 * readable prefix (fso_ operator, fsl_ scoped, fsk_ owner, fse_ enrolment); only their SHA-256 is stored, which is enough for keys this long (no password
 * stretching needed), and lookups go by hash so no stored key is ever compared in the clear.
 */
import { createHash, hash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';

/**
 * What a scoped key may do in its one federation: `predict` scores plain records, `he-predict` opens
 * encrypted-prediction sessions and scores in them, `read` reads the federation, its rounds and its
 * model versions' metadata (never weights, owners or the validation set).
 */
export type Scope = 'predict' | 'he-predict' | 'read';
export const SCOPES: readonly Scope[] = ['predict', 'he-predict', 'read'];

export type Principal =
  /** keyId: "env" for ADMIN_API_KEY, else the id of the stored operator key. */
  | { kind: 'operator'; keyId: string }
  | { kind: 'owner'; ownerId: string; federationId: string; role: 'owner' | 'aggregator' }
  /** A key the operator issued for one federation and some scopes (a lender's scoring system, a dashboard). */
  | { kind: 'scoped'; keyId: string; federationId: string; scopes: Scope[] }
  /** The Prometheus scraper, holding METRICS_TOKEN: it belongs to no federation and may only read the metrics. */
  | { kind: 'metrics' }
  | { kind: 'anonymous' };

export type SecretKind = 'operator' | 'owner' | 'enrolment' | 'scoped';

const prefixes: Record<SecretKind, string> = { operator: 'fso_', owner: 'fsk_', enrolment: 'fse_', scoped: 'fsl_' };

export function newSecret(kind: SecretKind): string {
  return prefixes[kind] + randomBytes(32).toString('base64url');
}

export function secretKind(secret: string): SecretKind | undefined {
  return (Object.keys(prefixes) as SecretKind[]).find((kind) => secret.startsWith(prefixes[kind]));
}

export function hashSecret(secret: string): string {
  return secretDigest(secret).toString('hex');
}

/** The SHA-256 of a secret's UTF-8 bytes; hashSecret is its hex. One-shot: a fraction of createHash's cost. */
export function secretDigest(secret: string): Buffer {
  return hash('sha256', secret, 'buffer');
}

/** Two SHA-256 digests, compared in constant time. */
export function digestsEqual(a: Buffer, b: Buffer): boolean {
  return a.length === 32 && b.length === 32 && timingSafeEqual(a, b);
}

/** Two lowercase hex SHA-256 digests, compared in constant time. */
export function hashesEqual(a: string, b: string): boolean {
  return digestsEqual(Buffer.from(a, 'hex'), Buffer.from(b, 'hex'));
}

/** Scopes as stored (a JSON array); anything unrecognised is dropped, so a damaged row grants less, never more. */
export function parseScopes(stored: string | null): Scope[] {
  if (stored === null) return [];
  try {
    const parsed: unknown = JSON.parse(stored);
    return Array.isArray(parsed) ? SCOPES.filter((scope) => parsed.includes(scope)) : [];
  } catch {
    return [];
  }
}

export function secretsEqual(a: string, b: string): boolean {
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());
}

/** Short, URL-safe, unguessable identifiers. */
export function newId(): string {
  return randomUUID();
}

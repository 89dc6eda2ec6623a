/**
 * A federation's charter: the one document that fixes its aggregation mode, its secure-aggregation
 * parameters and who may sit on its committees — named aggregators with pinned Ed25519 identity keys
 * (identity.ts), or a lottery whose hash-chain anchor is committed here (committee-lottery.ts). Owners
 * pin its fingerprint, SHA-256 over a canonical JSON form, and compare it out of band (read aloud in
 * groups of four), so a server cannot show different owners different rules, or change them later.
 * The canonical form follows RFC 8785 (JCS) for the values a charter holds: object members sorted by
 * the UTF-16 code units of their names, no whitespace, strings and numbers as ECMAScript's
 * JSON.stringify writes them (RFC 8785 §3.2.2). A fingerprint does not vouch for validity: check
 * charterProblems first.
 */
import { createHash } from 'node:crypto';
import { MAX_CHAIN_LENGTH } from './committee-lottery.js';
import { isValidIdentityPublicKey } from './identity.js';

export type CommitteePolicy =
  | { kind: 'named'; aggregators: { name: string; /** base64 of a 32-byte Ed25519 public key */ identityKey: string }[] }
  | { kind: 'lottery'; /** 64 lowercase hex characters: the hash-chain anchor */ chainAnchor: string; chainLength: number };

export interface Charter {
  version: 1;
  aggregation: 'plain' | 'secure';
  secure: null | {
    committee: { size: number; threshold: number };
    clipNorm: number;
    fixedPointBits: number;
    /** Decimal, so it survives JSON whatever its size. */
    fieldPrime: string;
    summingDeadlineSeconds: number;
    policy: CommitteePolicy;
  };
}

export interface CharterProblem {
  path: string;
  message: string;
}

const where = (path: string) => (path === '' ? 'the top level' : path);
const join = (path: string, key: string | number) => (path === '' ? String(key) : `${path}.${key}`);

function describe(value: unknown): string {
  if (value === null || typeof value === 'number' || typeof value === 'boolean' || value === undefined) return String(value);
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') {
    const prototype = Object.getPrototypeOf(value);
    return prototype === Object.prototype || prototype === null ? 'an object' : `a ${prototype?.constructor?.name ?? 'non-plain object'}`;
  }
  return `a ${typeof value}`;
}

function canonical(value: unknown, path: string, ancestors: Set<object>): string {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw new Error(`canonicalJson: expected a finite number at ${where(path)}, got ${value}`);
      return JSON.stringify(value); // RFC 8785 §3.2.2.3: ECMAScript Number serialisation; −0 becomes 0
    case 'object': {
      if (value === null) return 'null';
      if (ancestors.has(value)) throw new Error(`canonicalJson: circular reference at ${where(path)}`);
      ancestors.add(value);
      let out: string;
      if (Array.isArray(value)) {
        const items: string[] = [];
        for (let i = 0; i < value.length; i++) {
          if (!(i in value)) throw new Error(`canonicalJson: expected a JSON value at ${where(join(path, i))}, got a hole in the array`);
          items.push(canonical(value[i], join(path, i), ancestors));
        }
        out = `[${items.join(',')}]`;
      } else {
        const prototype = Object.getPrototypeOf(value);
        if (prototype !== Object.prototype && prototype !== null) {
          throw new Error(`canonicalJson: expected a plain object at ${where(path)}, got ${describe(value)}`);
        }
        const record = value as Record<string, unknown>;
        // Default sort compares UTF-16 code units, which is what RFC 8785 §3.2.3 asks for.
        const keys = Object.keys(record).sort();
        out = `{${keys.map((key) => `${JSON.stringify(key)}:${canonical(record[key], join(path, key), ancestors)}`).join(',')}}`;
      }
      ancestors.delete(value);
      return out;
    }
    default:
      throw new Error(`canonicalJson: expected a JSON value at ${where(path)}, got ${describe(value)}`);
  }
}

/**
 * Deterministic JSON (see the file comment). Throws, naming the path, on anything JSON cannot carry
 * faithfully: undefined, functions, symbols, bigints, non-finite numbers, array holes, non-plain
 * objects (Date, Map, typed arrays, class instances) and cycles.
 */
export function canonicalJson(value: unknown): string {
  return canonical(value, '', new Set());
}

/** Lowercase hex SHA-256 of the charter's canonical JSON in UTF-8: what owners pin. */
export function charterFingerprint(charter: Charter): string {
  return createHash('sha256').update(canonicalJson(charter), 'utf8').digest('hex');
}

/** 64 lowercase hex characters, or null: accepts any case and any whitespace or ':' between digits. */
export function parseFingerprint(text: string): string | null {
  if (typeof text !== 'string') return null;
  const digits = text.replace(/[\s:]+/g, '').toLowerCase();
  return /^[0-9a-f]{64}$/.test(digits) ? digits : null;
}

/** Sixteen groups of four lowercase hex digits separated by spaces, for comparing out of band. */
export function formatFingerprint(hex: string): string {
  const digits = parseFingerprint(hex);
  if (digits === null) {
    throw new Error(`formatFingerprint: expected a SHA-256 fingerprint (64 hex digits), got ${typeof hex === 'string' ? `${hex.length} characters` : typeof hex}`);
  }
  return digits.match(/.{4}/g)!.join(' ');
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const isPositiveInteger = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 1;

/** A charter fixes everything it says; a field no version defines would be fingerprinted but ignored. */
function unknownFields(record: Record<string, unknown>, path: string, known: string[], problems: CharterProblem[]): void {
  for (const key of Object.keys(record)) if (!known.includes(key)) problems.push({ path: join(path, key), message: 'unknown field' });
}

/** Strict base64 (RFC 4648 §4, padded, canonical) of exactly 32 bytes, or undefined. */
function decodeKey(text: unknown): Buffer | undefined {
  if (typeof text !== 'string' || !/^[A-Za-z0-9+/]{43}=$/.test(text)) return undefined;
  const bytes = Buffer.from(text, 'base64');
  return bytes.length === 32 && bytes.toString('base64') === text ? bytes : undefined;
}

function policyProblems(policy: unknown, size: unknown, problems: CharterProblem[]): void {
  const path = 'secure.policy';
  if (!isRecord(policy)) {
    problems.push({ path, message: `expected a committee policy, got ${describe(policy)}` });
    return;
  }
  if (policy.kind === 'lottery') {
    unknownFields(policy, path, ['kind', 'chainAnchor', 'chainLength'], problems);
    if (typeof policy.chainAnchor !== 'string' || !/^[0-9a-f]{64}$/.test(policy.chainAnchor)) {
      problems.push({ path: `${path}.chainAnchor`, message: 'expected 64 lowercase hex characters (a 32-byte hash-chain anchor)' });
    }
    if (!isPositiveInteger(policy.chainLength) || policy.chainLength > MAX_CHAIN_LENGTH) {
      problems.push({ path: `${path}.chainLength`, message: `expected a positive integer of at most ${MAX_CHAIN_LENGTH}, got ${describe(policy.chainLength)}` });
    }
    return;
  }
  if (policy.kind !== 'named') {
    problems.push({ path: `${path}.kind`, message: `expected 'named' or 'lottery', got ${JSON.stringify(policy.kind) ?? 'undefined'}` });
    return;
  }
  unknownFields(policy, path, ['kind', 'aggregators'], problems);
  const aggregators = policy.aggregators;
  if (!Array.isArray(aggregators)) {
    problems.push({ path: `${path}.aggregators`, message: `expected an array of aggregators, got ${describe(aggregators)}` });
    return;
  }
  if (isPositiveInteger(size) && aggregators.length !== size) {
    problems.push({ path: `${path}.aggregators`, message: `expected ${size} aggregators (the committee size), got ${aggregators.length}` });
  }
  const names = new Map<string, number>();
  const keys = new Map<string, number>();
  aggregators.forEach((aggregator: unknown, i) => {
    const at = `${path}.aggregators.${i}`;
    if (!isRecord(aggregator)) {
      problems.push({ path: at, message: `expected an aggregator { name, identityKey }, got ${describe(aggregator)}` });
      return;
    }
    unknownFields(aggregator, at, ['name', 'identityKey'], problems);
    const { name, identityKey } = aggregator;
    if (typeof name !== 'string' || name.trim() === '') {
      problems.push({ path: `${at}.name`, message: 'expected a non-empty name' });
    } else if (names.has(name)) {
      problems.push({ path: `${at}.name`, message: `duplicate aggregator name: aggregators ${names.get(name)} and ${i}` });
    } else {
      names.set(name, i);
    }
    const key = decodeKey(identityKey);
    if (!key || !isValidIdentityPublicKey(key)) {
      problems.push({ path: `${at}.identityKey`, message: 'expected the base64 of a valid 32-byte Ed25519 public key' });
    } else if (keys.has(key.toString('hex'))) {
      problems.push({ path: `${at}.identityKey`, message: `duplicate identity key: aggregators ${keys.get(key.toString('hex'))} and ${i}` });
    } else {
      keys.set(key.toString('hex'), i);
    }
  });
}

function secureProblems(secure: Record<string, unknown>, problems: CharterProblem[]): void {
  unknownFields(secure, 'secure', ['committee', 'clipNorm', 'fixedPointBits', 'fieldPrime', 'summingDeadlineSeconds', 'policy'], problems);
  const committee = secure.committee;
  let size: unknown;
  if (!isRecord(committee)) {
    problems.push({ path: 'secure.committee', message: `expected { size, threshold }, got ${describe(committee)}` });
  } else {
    unknownFields(committee, 'secure.committee', ['size', 'threshold'], problems);
    size = committee.size;
    const { threshold } = committee;
    // Shamir 1979: with t = 1 each member would hold the secret itself; with k = 1 there is no committee.
    if (!isPositiveInteger(size) || size < 2) problems.push({ path: 'secure.committee.size', message: `expected an integer of at least 2, got ${describe(size)}` });
    if (!isPositiveInteger(threshold) || threshold < 2) {
      problems.push({ path: 'secure.committee.threshold', message: `expected an integer of at least 2, got ${describe(threshold)}` });
    } else if (isPositiveInteger(size) && threshold > size) {
      problems.push({ path: 'secure.committee.threshold', message: 'threshold must not exceed the committee size' });
    }
  }
  const { clipNorm, fixedPointBits, fieldPrime, summingDeadlineSeconds } = secure;
  if (typeof clipNorm !== 'number' || !Number.isFinite(clipNorm) || clipNorm <= 0) {
    problems.push({ path: 'secure.clipNorm', message: `expected a positive finite number, got ${describe(clipNorm)}` });
  }
  if (!isPositiveInteger(fixedPointBits)) problems.push({ path: 'secure.fixedPointBits', message: `expected a positive integer, got ${describe(fixedPointBits)}` });
  // One spelling per prime, so one prime cannot give two fingerprints.
  if (typeof fieldPrime !== 'string' || !/^[1-9][0-9]*$/.test(fieldPrime) || BigInt(fieldPrime) < 3n) {
    problems.push({ path: 'secure.fieldPrime', message: 'expected a decimal integer of at least 3 without leading zeros' });
  }
  if (!isPositiveInteger(summingDeadlineSeconds)) {
    problems.push({ path: 'secure.summingDeadlineSeconds', message: `expected a positive integer, got ${describe(summingDeadlineSeconds)}` });
  }
  policyProblems(secure.policy, size, problems);
}

/**
 * Every reason `charter` is not a valid charter, each with the dotted path of the field at fault; empty
 * when it is valid. Tolerates any input shape (a charter arrives as JSON from elsewhere).
 */
export function charterProblems(charter: Charter): CharterProblem[] {
  const problems: CharterProblem[] = [];
  const input: unknown = charter;
  if (!isRecord(input)) return [{ path: '', message: `expected a charter object, got ${describe(input)}` }];
  unknownFields(input, '', ['version', 'aggregation', 'secure'], problems);
  if (input.version !== 1) problems.push({ path: 'version', message: `expected version 1, got ${describe(input.version)}` });
  const { aggregation, secure } = input;
  if (aggregation !== 'plain' && aggregation !== 'secure') {
    problems.push({ path: 'aggregation', message: `expected 'plain' or 'secure', got ${JSON.stringify(aggregation) ?? 'undefined'}` });
  }
  if (aggregation === 'plain' && secure !== null) problems.push({ path: 'secure', message: "must be null when aggregation is 'plain'" });
  if (aggregation === 'secure' && secure === null) problems.push({ path: 'secure', message: "expected secure-aggregation parameters when aggregation is 'secure'" });
  if (secure !== null) {
    if (isRecord(secure)) secureProblems(secure, problems);
    else if (aggregation !== 'plain') problems.push({ path: 'secure', message: `expected an object or null, got ${describe(secure)}` });
  }
  return problems;
}

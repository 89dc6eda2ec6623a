/**
 * Looks for an owner's update, or a committee member's private key, anywhere the server stores anything.
 * An update can leak in many encodings — float32 or float64 weights or deltas, the fixed-point integers
 * secure mode encodes them to, those integers as packed field elements, as 64-bit integers or as
 * doubles, or as decimal text in a JSON column — and a stored value can be raw bytes, base64 or hex text.
 * The encodings are written out here independently of src/crypto (only the field prime is shared), so a
 * change to the product's codecs cannot quietly change what is searched for.
 */
import { FIELD_PRIME } from '../../src/crypto/field.js';
import type { Row } from './database-contents.js';

export interface UpdateUnderTest {
  /** The round's base model and the owner's locally trained weights. */
  base: Float32Array;
  trained: Float32Array;
  numSamples: number;
}

export interface Leak {
  table: string;
  column: string;
  /** Which encoding of the update (or which form of the key) was found. */
  encoding: string;
  /** How the stored value was read: raw bytes, UTF-8 text, base64 or hex. */
  readAs: string;
}

type Encoding = { name: string; kind: 'bytes' | 'text'; whole: (u: UpdateUnderTest) => Buffer; window: (u: UpdateUnderTest, from: number, count: number) => Buffer };

const SCALE = 2 ** 20;
const P = FIELD_PRIME;

const delta = (u: UpdateUnderTest) => Float64Array.from(u.trained, (w, i) => w - u.base[i]!);
const weightedDelta = (u: UpdateUnderTest) => Float64Array.from(delta(u), (d) => d * u.numSamples);
/** round(x·2^20) half away from zero, as a signed integer: the fixed-point units. */
const fixedUnits = (values: Float64Array) => Array.from(values, (x) => Math.sign(x) * Math.round(Math.abs(x) * SCALE));
/** The units as elements of GF(p): negatives wrap to p − |units|. */
const fieldElements = (values: Float64Array) => fixedUnits(values).map((units) => (units < 0 ? P + units : units));

function float32le(values: ArrayLike<number>): Buffer {
  const out = Buffer.alloc(values.length * 4);
  for (let i = 0; i < values.length; i++) out.writeFloatLE(values[i]!, i * 4);
  return out;
}
function float32be(values: ArrayLike<number>): Buffer {
  const out = Buffer.alloc(values.length * 4);
  for (let i = 0; i < values.length; i++) out.writeFloatBE(values[i]!, i * 4);
  return out;
}
function float64le(values: ArrayLike<number>): Buffer {
  const out = Buffer.alloc(values.length * 8);
  for (let i = 0; i < values.length; i++) out.writeDoubleLE(values[i]!, i * 8);
  return out;
}
function int64le(values: number[]): Buffer {
  const out = Buffer.alloc(values.length * 8);
  for (let i = 0; i < values.length; i++) out.writeBigInt64LE(BigInt(values[i]!), i * 8);
  return out;
}
function int32le(values: number[]): Buffer {
  const out = Buffer.alloc(values.length * 4);
  for (let i = 0; i < values.length; i++) out.writeInt32LE(values[i]!, i * 4);
  return out;
}
/** 7 little-endian bytes per element: how field vectors travelled and were stored before the 52-bit packing. */
function packed56(values: number[]): Buffer {
  const out = Buffer.alloc(values.length * 7);
  for (let i = 0; i < values.length; i++) {
    out.writeUIntLE(values[i]! % 2 ** 48, i * 7, 6);
    out.writeUInt8(Math.floor(values[i]! / 2 ** 48), i * 7 + 6);
  }
  return out;
}
/** 52 bits per element as one little-endian integer (share-codec.ts): how field vectors travel and are stored. */
function packed52(values: number[]): Buffer {
  const out = Buffer.alloc(Math.ceil((values.length * 52) / 8));
  for (let i = 0; i < values.length; i += 2) {
    let x = BigInt(values[i]!) | (BigInt(values[i + 1] ?? 0) << 52n);
    for (let o = (i / 2) * 13; o < Math.min(out.length, (i / 2) * 13 + 13); o++, x >>= 8n) out[o] = Number(x & 0xffn);
  }
  return out;
}

/** packed52 windows start at an even coordinate (a byte boundary) and end at the last byte that is theirs alone. */
const packed52Encoding: Encoding = {
  name: 'field elements, packed 52 bits LE',
  kind: 'bytes',
  whole: (u) => packed52(fieldElements(weightedDelta(u))),
  window: (u, from, count) => {
    const start = from - (from % 2);
    const n = count + (from % 2);
    return packed52(fieldElements(weightedDelta(u)).slice(start, start + n)).subarray(0, Math.floor((n * 52) / 8));
  },
};

const decimalText = (values: ArrayLike<number>) => Buffer.from(Array.from(values, (v) => JSON.stringify(v)).join(','), 'utf8');

/** A vector in one encoding: `window` encodes coordinates [from, from + count) the same way `whole` does. */
function vectorEncoding(name: string, kind: 'bytes' | 'text', vector: (u: UpdateUnderTest) => number[] | Float64Array | Float32Array, encode: (values: number[]) => Buffer): Encoding {
  return {
    name,
    kind,
    whole: (u) => encode(Array.from(vector(u))),
    window: (u, from, count) => encode(Array.from(vector(u)).slice(from, from + count)),
  };
}

/**
 * Every encoding searched for. The secure vector an owner shares is [n·Δ₁ … n·Δ_d, n] in fixed point;
 * weights and deltas are searched as well, in both float widths, because a leak may happen before encoding.
 */
export const ENCODINGS: Encoding[] = [
  vectorEncoding('float32 LE weights', 'bytes', (u) => u.trained, float32le),
  vectorEncoding('float32 BE weights', 'bytes', (u) => u.trained, float32be),
  vectorEncoding('float64 LE weights', 'bytes', (u) => Float64Array.from(u.trained), float64le),
  vectorEncoding('float32 LE delta', 'bytes', delta, float32le),
  vectorEncoding('float64 LE delta', 'bytes', delta, float64le),
  vectorEncoding('float64 LE sample-weighted delta', 'bytes', weightedDelta, float64le),
  vectorEncoding('fixed point, signed int32 LE', 'bytes', (u) => fixedUnits(weightedDelta(u)), int32le),
  vectorEncoding('fixed point, signed int64 LE', 'bytes', (u) => fixedUnits(weightedDelta(u)), int64le),
  packed52Encoding,
  vectorEncoding('field elements, packed 7 bytes LE', 'bytes', (u) => fieldElements(weightedDelta(u)), packed56),
  vectorEncoding('field elements, uint64 LE', 'bytes', (u) => fieldElements(weightedDelta(u)), int64le),
  vectorEncoding('field elements, float64 LE', 'bytes', (u) => fieldElements(weightedDelta(u)), float64le),
  vectorEncoding('weights as decimal text (float32 values)', 'text', (u) => u.trained, decimalText),
  vectorEncoding('delta as decimal text', 'text', delta, decimalText),
  vectorEncoding('fixed point as decimal text', 'text', (u) => fixedUnits(weightedDelta(u)), decimalText),
  vectorEncoding('field elements as decimal text', 'text', (u) => fieldElements(weightedDelta(u)), decimalText),
];

/** How many consecutive coordinates make a probe: enough to be unmistakable, few enough to catch a partial leak. */
const PROBE_COORDINATES = 3;

/**
 * Probes for one update: several windows of consecutive coordinates in every encoding. Windows whose
 * values are all zero are skipped (zeros are everywhere). Several windows, so that a leak of part of the
 * vector is found too.
 */
export function updateProbes(update: UpdateUnderTest): { encoding: string; bytes: Buffer }[] {
  const d = update.trained.length;
  const probes: { encoding: string; bytes: Buffer }[] = [];
  const starts = [0, Math.floor(d / 3), Math.floor((2 * d) / 3), Math.max(0, d - PROBE_COORDINATES)];
  const deltas = delta(update);
  for (const encoding of ENCODINGS) {
    for (const from of new Set(starts)) {
      if (Array.from(deltas.subarray(from, from + PROBE_COORDINATES)).every((x) => x === 0)) continue;
      probes.push({ encoding: encoding.name, bytes: encoding.window(update, from, PROBE_COORDINATES) });
    }
  }
  return probes;
}

/** The byte strings a stored value could hide something in: itself, and text decoded as base64 or hex. */
function readings(value: unknown): { readAs: string; bytes: Buffer }[] {
  if (value instanceof Uint8Array) return [{ readAs: 'bytes', bytes: Buffer.from(value) }];
  if (typeof value !== 'string') return [];
  const out = [{ readAs: 'text', bytes: Buffer.from(value, 'utf8') }];
  // Base64 and hex runs inside text (a JSON document can hold either); short runs carry no vector.
  for (const run of value.match(/[A-Za-z0-9+/_-]{16,}={0,2}/g) ?? []) out.push({ readAs: 'base64 text', bytes: Buffer.from(run, run.includes('-') || run.includes('_') ? 'base64url' : 'base64') });
  for (const run of value.match(/(?:[0-9a-fA-F]{2}){8,}/g) ?? []) out.push({ readAs: 'hex text', bytes: Buffer.from(run, 'hex') });
  return out;
}

/** Every stored value, in every reading, searched for every probe. */
export function findLeaks(rows: Record<string, Row[]>, probes: { encoding: string; bytes: Buffer }[]): Leak[] {
  const leaks: Leak[] = [];
  for (const [table, list] of Object.entries(rows)) {
    for (const row of list) {
      for (const [column, value] of Object.entries(row)) {
        for (const { readAs, bytes } of readings(value)) {
          for (const probe of probes) {
            if (bytes.includes(probe.bytes)) leaks.push({ table, column, encoding: probe.encoding, readAs });
          }
        }
      }
    }
  }
  return dedupe(leaks);
}

/** A private key in any of the forms a careless implementation would store it. */
export function keyProbes(privateKey: Uint8Array): { encoding: string; bytes: Buffer }[] {
  const raw = Buffer.from(privateKey);
  return [
    { encoding: 'private key, raw', bytes: raw },
    { encoding: 'private key, base64', bytes: Buffer.from(raw.toString('base64'), 'utf8') },
    { encoding: 'private key, base64url', bytes: Buffer.from(raw.toString('base64url'), 'utf8') },
    { encoding: 'private key, hex', bytes: Buffer.from(raw.toString('hex'), 'utf8') },
  ];
}

/** Every 32-byte value stored anywhere (raw, or text that decodes to 32 bytes): the candidate secrets. */
export function candidateSecrets(rows: Record<string, Row[]>): { table: string; column: string; bytes: Buffer }[] {
  const out: { table: string; column: string; bytes: Buffer }[] = [];
  for (const [table, list] of Object.entries(rows)) {
    for (const row of list) {
      for (const [column, value] of Object.entries(row)) {
        for (const { bytes } of readings(value)) if (bytes.length === 32) out.push({ table, column, bytes });
      }
    }
  }
  return out;
}

function dedupe(leaks: Leak[]): Leak[] {
  const seen = new Set<string>();
  return leaks.filter((leak) => {
    const key = `${leak.table}.${leak.column}/${leak.encoding}/${leak.readAs}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

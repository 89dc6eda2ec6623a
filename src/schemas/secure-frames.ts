/**
 * The binary bodies of secure rounds (application/octet-stream), part of the wire contract shared by the
 * server and the client SDK; base64 JSON is the form for curl and Swagger UI. Every integer is unsigned
 * little-endian (as in ciphertext-frames.ts), every body opens with a format version byte (1), and an
 * identifier is a 1-byte length and that many ASCII bytes ([A-Za-z0-9_-], 1 to 64). A decoder names
 * what is wrong with the framing (a truncated frame, a wrong count or length, trailing bytes), never the
 * bytes; what the framing cannot know (which committee, how many elements a round's vector has) the
 * service checks.
 *
 *   share upload  = version ‖ u16 count ‖ count × (id recipientId ‖ u32 length ‖ envelope)
 *   inbox         = version ‖ u32 roundNumber ‖ u16 position ‖ includedSetHash (32 raw bytes)
 *                   ‖ u32 vectorLength ‖ u32 count ‖ count × (id senderId ‖ u32 length ‖ envelope)
 *   partial sum   = version ‖ includedSetHash (32 raw bytes) ‖ u32 count ‖ count field elements packed
 *                   in the round's field (src/crypto/share-codec.ts): 52 bits each in the wide field,
 *                   ⌈6.5·count⌉ bytes, or 37 in the compact one, ⌈4.625·count⌉ bytes; which one the
 *                   round's field is, the service checks
 *
 * The inbox is written frame by frame (a header, then one frame per envelope), so a server can stream it
 * from the database; its count comes first, so a reader tells a complete inbox from a cut one.
 */

export const SECURE_FRAMES_VERSION = 1;
/** The most envelopes one share upload may carry: the largest committee. */
export const MAX_SHARE_FRAMES = 64;
const HASH_BYTES = 32;
const ID = /^[A-Za-z0-9_-]{1,64}$/;

export interface EnvelopeFrame {
  /** recipientId in an upload, senderId in an inbox. */
  id: string;
  envelope: Uint8Array;
}

export interface InboxHeader {
  roundNumber: number;
  position: number;
  /** 64 lowercase hex characters (SHA-256), as in the JSON form. */
  includedSetHash: string;
  vectorLength: number;
  count: number;
}

export interface PartialSumFrame {
  includedSetHash: string;
  count: number;
  /** The packed field elements: ⌈6.5·count⌉ bytes (wide field) or ⌈4.625·count⌉ (compact). */
  values: Uint8Array;
}

/** Bits per element in the two fields (src/crypto/field.ts, compact-field.ts). */
export const ELEMENT_BITS = { wide: 52, compact: 37 } as const;

/** Bytes of `count` field elements packed `bits` each (the wide field's 52 unless told). */
export function packedValueBytes(count: number, bits: number = ELEMENT_BITS.wide): number {
  return Math.ceil((count * bits) / 8);
}

/** Whether `bytes` is the packed length of `count` elements in either field (for count ≥ 1 the two differ). */
function isPackedLength(bytes: number, count: number): boolean {
  return bytes === packedValueBytes(count, ELEMENT_BITS.wide) || bytes === packedValueBytes(count, ELEMENT_BITS.compact);
}

class Writer {
  readonly bytes: Uint8Array;
  readonly #view: DataView;
  #offset = 0;
  constructor(length: number) {
    this.bytes = new Uint8Array(length);
    this.#view = new DataView(this.bytes.buffer);
  }
  u8(x: number) {
    this.#view.setUint8(this.#offset, x);
    this.#offset += 1;
  }
  u16(x: number) {
    this.#view.setUint16(this.#offset, x, true);
    this.#offset += 2;
  }
  u32(x: number) {
    this.#view.setUint32(this.#offset, x, true);
    this.#offset += 4;
  }
  raw(bytes: Uint8Array) {
    this.bytes.set(bytes, this.#offset);
    this.#offset += bytes.length;
  }
  id(fn: string, value: string) {
    if (!ID.test(value)) throw new Error(`${fn}: expected an identifier of 1 to 64 characters [A-Za-z0-9_-]`);
    this.u8(value.length);
    this.raw(Buffer.from(value, 'latin1'));
  }
}

class Reader {
  readonly #bytes: Uint8Array;
  readonly #view: DataView;
  #offset = 0;
  constructor(
    readonly fn: string,
    bytes: Uint8Array,
  ) {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  #need(n: number, what: string) {
    if (this.#offset + n > this.#bytes.byteLength) {
      throw new Error(`${this.fn}: truncated: ${what} needs ${n} bytes at offset ${this.#offset}, the body has ${this.#bytes.byteLength}`);
    }
  }
  u8(what: string) {
    this.#need(1, what);
    return this.#view.getUint8(this.#offset++);
  }
  u16(what: string) {
    this.#need(2, what);
    const x = this.#view.getUint16(this.#offset, true);
    this.#offset += 2;
    return x;
  }
  u32(what: string) {
    this.#need(4, what);
    const x = this.#view.getUint32(this.#offset, true);
    this.#offset += 4;
    return x;
  }
  /** A copy, never a view of the body. */
  raw(n: number, what: string): Uint8Array {
    this.#need(n, what);
    const out = new Uint8Array(n);
    out.set(this.#bytes.subarray(this.#offset, this.#offset + n));
    this.#offset += n;
    return out;
  }
  /** Everything left, as a copy. */
  rest(): Uint8Array {
    return this.raw(this.#bytes.byteLength - this.#offset, 'the rest');
  }
  id(what: string): string {
    const length = this.u8(`the length of ${what}`);
    const value = Buffer.from(this.raw(length, what)).toString('latin1');
    if (!ID.test(value)) throw new Error(`${this.fn}: ${what} is not an identifier of 1 to 64 characters [A-Za-z0-9_-]`);
    return value;
  }
  version() {
    const version = this.u8('the format version');
    if (version !== SECURE_FRAMES_VERSION) throw new Error(`${this.fn}: unsupported format version ${version}, expected ${SECURE_FRAMES_VERSION}`);
  }
  hash(): string {
    return Buffer.from(this.raw(HASH_BYTES, 'includedSetHash')).toString('hex');
  }
  end(what: string) {
    const left = this.#bytes.byteLength - this.#offset;
    if (left !== 0) throw new Error(`${this.fn}: ${left} trailing bytes after ${what}`);
  }
}

function hashBytes(fn: string, hex: string): Uint8Array {
  if (!/^[0-9a-f]{64}$/.test(hex)) throw new Error(`${fn}: expected includedSetHash as 64 lowercase hex characters`);
  return Buffer.from(hex, 'hex');
}

const frameBytes = (item: EnvelopeFrame) => 1 + item.id.length + 4 + item.envelope.byteLength;

export function encodeShareUpload(items: EnvelopeFrame[]): Uint8Array {
  if (items.length < 1 || items.length > MAX_SHARE_FRAMES) throw new Error(`encodeShareUpload: expected 1 to ${MAX_SHARE_FRAMES} envelopes, got ${items.length}`);
  const out = new Writer(1 + 2 + items.reduce((sum, item) => sum + frameBytes(item), 0));
  out.u8(SECURE_FRAMES_VERSION);
  out.u16(items.length);
  for (const item of items) {
    out.id('encodeShareUpload', item.id);
    out.u32(item.envelope.byteLength);
    out.raw(item.envelope);
  }
  return out.bytes;
}

export function decodeShareUpload(bytes: Uint8Array): EnvelopeFrame[] {
  const r = new Reader('decodeShareUpload', bytes);
  r.version();
  const count = r.u16('the envelope count');
  if (count < 1 || count > MAX_SHARE_FRAMES) throw new Error(`decodeShareUpload: expected 1 to ${MAX_SHARE_FRAMES} envelopes, got ${count}`);
  const items: EnvelopeFrame[] = [];
  for (let i = 0; i < count; i++) {
    const id = r.id(`recipientId ${i}`);
    items.push({ id, envelope: r.raw(r.u32(`the length of envelope ${i}`), `envelope ${i}`) });
  }
  r.end(`${count} envelopes`);
  return items;
}

export function encodeInboxHeader(header: InboxHeader): Uint8Array {
  const out = new Writer(1 + 4 + 2 + HASH_BYTES + 4 + 4);
  out.u8(SECURE_FRAMES_VERSION);
  out.u32(header.roundNumber);
  out.u16(header.position);
  out.raw(hashBytes('encodeInboxHeader', header.includedSetHash));
  out.u32(header.vectorLength);
  out.u32(header.count);
  return out.bytes;
}

/** One envelope of an inbox, as it follows the header. */
export function encodeInboxFrame(item: EnvelopeFrame): Uint8Array {
  const out = new Writer(frameBytes(item));
  out.id('encodeInboxFrame', item.id);
  out.u32(item.envelope.byteLength);
  out.raw(item.envelope);
  return out.bytes;
}

export function decodeInbox(bytes: Uint8Array): Omit<InboxHeader, 'count'> & { envelopes: EnvelopeFrame[] } {
  const r = new Reader('decodeInbox', bytes);
  r.version();
  const roundNumber = r.u32('roundNumber');
  const position = r.u16('position');
  const includedSetHash = r.hash();
  const vectorLength = r.u32('vectorLength');
  const count = r.u32('the envelope count');
  const envelopes: EnvelopeFrame[] = [];
  for (let i = 0; i < count; i++) {
    const id = r.id(`senderId ${i}`);
    envelopes.push({ id, envelope: r.raw(r.u32(`the length of envelope ${i}`), `envelope ${i}`) });
  }
  r.end(`${count} envelopes`);
  return { roundNumber, position, includedSetHash, vectorLength, envelopes };
}

export function encodePartialSum(frame: PartialSumFrame): Uint8Array {
  if (!isPackedLength(frame.values.byteLength, frame.count)) {
    throw new Error(
      `encodePartialSum: expected ${packedValueBytes(frame.count)} (wide) or ${packedValueBytes(frame.count, ELEMENT_BITS.compact)} (compact) bytes for ${frame.count} elements, got ${frame.values.byteLength}`,
    );
  }
  const out = new Writer(1 + HASH_BYTES + 4 + frame.values.byteLength);
  out.u8(SECURE_FRAMES_VERSION);
  out.raw(hashBytes('encodePartialSum', frame.includedSetHash));
  out.u32(frame.count);
  out.raw(frame.values);
  return out.bytes;
}

export function decodePartialSum(bytes: Uint8Array): PartialSumFrame {
  const r = new Reader('decodePartialSum', bytes);
  r.version();
  const includedSetHash = r.hash();
  const count = r.u32('the element count');
  const values = r.rest();
  if (!isPackedLength(values.byteLength, count)) {
    throw new Error(
      `decodePartialSum: ${count} packed elements take ${packedValueBytes(count)} bytes (wide field) or ${packedValueBytes(count, ELEMENT_BITS.compact)} (compact field), the body has ${values.byteLength} after the header`,
    );
  }
  return { includedSetHash, count, values };
}

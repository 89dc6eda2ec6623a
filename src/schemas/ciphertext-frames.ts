/**
 * The binary body of encrypted predictions (application/octet-stream): a 4-byte little-endian count, then
 * each ciphertext as a 4-byte little-endian length and its bytes. Part of the wire contract, shared by
 * the server and the client SDK; base64 JSON is the fallback.
 */

export const MAX_FRAMES = 4096;

export function encodeFrames(items: Uint8Array[]): Uint8Array {
  const total = 4 + items.reduce((sum, item) => sum + 4 + item.byteLength, 0);
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  view.setUint32(0, items.length, true);
  let offset = 4;
  for (const item of items) {
    view.setUint32(offset, item.byteLength, true);
    out.set(item, offset + 4);
    offset += 4 + item.byteLength;
  }
  return out;
}

/** Throws a message naming what is wrong with the framing (never the bytes). */
export function decodeFrames(bytes: Uint8Array): Uint8Array[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.byteLength < 4) throw new Error(`decodeFrames: expected at least 4 bytes, got ${bytes.byteLength}`);
  const count = view.getUint32(0, true);
  if (count === 0 || count > MAX_FRAMES) throw new Error(`decodeFrames: expected 1 to ${MAX_FRAMES} ciphertexts, got ${count}`);
  const items: Uint8Array[] = [];
  let offset = 4;
  for (let i = 0; i < count; i++) {
    if (offset + 4 > bytes.byteLength) throw new Error(`decodeFrames: truncated before ciphertext ${i}`);
    const length = view.getUint32(offset, true);
    if (offset + 4 + length > bytes.byteLength) throw new Error(`decodeFrames: ciphertext ${i} claims ${length} bytes, the body ends first`);
    items.push(bytes.subarray(offset + 4, offset + 4 + length));
    offset += 4 + length;
  }
  if (offset !== bytes.byteLength) throw new Error(`decodeFrames: ${bytes.byteLength - offset} trailing bytes after ${count} ciphertexts`);
  return items;
}

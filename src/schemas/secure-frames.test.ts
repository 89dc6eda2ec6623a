/** The binary framings of secure rounds: round trips, pinned layout, and every framing error named. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeInbox, decodePartialSum, decodeShareUpload, encodeInboxFrame, encodeInboxHeader, encodePartialSum, encodeShareUpload, packedValueBytes } from './secure-frames.js';

const items = [
  { id: 'a', envelope: Uint8Array.of(1, 2, 3) },
  { id: 'owner_2-x', envelope: new Uint8Array(0) },
];

test('share uploads round-trip; the layout is version, u16 count, then id and u32 length per envelope', () => {
  const bytes = encodeShareUpload(items);
  assert.equal(Buffer.from(bytes).toString('hex'), '01' + '0200' + '0161' + '03000000' + '010203' + '096f776e65725f322d78' + '00000000');
  assert.deepEqual(decodeShareUpload(bytes), items);
  assert.throws(() => decodeShareUpload(bytes.subarray(0, bytes.length - 1)), /decodeShareUpload: truncated/);
  assert.throws(() => decodeShareUpload(Uint8Array.of(...bytes, 0)), /decodeShareUpload: 1 trailing bytes after 2 envelopes/);
  assert.throws(() => decodeShareUpload(Uint8Array.of(1, 0, 0)), /expected 1 to 64 envelopes, got 0/);
  assert.throws(() => decodeShareUpload(Uint8Array.of(2, 1, 0)), /unsupported format version 2/);
  assert.throws(() => decodeShareUpload(Uint8Array.of(1, 1, 0, 1, 0x2f, 0, 0, 0, 0)), /recipientId 0 is not an identifier/);
  assert.throws(() => encodeShareUpload([{ id: 'a b', envelope: new Uint8Array(0) }]), /expected an identifier/);
});

test('an inbox is a header then frames, and decodes only when whole', () => {
  const hash = 'ab'.repeat(32);
  const bytes = Buffer.concat([encodeInboxHeader({ roundNumber: 7, position: 2, includedSetHash: hash, vectorLength: 45, count: 2 }), ...items.map(encodeInboxFrame)]);
  assert.deepEqual(decodeInbox(new Uint8Array(bytes)), { roundNumber: 7, position: 2, includedSetHash: hash, vectorLength: 45, envelopes: items });
  assert.throws(() => decodeInbox(new Uint8Array(bytes.subarray(0, bytes.length - 4))), /decodeInbox: truncated: the length of envelope 1/);
  assert.throws(() => encodeInboxHeader({ roundNumber: 7, position: 2, includedSetHash: 'AB'.repeat(32), vectorLength: 45, count: 2 }), /64 lowercase hex/);
});

test('a partial sum carries exactly ⌈6.5·count⌉ (wide) or ⌈4.625·count⌉ (compact) value bytes', () => {
  assert.deepEqual([0, 1, 2, 3, 45].map((n) => packedValueBytes(n)), [0, 7, 13, 20, 293]);
  const frame = { includedSetHash: 'cd'.repeat(32), count: 3, values: new Uint8Array(20).fill(9) };
  const bytes = encodePartialSum(frame);
  assert.equal(bytes.length, 1 + 32 + 4 + 20);
  assert.deepEqual(decodePartialSum(bytes), frame);
  assert.throws(() => decodePartialSum(bytes.subarray(0, bytes.length - 1)), /decodePartialSum: 3 packed elements take 20 bytes \(wide field\) or 14 \(compact field\), the body has 19/);
  assert.throws(() => decodePartialSum(Uint8Array.of(...bytes, 0)), /the body has 21 after the header/);
  // The compact field's 37-bit packing frames the same way, ⌈4.625·count⌉ bytes.
  const compact = { ...frame, values: new Uint8Array(14) };
  assert.deepEqual(decodePartialSum(encodePartialSum(compact)), compact);
  assert.throws(() => encodePartialSum({ ...frame, values: new Uint8Array(15) }), /expected 20 \(wide\) or 14 \(compact\) bytes for 3 elements, got 15/);
  assert.throws(() => encodePartialSum({ ...frame, count: 4 }), /expected 26 \(wide\) or 19 \(compact\) bytes for 4 elements, got 20/);
});

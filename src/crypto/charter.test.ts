/**
 * Tests for charters: the canonical JSON form against RFC 8785's ordering and number examples, a pinned
 * fingerprint checked against SHA-256 of the canonical text written out by hand, a fingerprint that
 * ignores key order and changes with every field, the read-aloud form of a fingerprint, and each
 * reason charterProblems gives for a charter that is not valid.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import fc from 'fast-check';
import { canonicalJson, charterFingerprint, charterProblems, formatFingerprint, parseFingerprint, type Charter, type CharterProblem } from './charter.js';

// Public keys of generateIdentityKeyPair(seededRandomBytes('charter-alpha' | 'charter-beta' | …)).
const ALPHA = 'yQPGqZDgjtfLlRkpccd7tED8llXl9u3oMh60In/h7Ic=';
const BETA = 'MpvfPPCKUs8zPy/OWe2ZFszAi7cD6SYWDrbUTtHwNCY=';
const GAMMA = 'sTCf6tBRcocp4vxbwo91rwVWGFnbmtu8eYRyYreDhF0=';
const DELTA = '5CaoIAuK8EC/xk2lqWMqQ5+8flWVqGPszzzhZRaTGOg=';
// chainAnchor(seededRandomBytes('charter-lottery')(32), 1000)
const ANCHOR = 'cef22d4adeab63da794aded77603cc916835df09ff7d73c032e29745d67c70b2';

const charter: Charter = {
  version: 1,
  aggregation: 'secure',
  secure: {
    committee: { size: 3, threshold: 2 },
    clipNorm: 100,
    fixedPointBits: 20,
    fieldPrime: '4503599627370449',
    summingDeadlineSeconds: 3600,
    policy: {
      kind: 'named',
      aggregators: [
        { name: 'Zürich node', identityKey: ALPHA },
        { name: 'bank-b', identityKey: BETA },
        { name: 'bank-c', identityKey: GAMMA },
      ],
    },
  },
};

const lottery: Charter = {
  ...charter,
  secure: { ...charter.secure!, committee: { size: 5, threshold: 3 }, policy: { kind: 'lottery', chainAnchor: ANCHOR, chainLength: 1000 } },
};

const plain: Charter = { version: 1, aggregation: 'plain', secure: null };

// The canonical form of `charter`, written out by hand: members sorted, no whitespace, UTF-8 as is.
const CANONICAL =
  '{"aggregation":"secure","secure":{"clipNorm":100,"committee":{"size":3,"threshold":2},"fieldPrime":"4503599627370449",' +
  '"fixedPointBits":20,"policy":{"aggregators":[{"identityKey":"' + ALPHA + '","name":"Zürich node"},' +
  '{"identityKey":"' + BETA + '","name":"bank-b"},{"identityKey":"' + GAMMA + '","name":"bank-c"}],"kind":"named"},' +
  '"summingDeadlineSeconds":3600},"version":1}';
// charterFingerprint(charter), computed once; a change here changes every federation's pinned charter.
const FINGERPRINT = '9c83f4c3965a3591627954d4d7a6be0cc6f895e8ebef6e78eb97e2fb95f07829';

const clone = <T>(value: T): T => structuredClone(value);

/** A copy of base changed by edit, which may break its shape (so it sees the copy untyped). */
function edited(base: Charter, edit: (c: any) => void): Charter {
  const c = clone(base);
  edit(c);
  return c;
}

test('the example charters are valid', () => {
  assert.deepEqual(charterProblems(charter), []);
  assert.deepEqual(charterProblems(lottery), []);
  assert.deepEqual(charterProblems(plain), []);
});

test('canonicalJson and charterFingerprint of the example charter are pinned, and not self-referential', () => {
  assert.equal(canonicalJson(charter), CANONICAL);
  assert.equal(createHash('sha256').update(Buffer.from(CANONICAL, 'utf8')).digest('hex'), FINGERPRINT);
  assert.equal(charterFingerprint(charter), FINGERPRINT);
  assert.equal(canonicalJson(plain), '{"aggregation":"plain","secure":null,"version":1}');
});

test('canonicalJson: RFC 8785 §3.2.3 member ordering (UTF-16 code units) and §3.2.2.3 numbers', () => {
  // RFC 8785 §3.2.3's example: "\u20ac", "\r", "\ufb33", "1", "\ud83d\ude00", "\u0080", "\u00f6".
  const sorted = canonicalJson({ '\u20ac': 'Euro Sign', '\r': 'Carriage Return', '\ufb33': 'Hebrew Letter Dalet With Dagesh', '1': 'One', '\ud83d\ude00': 'Emoji: Grinning Face', '\u0080': 'Control', '\u00f6': 'Latin Small Letter O With Diaeresis' });
  assert.equal(
    sorted,
    '{"\\r":"Carriage Return","1":"One","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis","\u20ac":"Euro Sign","\ud83d\ude00":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}',
  );
  // Code-point order would put U+FFFD before U+1F600; UTF-16 order puts the surrogate pair first.
  assert.equal(canonicalJson({ '\ufffd': 1, '\u{1f600}': 2 }), '{"\u{1f600}":2,"\ufffd":1}');
  // RFC 8785 Appendix B (a selection): IEEE 754 bit patterns and their serialisation.
  const fromBits = (hex: string) => new DataView(Uint8Array.from(Buffer.from(hex, 'hex')).buffer).getFloat64(0);
  const numbers: [number, string][] = [
    ['0000000000000000', '0'],
    ['8000000000000000', '0'],
    ['0000000000000001', '5e-324'],
    ['8000000000000001', '-5e-324'],
    ['7fefffffffffffff', '1.7976931348623157e+308'],
    ['ffefffffffffffff', '-1.7976931348623157e+308'],
    ['4340000000000000', '9007199254740992'],
    ['c340000000000000', '-9007199254740992'],
    ['4430000000000000', '295147905179352830000'],
    ['44b52d02c7e14af5', '9.999999999999997e+22'],
    ['44b52d02c7e14af6', '1e+23'],
    ['44b52d02c7e14af7', '1.0000000000000001e+23'],
    ['3eb0c6f7a0b5ed8d', '0.000001'],
    ['3eb0c6f7a0b5ed8c', '9.999999999999997e-7'],
    ['41b3de4355555555', '333333333.3333333'],
  ].map(([bits, text]) => [fromBits(bits!), text!]);
  for (const [n, text] of numbers) assert.equal(canonicalJson([n]), `[${text}]`, text);
  assert.equal(canonicalJson({ b: [3, { d: true, c: null }], a: 'x"\n' }), '{"a":"x\\"\\n","b":[3,{"c":null,"d":true}]}');
  assert.equal(canonicalJson(Object.assign(Object.create(null), { b: 1, a: 2 })), '{"a":2,"b":1}');
});

test('canonicalJson parses back to an equal value and does not depend on key order', () => {
  fc.assert(
    fc.property(fc.jsonValue({ maxDepth: 4 }), (value) => {
      const text = canonicalJson(value);
      assert.equal(canonicalJson(JSON.parse(text)), text);
      assert.equal(canonicalJson(reverseKeys(value)), text);
    }),
    { numRuns: 200 },
  );
});

function reverseKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(reverseKeys);
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).reverse().map(([k, v]) => [k, reverseKeys(v)]));
  }
  return value;
}

test('key order does not change the canonical form or the fingerprint', () => {
  const s = charter.secure!;
  const shuffled = {
    secure: {
      policy: { aggregators: s.policy.kind === 'named' ? s.policy.aggregators.map((a) => ({ identityKey: a.identityKey, name: a.name })) : [], kind: 'named' },
      summingDeadlineSeconds: 3600,
      fieldPrime: '4503599627370449',
      fixedPointBits: 20,
      committee: { threshold: 2, size: 3 },
      clipNorm: 100,
    },
    aggregation: 'secure',
    version: 1,
  } as Charter;
  assert.equal(canonicalJson(shuffled), CANONICAL);
  assert.equal(charterFingerprint(shuffled), charterFingerprint(charter));
  assert.equal(charterFingerprint(reverseKeys(lottery) as Charter), charterFingerprint(lottery));
});

/** Every leaf of a JSON value, as a path and a changed copy of the whole value. */
function leafChanges(root: unknown): [string, unknown][] {
  const out: [string, unknown][] = [];
  const walk = (value: unknown, path: (string | number)[]) => {
    if (typeof value === 'object' && value !== null) {
      for (const [key, child] of Object.entries(value)) walk(child, [...path, Array.isArray(value) ? Number(key) : key]);
      return;
    }
    const changed = typeof value === 'number' ? value + 1 : typeof value === 'string' ? `${value}x` : value === null ? 0 : !value;
    const copy = clone(root) as Record<string | number, unknown>;
    let at = copy;
    for (const key of path.slice(0, -1)) at = at[key] as Record<string | number, unknown>;
    at[path.at(-1)!] = changed;
    out.push([path.join('.'), copy]);
  };
  walk(root, []);
  return out;
}

test('any change of any field changes the fingerprint', () => {
  const seen = new Map<string, string>([[charterFingerprint(charter), 'original'], [charterFingerprint(lottery), 'lottery'], [charterFingerprint(plain), 'plain']]);
  const variants: [string, unknown][] = [
    ...leafChanges(charter),
    ...leafChanges(lottery).map(([path, value]): [string, unknown] => [`lottery: ${path}`, value]),
    ['aggregators reordered', { ...charter, secure: { ...charter.secure!, policy: { kind: 'named', aggregators: [...(charter.secure!.policy as { aggregators: unknown[] }).aggregators].reverse() } } }],
    ['a field added', { ...charter, note: '' }],
    ['an aggregator name with a different normalisation', edited(charter, (c) => (c.secure.policy.aggregators[0].name = 'Zu\u0308rich node'))],
    ['clipNorm 100.5', { ...charter, secure: { ...charter.secure!, clipNorm: 100.5 } }],
  ];
  assert.ok(variants.length >= 20, `only ${variants.length} variants`);
  for (const [what, variant] of variants) {
    const fingerprint = charterFingerprint(variant as Charter);
    assert.ok(!seen.has(fingerprint), `${what} has the same fingerprint as ${seen.get(fingerprint)}`);
    seen.set(fingerprint, what);
  }
});

test('canonicalJson refuses what JSON cannot carry faithfully, naming the path', () => {
  const cases: [unknown, RegExp][] = [
    [{ a: { b: undefined } }, /^Error: canonicalJson: expected a JSON value at a\.b, got undefined$/],
    [{ secure: { clipNorm: Number.NaN } }, /^Error: canonicalJson: expected a finite number at secure\.clipNorm, got NaN$/],
    [{ x: [1, Infinity] }, /^Error: canonicalJson: expected a finite number at x\.1, got Infinity$/],
    [{ f: () => 1 }, /^Error: canonicalJson: expected a JSON value at f, got a function$/],
    [{ n: 10n }, /^Error: canonicalJson: expected a JSON value at n, got a bigint$/],
    [{ s: Symbol('s') }, /^Error: canonicalJson: expected a JSON value at s, got a symbol$/],
    [{ when: new Date(0) }, /^Error: canonicalJson: expected a plain object at when, got a Date$/],
    [{ key: new Uint8Array(32) }, /^Error: canonicalJson: expected a plain object at key, got a Uint8Array$/],
    [{ m: new Map() }, /^Error: canonicalJson: expected a plain object at m, got a Map$/],
    [{ a: [1, , 3] }, /^Error: canonicalJson: expected a JSON value at a\.1, got a hole in the array$/],
    [undefined, /^Error: canonicalJson: expected a JSON value at the top level, got undefined$/],
    [{ toJSON: () => 'x' }, /^Error: canonicalJson: expected a JSON value at toJSON, got a function$/],
  ];
  for (const [value, message] of cases) assert.throws(() => canonicalJson(value), message);
  const cycle: Record<string, unknown> = { a: { b: [] } };
  ((cycle.a as Record<string, unknown[]>).b as unknown[]).push(cycle);
  assert.throws(() => canonicalJson(cycle), /^Error: canonicalJson: circular reference at a\.b\.0$/);
  // The same object twice, not nested in itself, is not a cycle.
  const shared = { x: 1 };
  assert.equal(canonicalJson({ a: shared, b: [shared] }), '{"a":{"x":1},"b":[{"x":1}]}');
});

test('formatFingerprint and parseFingerprint: groups of four, any separators and case, round trip', () => {
  const formatted = formatFingerprint(FINGERPRINT);
  assert.match(formatted, /^([0-9a-f]{4} ){15}[0-9a-f]{4}$/);
  assert.equal(formatted.replaceAll(' ', ''), FINGERPRINT);
  assert.equal(parseFingerprint(formatted), FINGERPRINT);
  assert.equal(parseFingerprint(FINGERPRINT.toUpperCase()), FINGERPRINT);
  assert.equal(parseFingerprint(FINGERPRINT.match(/../g)!.join(':').toUpperCase()), FINGERPRINT);
  assert.equal(parseFingerprint(`  ${formatted.replaceAll(' ', '\n\t')}  `), FINGERPRINT);
  assert.equal(formatFingerprint(FINGERPRINT.toUpperCase()), formatted);
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (bytes) => {
      const hex = Buffer.from(bytes).toString('hex');
      assert.equal(parseFingerprint(formatFingerprint(hex)), hex);
    }),
  );
  for (const bad of ['', FINGERPRINT.slice(1), `${FINGERPRINT}0`, `${FINGERPRINT.slice(1)}g`, FINGERPRINT.replace(/^./, '-'), `0x${FINGERPRINT.slice(2)}`, `${FINGERPRINT.slice(0, 32)}.${FINGERPRINT.slice(32)}`]) {
    assert.equal(parseFingerprint(bad), null, bad);
  }
  assert.equal(parseFingerprint(42 as unknown as string), null);
  assert.throws(() => formatFingerprint('abc'), /^Error: formatFingerprint: expected a SHA-256 fingerprint \(64 hex digits\), got 3 characters$/);
});

const problemsAfter = (base: Charter, edit: (c: any) => void): CharterProblem[] => charterProblems(edited(base, edit));

test('charterProblems: committee size and threshold', () => {
  assert.deepEqual(problemsAfter(lottery, (c) => (c.secure.committee.threshold = 1)), [{ path: 'secure.committee.threshold', message: 'expected an integer of at least 2, got 1' }]);
  assert.deepEqual(problemsAfter(lottery, (c) => (c.secure.committee = { size: 1, threshold: 2 })), [
    { path: 'secure.committee.size', message: 'expected an integer of at least 2, got 1' },
    { path: 'secure.committee.threshold', message: 'threshold must not exceed the committee size' },
  ]);
  assert.deepEqual(problemsAfter(lottery, (c) => (c.secure.committee.threshold = 6)), [{ path: 'secure.committee.threshold', message: 'threshold must not exceed the committee size' }]);
  assert.deepEqual(problemsAfter(lottery, (c) => (c.secure.committee.threshold = 5)), [], 'threshold = size is allowed');
  assert.deepEqual(problemsAfter(lottery, (c) => (c.secure.committee.size = 2.5)), [{ path: 'secure.committee.size', message: 'expected an integer of at least 2, got 2.5' }]);
  assert.deepEqual(problemsAfter(lottery, (c) => (c.secure.committee = null)), [{ path: 'secure.committee', message: 'expected { size, threshold }, got null' }]);
});

test('charterProblems: named aggregators must match the size, have names and distinct valid identity keys', () => {
  assert.deepEqual(problemsAfter(charter, (c) => c.secure.policy.aggregators.pop()), [{ path: 'secure.policy.aggregators', message: 'expected 3 aggregators (the committee size), got 2' }]);
  assert.deepEqual(problemsAfter(charter, (c) => c.secure.policy.aggregators.push({ name: 'bank-d', identityKey: DELTA })), [
    { path: 'secure.policy.aggregators', message: 'expected 3 aggregators (the committee size), got 4' },
  ]);
  assert.deepEqual(problemsAfter(charter, (c) => (c.secure.policy.aggregators[2].identityKey = ALPHA)), [
    { path: 'secure.policy.aggregators.2.identityKey', message: 'duplicate identity key: aggregators 0 and 2' },
  ]);
  assert.deepEqual(problemsAfter(charter, (c) => (c.secure.policy.aggregators[2].name = 'bank-b')), [
    { path: 'secure.policy.aggregators.2.name', message: 'duplicate aggregator name: aggregators 1 and 2' },
  ]);
  for (const name of ['', '   ', undefined, 7]) {
    assert.deepEqual(problemsAfter(charter, (c) => (c.secure.policy.aggregators[1].name = name)), [{ path: 'secure.policy.aggregators.1.name', message: 'expected a non-empty name' }], String(name));
  }
  const badKeys = [
    Buffer.alloc(31, 7).toString('base64'), // 31 bytes
    Buffer.alloc(33, 7).toString('base64'), // 33 bytes
    Buffer.from('01' + '00'.repeat(31), 'hex').toString('base64'), // the neutral element: small order
    Buffer.from('02' + '00'.repeat(31), 'hex').toString('base64'), // not on the curve
    ALPHA.slice(0, -1), // unpadded
    Buffer.from(ALPHA, 'base64').toString('base64url'), // base64url alphabet
    ALPHA.slice(0, 42) + String.fromCharCode(ALPHA.charCodeAt(42) + 1) + '=', // non-canonical: same bytes, low bits set
    ` ${ALPHA}`,
    Buffer.from(ALPHA, 'base64').toString('hex'),
    42,
  ];
  assert.deepEqual(Buffer.from(badKeys[6] as string, 'base64'), Buffer.from(ALPHA, 'base64'), 'Buffer would decode the non-canonical spelling to the same key');
  for (const key of badKeys) {
    assert.deepEqual(problemsAfter(charter, (c) => (c.secure.policy.aggregators[0].identityKey = key)), [
      { path: 'secure.policy.aggregators.0.identityKey', message: 'expected the base64 of a valid 32-byte Ed25519 public key' },
    ], String(key));
  }
  // Several problems at once are all reported, in document order.
  assert.deepEqual(
    problemsAfter(charter, (c) => {
      c.secure.policy.aggregators[1] = { name: '', identityKey: 'nope' };
      c.secure.policy.aggregators.push({ name: 'bank-c', identityKey: GAMMA });
    }),
    [
      { path: 'secure.policy.aggregators', message: 'expected 3 aggregators (the committee size), got 4' },
      { path: 'secure.policy.aggregators.1.name', message: 'expected a non-empty name' },
      { path: 'secure.policy.aggregators.1.identityKey', message: 'expected the base64 of a valid 32-byte Ed25519 public key' },
      { path: 'secure.policy.aggregators.3.name', message: 'duplicate aggregator name: aggregators 2 and 3' },
      { path: 'secure.policy.aggregators.3.identityKey', message: 'duplicate identity key: aggregators 2 and 3' },
    ],
  );
});

test('charterProblems: lottery anchor and chain length', () => {
  for (const anchor of [ANCHOR.slice(2), `${ANCHOR}00`, ANCHOR.toUpperCase(), `${ANCHOR.slice(1)}g`, Buffer.from(ANCHOR, 'hex').toString('base64'), 5]) {
    assert.deepEqual(problemsAfter(lottery, (c) => (c.secure.policy.chainAnchor = anchor)), [
      { path: 'secure.policy.chainAnchor', message: 'expected 64 lowercase hex characters (a 32-byte hash-chain anchor)' },
    ], String(anchor));
  }
  for (const [length, shown] of [[0, '0'], [-3, '-3'], [1.5, '1.5'], [1_000_001, '1000001'], ['1000', 'a string'], [undefined, 'undefined']] as const) {
    assert.deepEqual(problemsAfter(lottery, (c) => (c.secure.policy.chainLength = length)), [
      { path: 'secure.policy.chainLength', message: `expected a positive integer of at most 1000000, got ${shown}` },
    ]);
  }
  assert.deepEqual(problemsAfter(lottery, (c) => (c.secure.policy.chainLength = 1_000_000)), []);
  assert.deepEqual(problemsAfter(lottery, (c) => (c.secure.policy.kind = 'random')), [{ path: 'secure.policy.kind', message: `expected 'named' or 'lottery', got "random"` }]);
});

test('charterProblems: aggregation mode and the secure block agree', () => {
  assert.deepEqual(charterProblems({ ...charter, secure: null }), [{ path: 'secure', message: "expected secure-aggregation parameters when aggregation is 'secure'" }]);
  assert.deepEqual(charterProblems({ ...charter, aggregation: 'plain' }), [{ path: 'secure', message: "must be null when aggregation is 'plain'" }]);
  assert.deepEqual(charterProblems({ ...plain, aggregation: 'hybrid' } as unknown as Charter), [{ path: 'aggregation', message: `expected 'plain' or 'secure', got "hybrid"` }]);
  assert.deepEqual(charterProblems({ ...plain, version: 2 } as unknown as Charter), [{ path: 'version', message: 'expected version 1, got 2' }]);
});

test('charterProblems: the other secure parameters, unknown fields and shapeless input', () => {
  assert.deepEqual(
    problemsAfter(lottery, (c) => {
      c.secure.clipNorm = 0;
      c.secure.fixedPointBits = 0;
      c.secure.fieldPrime = '0045';
      c.secure.summingDeadlineSeconds = 1.5;
    }),
    [
      { path: 'secure.clipNorm', message: 'expected a positive finite number, got 0' },
      { path: 'secure.fixedPointBits', message: 'expected a positive integer, got 0' },
      { path: 'secure.fieldPrime', message: 'expected a decimal integer of at least 3 without leading zeros' },
      { path: 'secure.summingDeadlineSeconds', message: 'expected a positive integer, got 1.5' },
    ],
  );
  assert.deepEqual(problemsAfter(lottery, (c) => (c.secure.fieldPrime = 4503599627370449)), [
    { path: 'secure.fieldPrime', message: 'expected a decimal integer of at least 3 without leading zeros' },
  ]);
  assert.deepEqual(
    problemsAfter(charter, (c) => {
      c.note = 'x';
      c.secure.committee.quorum = 2;
      c.secure.policy.aggregators[0].url = 'https://a.example';
    }),
    [
      { path: 'note', message: 'unknown field' },
      { path: 'secure.committee.quorum', message: 'unknown field' },
      { path: 'secure.policy.aggregators.0.url', message: 'unknown field' },
    ],
  );
  assert.deepEqual(charterProblems(null as unknown as Charter), [{ path: '', message: 'expected a charter object, got null' }]);
  assert.deepEqual(charterProblems([] as unknown as Charter), [{ path: '', message: 'expected a charter object, got an array' }]);
  assert.deepEqual(charterProblems({ ...charter, secure: 'yes' } as unknown as Charter), [{ path: 'secure', message: 'expected an object or null, got a string' }]);
});

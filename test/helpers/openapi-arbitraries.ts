/**
 * fast-check arbitraries for HTTP requests, derived from the OpenAPI document: for every operation its path
 * and query parameters and its JSON body come from the document's schemas — values that fit them, the
 * document's own examples, those mutated (a field dropped or added, a wrong type, a huge or unicode string,
 * an edge number, broken JSON text, bytes that are not UTF-8) and random junk — with an Authorization header
 * that is valid, malformed or absent and a media type that is right or odd. What the document cannot know
 * (a federation's real id, the key of an owner, weights of the right length, a signed committee key) the
 * caller supplies as hints, and values that depend on the server's state when the request is sent are
 * `Late`: generated as a recipe, resolved just before sending. Used by test/http/fuzz.test.ts.
 */
import fc from 'fast-check';

// ─── The document ────────────────────────────────────────────────────────────────────────────────────────

export type JsonSchema = { [key: string]: unknown };

export interface OpenApiDocument {
  paths: Record<string, Record<string, { operationId?: string; description?: string; parameters?: ParameterObject[]; requestBody?: RequestBodyObject }>>;
  components?: { schemas?: Record<string, JsonSchema> };
}

interface ParameterObject {
  name: string;
  in: 'path' | 'query' | 'header' | 'cookie';
  required?: boolean;
  schema?: JsonSchema;
}

interface RequestBodyObject {
  required?: boolean;
  content: Record<string, { schema?: JsonSchema; example?: unknown; examples?: Record<string, { value: unknown }> }>;
}

export interface Parameter {
  name: string;
  required: boolean;
  schema: JsonSchema;
}

export interface Operation {
  operationId: string;
  method: string;
  /** The OpenAPI path template, e.g. /v1/federations/{federationId}/rounds/{roundNumber}. */
  path: string;
  /** The roles its description's "Roles: …" line names (src/http/route-access.ts writes it). */
  roles: string[];
  pathParams: Parameter[];
  queryParams: Parameter[];
  /** Its JSON request body, when the document declares one, with the document's examples of it. */
  body?: { schema: JsonSchema; examples: unknown[] };
}

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];

/** Every operation of the document, in document order. */
export function operationsOf(doc: OpenApiDocument): Operation[] {
  const operations: Operation[] = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      if (!METHODS.includes(method)) continue;
      if (!op.operationId) throw new Error(`operationsOf: ${method.toUpperCase()} ${path} has no operationId`);
      const roles = /Roles: ([^.\n]+)\./.exec(op.description ?? '')?.[1]?.split(', ') ?? [];
      const params = (where: 'path' | 'query') =>
        (op.parameters ?? []).filter((p) => p.in === where).map((p) => ({ name: p.name, required: p.required ?? where === 'path', schema: p.schema ?? {} }));
      const json = op.requestBody?.content['application/json'];
      operations.push({
        operationId: op.operationId,
        method: method.toUpperCase(),
        path,
        roles,
        pathParams: params('path'),
        queryParams: params('query'),
        ...(json?.schema && {
          body: { schema: json.schema, examples: [...(json.example !== undefined ? [json.example] : []), ...Object.values(json.examples ?? {}).map((e) => e.value)] },
        }),
      });
    }
  }
  return operations;
}

function deref(doc: OpenApiDocument, schema: JsonSchema): JsonSchema {
  let current = schema;
  for (let hops = 0; typeof current.$ref === 'string'; hops++) {
    const name = /^#\/components\/schemas\/(.+)$/.exec(current.$ref)?.[1];
    const target = name === undefined ? undefined : doc.components?.schemas?.[name];
    if (!target || hops > 20) throw new Error(`deref: cannot resolve ${String(current.$ref)}`);
    current = target;
  }
  return current;
}

// ─── Late values ─────────────────────────────────────────────────────────────────────────────────────────

/**
 * A value known only when the request is sent: a real id, the current round's number, a body signed for
 * the round as it now stands. Generated as a recipe (so fast-check can print and replay it) and resolved
 * against the live state `C` by `materialise`.
 */
export class Late<C = unknown, T = unknown> {
  constructor(
    readonly label: string,
    readonly resolve: (context: C) => T | Promise<T>,
  ) {}
  toString(): string {
    return `‹${this.label}›`;
  }
  [fc.toStringMethod](): string {
    return this.toString();
  }
}

export const late = <C, T>(label: string, resolve: (context: C) => T | Promise<T>) => new Late<C, T>(label, resolve);

/** A body as bytes with its media type, for a body that is not JSON at all. */
export class RawBody {
  constructor(
    readonly contentType: string | undefined,
    readonly bytes: Uint8Array,
  ) {}
  toString(): string {
    return `‹${this.bytes.byteLength} bytes of ${this.contentType ?? 'no media type'}›`;
  }
  [fc.toStringMethod](): string {
    return this.toString();
  }
}

/** The value with every Late in it resolved (Lates may resolve to values holding further Lates). */
export async function materialise<C>(value: unknown, context: C): Promise<unknown> {
  if (value instanceof Late) return materialise(await (value as Late<C>).resolve(context), context);
  if (Array.isArray(value)) return Promise.all(value.map((item) => materialise(item, context)));
  if (value instanceof Uint8Array || value instanceof RawBody || value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) setOwn(out, key, await materialise(item, context));
  return out;
}

/** Sets a property as an own, enumerable data property, even one named __proto__. */
function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

// ─── Edge values ─────────────────────────────────────────────────────────────────────────────────────────

const LONE_HIGH = '\uD800';
const LONE_LOW = '\uDC00';

/** Strings that have broken parsers, databases and encoders before. */
export const NASTY_STRINGS: readonly string[] = [
  '',
  ' ',
  '\u0000',
  'a\u0000b',
  LONE_HIGH,
  `x${LONE_LOW}y`,
  `${LONE_LOW}${LONE_HIGH}`,
  '\uFFFF',
  '\uFFFE',
  '\uFEFFbom',
  '\u202Eevil',
  'line\u2028separator',
  'tab\tand\r\nnewlines',
  '🦊',
  'e\u0301',
  '名前',
  '١٢٣',
  '𝟙𝟚',
  '../../etc/passwd',
  '%00',
  '%2F',
  "'; DROP TABLE \"Owner\"; --",
  '<script>alert(1)</script>',
  '${jndi:ldap://x}',
  'null',
  'NaN',
  'Infinity',
  '-0',
  '1e308',
  '0x10',
  ' 1',
  'true',
  '[]',
  '{}',
  'latest',
  'default',
  'none',
  '__proto__',
  'constructor',
  'toString',
  'hasOwnProperty',
];

/** Numbers at the edges of JSON, IEEE 754, 32-bit columns and JavaScript's safe integers. */
export const NASTY_NUMBERS: readonly number[] = [
  0,
  -0,
  1,
  -1,
  0.5,
  -0.5,
  1e308,
  -1e308,
  Number.MAX_VALUE,
  Number.MIN_VALUE,
  2 ** 31 - 1,
  2 ** 31,
  -(2 ** 31) - 1,
  2 ** 32,
  2 ** 53,
  2 ** 53 + 2,
  -(2 ** 53) - 2,
  1e21,
  123456.789,
];

/** Numbers JSON.stringify cannot write; they reach the server only as raw text. */
const NON_JSON_NUMBERS = ['NaN', 'Infinity', '-Infinity', '1e999', '-1e999', '01', '.5', '1.', '+1', '0x10', '1E400', '-0.0e-0', '9'.repeat(400)];

const hugeString = fc.constantFrom('x'.repeat(70_000), 'é'.repeat(40_000), '\u0000'.repeat(1000), `${LONE_HIGH}`.repeat(5000), '9'.repeat(10_000));

export const nastyString: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: fc.constantFrom(...NASTY_STRINGS), weight: 6 },
  { arbitrary: fc.string({ unit: 'binary', maxLength: 40 }), weight: 2 },
  { arbitrary: fc.string({ unit: fc.constantFrom(LONE_HIGH, LONE_LOW, '\u0000', 'a', '\uFFFD', '€'), maxLength: 12 }), weight: 2 },
  { arbitrary: hugeString, weight: 1 },
);

export const nastyNumber: fc.Arbitrary<number> = fc.oneof(
  { arbitrary: fc.constantFrom(...NASTY_NUMBERS), weight: 4 },
  { arbitrary: fc.double(), weight: 1 },
  { arbitrary: fc.integer(), weight: 1 },
);

/** A value of any JSON type, edge values favoured: what a mutation puts where something else belongs. */
export const nastyValue: fc.Arbitrary<unknown> = fc.oneof(
  { arbitrary: nastyString, weight: 4 },
  { arbitrary: nastyNumber, weight: 4 },
  { arbitrary: fc.constantFrom<unknown>(true, false, null, [], {}, [null], { '': '' }), weight: 2 },
  { arbitrary: fc.jsonValue({ maxDepth: 3 }), weight: 2 },
  // Deeper nesting than this overflows JSON.stringify's stack here: TextMutation 'deep' sends it as text.
  { arbitrary: fc.constantFrom<unknown>(nested(200), new Array(20_000).fill(0), protoObject()), weight: 1 },
);

function nested(depth: number): unknown {
  let value: unknown = [];
  for (let i = 0; i < depth; i++) value = [value];
  return value;
}

function protoObject(): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  setOwn(out, '__proto__', { polluted: true });
  setOwn(out, 'constructor', { prototype: { polluted: true } });
  return out;
}

// ─── Values that fit a schema ────────────────────────────────────────────────────────────────────────────

/** Real values for names the document cannot know: a parameter or body property of this name. */
export type NamedHints = Readonly<Record<string, fc.Arbitrary<unknown>>>;

/**
 * Values that fit the schema (mostly: patterns and bounds are followed, cross-field rules are not known),
 * with named hints used for properties the world knows real values for. Sizes are kept small.
 */
export function fitting(doc: OpenApiDocument, schema: JsonSchema, hints: NamedHints = {}, depth = 0): fc.Arbitrary<unknown> {
  const s = deref(doc, schema);
  if (depth > 8) return fc.constant(null);
  if ('const' in s) return fc.constant(s.const);
  if (Array.isArray(s.enum)) return fc.constantFrom(...(s.enum as unknown[]));
  const branches = (s.anyOf ?? s.oneOf) as JsonSchema[] | undefined;
  if (branches) return fc.oneof(...branches.map((branch) => fitting(doc, branch, hints, depth + 1)));
  if (Array.isArray(s.type)) return fc.oneof(...(s.type as string[]).map((type) => fitting(doc, { ...s, type }, hints, depth + 1)));
  switch (s.type) {
    case 'object':
      return fittingObject(doc, s, hints, depth);
    case 'array': {
      const minItems = (s.minItems as number | undefined) ?? 0;
      const maxItems = Math.min((s.maxItems as number | undefined) ?? minItems + 4, minItems + 4);
      if (Array.isArray(s.prefixItems)) return fc.tuple(...(s.prefixItems as JsonSchema[]).map((item) => fitting(doc, item, hints, depth + 1)));
      return fc.array(fitting(doc, (s.items as JsonSchema | undefined) ?? {}, hints, depth + 1), { minLength: minItems, maxLength: maxItems });
    }
    case 'string':
      return fittingString(s);
    case 'integer': {
      const min = Math.max(Number.MIN_SAFE_INTEGER, (s.minimum as number | undefined) ?? -1000);
      const max = Math.min(Number.MAX_SAFE_INTEGER, (s.maximum as number | undefined) ?? min + 10_000);
      // Small values are the ones that name something that exists (round 1, version 0); the bounds are edges.
      return fc.oneof(fc.integer({ min, max: Math.min(max, min + 5) }), fc.integer({ min, max }), fc.constantFrom(min, max));
    }
    case 'number': {
      const min = (s.minimum as number | undefined) ?? (s.exclusiveMinimum as number | undefined) ?? -1e6;
      const max = (s.maximum as number | undefined) ?? (s.exclusiveMaximum as number | undefined) ?? 1e6;
      return fc.double({ min, max, noNaN: true, noDefaultInfinity: true, minExcluded: 'exclusiveMinimum' in s, maxExcluded: 'exclusiveMaximum' in s });
    }
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    default:
      return fc.jsonValue({ maxDepth: 2 });
  }
}

function fittingObject(doc: OpenApiDocument, s: JsonSchema, hints: NamedHints, depth: number): fc.Arbitrary<unknown> {
  const properties = (s.properties ?? {}) as Record<string, JsonSchema>;
  const required = new Set((s.required ?? []) as string[]);
  if (Object.keys(properties).length === 0 && s.additionalProperties && typeof s.additionalProperties === 'object') {
    const keys = s.propertyNames ? fittingString(deref(doc, s.propertyNames as JsonSchema)) : fc.string({ maxLength: 12 });
    return fc.dictionary(keys, fitting(doc, s.additionalProperties as JsonSchema, hints, depth + 1), { maxKeys: 4 });
  }
  const shape: Record<string, fc.Arbitrary<unknown>> = {};
  for (const [name, property] of Object.entries(properties)) {
    const own = fitting(doc, property, hints, depth + 1);
    const hint = hints[name];
    shape[name] = hint ? fc.oneof({ arbitrary: hint, weight: 3 }, { arbitrary: own, weight: 1 }) : own;
  }
  return fc.record(shape, { requiredKeys: Object.keys(properties).filter((name) => required.has(name)) });
}

function fittingString(s: JsonSchema): fc.Arbitrary<string> {
  const minLength = (s.minLength as number | undefined) ?? 0;
  const maxLength = Math.min((s.maxLength as number | undefined) ?? minLength + 24, minLength + 24);
  if (typeof s.pattern === 'string') {
    const pattern = new RegExp(s.pattern);
    return fc.stringMatching(pattern, { maxLength }).filter((value) => value.length >= minLength);
  }
  // Mostly printable ASCII; sometimes any grapheme (whose UTF-16 length may pass maxLength: mostly valid).
  return fc.oneof({ arbitrary: fc.string({ minLength, maxLength }), weight: 9 }, { arbitrary: fc.string({ minLength, maxLength, unit: 'grapheme' }), weight: 1 });
}

// ─── Mutations ───────────────────────────────────────────────────────────────────────────────────────────

/**
 * One change to a JSON value, aimed at the `at`-th place in it (modulo the number of places), so the same
 * mutation means something for a body only known when it is sent.
 */
export type Mutation =
  | { kind: 'drop'; at: number }
  | { kind: 'add'; at: number; key: string; value: unknown }
  | { kind: 'replace'; at: number; value: unknown }
  | { kind: 'repeat'; at: number; times: number }
  | { kind: 'wrap'; at: number; inArray: boolean };

export const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('drop' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('add' as const), at: fc.nat(), key: fc.oneof(fc.constantFrom('unexpected', '__proto__', 'constructor', '', 'id', 'role', 'federationId'), fc.string({ maxLength: 8 })), value: nastyValue }),
  { arbitrary: fc.record({ kind: fc.constant('replace' as const), at: fc.nat(), value: nastyValue }), weight: 4 },
  fc.record({ kind: fc.constant('repeat' as const), at: fc.nat(), times: fc.constantFrom(2, 100, 20_000) }),
  fc.record({ kind: fc.constant('wrap' as const), at: fc.nat(), inArray: fc.boolean() }),
);

type Place = { parent: Record<string, unknown> | unknown[] | null; key: string | number | null };

function placesOf(root: unknown): Place[] {
  const places: Place[] = [{ parent: null, key: null }];
  const visit = (value: unknown, depth: number) => {
    if (depth > 6 || value === null || typeof value !== 'object' || value instanceof Uint8Array) return;
    const entries: [string | number, unknown][] = Array.isArray(value) ? value.slice(0, 50).map((item, i) => [i, item]) : Object.entries(value);
    for (const [key, item] of entries) {
      places.push({ parent: value as Record<string, unknown>, key });
      visit(item, depth + 1);
    }
  };
  visit(root, 0);
  return places;
}

/** About the most a repeat mutation makes, in JSON bytes: past every body limit but the largest, cheap to build. */
const REPEAT_BYTES = 4_000_000;

/** The array's items over and over, `times` as many, up to about REPEAT_BYTES of JSON. */
function repeated(items: unknown[], times: number): unknown[] {
  const source = items.length > 0 ? items : [0];
  const itemBytes = (JSON.stringify(source[0]) ?? 'null').length + 1;
  const length = Math.max(source.length + 1, Math.min(source.length * times, Math.floor(REPEAT_BYTES / itemBytes)));
  return Array.from({ length }, (_, i) => source[i % source.length]);
}

/** The value with the mutations applied in order (it is copied first). */
export function applyMutations(value: unknown, mutations: readonly Mutation[]): unknown {
  let root = structuredClone(value);
  for (const m of mutations) {
    const places = placesOf(root);
    const { parent, key } = places[m.at % places.length]!;
    const current = parent === null ? root : (parent as Record<string | number, unknown>)[key!];
    let next: unknown = current;
    switch (m.kind) {
      case 'drop':
        if (parent === null) root = undefined;
        else if (Array.isArray(parent)) parent.splice(key as number, 1);
        else delete parent[key as string];
        continue;
      case 'add':
        if (current !== null && typeof current === 'object' && !Array.isArray(current)) setOwn(current as Record<string, unknown>, m.key, structuredClone(m.value));
        else if (Array.isArray(current)) current.push(structuredClone(m.value));
        continue;
      case 'replace':
        next = structuredClone(m.value);
        break;
      case 'repeat':
        next = Array.isArray(current) ? repeated(current, m.times) : typeof current === 'string' ? current.repeat(Math.max(1, Math.min(m.times, Math.floor(REPEAT_BYTES / (current.length + 1))))) : current;
        break;
      case 'wrap':
        next = m.inArray ? [current] : { value: current };
        break;
    }
    if (parent === null) root = next;
    else (parent as Record<string | number, unknown>)[key!] = next;
  }
  return root;
}

// ─── Bodies ──────────────────────────────────────────────────────────────────────────────────────────────

/** A change to the JSON text itself: what no JSON value can express. */
export type TextMutation =
  | { kind: 'number'; at: number; token: string }
  | { kind: 'truncate'; at: number }
  | { kind: 'affix'; before: string; after: string }
  | { kind: 'duplicate-key'; value: string }
  | { kind: 'bytes'; at: number; bytes: readonly number[] }
  | { kind: 'deep'; depth: number }
  | { kind: 'utf16' };

export const textMutation: fc.Arbitrary<TextMutation> = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant('number' as const), at: fc.nat(), token: fc.constantFrom(...NON_JSON_NUMBERS) }), weight: 3 },
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant('affix' as const),
    before: fc.constantFrom('', '\uFEFF', '   \n', ')]}\'\n', '['),
    after: fc.constantFrom('', '\n\n', ',', 'x', '}', ' {"extra": true}', '\u0000'),
  }),
  fc.record({ kind: fc.constant('duplicate-key' as const), value: fc.constantFrom('null', '"dup"', '{"__proto__": {"polluted": true}}', '{"constructor": {"prototype": {"polluted": true}}}') }),
  // Bytes that are not UTF-8: an overlong NUL, a lone surrogate's encoding, a stray continuation byte, 0xFF.
  { arbitrary: fc.record({ kind: fc.constant('bytes' as const), at: fc.nat(), bytes: fc.constantFrom([0xc0, 0x80], [0xed, 0xa0, 0x80], [0x80], [0xff, 0xfe], [0xf4, 0x90, 0x80, 0x80]) }), weight: 2 },
  fc.record({ kind: fc.constant('deep' as const), depth: fc.constantFrom(5000, 100_000) }),
  fc.record({ kind: fc.constant('utf16' as const) }),
);

function applyTextMutation(text: string, m: TextMutation): Buffer {
  switch (m.kind) {
    case 'number': {
      // Among the first numbers only: a repeated array can hold millions.
      const numbers = [...text.slice(0, 65_536).matchAll(/(?<=[:,[]\s*)-?\d+(\.\d+)?([eE][+-]?\d+)?(?=\s*[,\]}])/g)];
      if (numbers.length === 0) return Buffer.from(text.replace(/^\{/, `{"n":${m.token},`));
      const target = numbers[m.at % numbers.length]!;
      return Buffer.from(text.slice(0, target.index) + m.token + text.slice(target.index! + target[0].length));
    }
    case 'truncate':
      return Buffer.from(text.slice(0, text.length === 0 ? 0 : m.at % text.length));
    case 'affix':
      return Buffer.from(m.before + text + m.after);
    case 'duplicate-key': {
      const first = /^\{\s*("(?:[^"\\]|\\.)*")\s*:/.exec(text);
      return Buffer.from(first ? `{${first[1]}:${m.value},${text.slice(1)}` : text);
    }
    case 'bytes': {
      const raw = Buffer.from(text);
      // Inside the first string value when there is one, so the bytes reach a decoder, not the tokenizer.
      const quote = text.indexOf('"', text.indexOf(':') + 1);
      const at = quote >= 0 ? Buffer.byteLength(text.slice(0, quote + 1)) : raw.length === 0 ? 0 : m.at % raw.length;
      return Buffer.concat([raw.subarray(0, at), Buffer.from(m.bytes), raw.subarray(at)]);
    }
    case 'deep': {
      // The value of the first field (or the whole body) nested in arrays `depth` deep.
      const nestedText = `${'['.repeat(m.depth)}${']'.repeat(m.depth)}`;
      const first = /^\{\s*("(?:[^"\\]|\\.)*")\s*:/.exec(text);
      return Buffer.from(first ? `{${first[1]}:${nestedText}}` : nestedText);
    }
    case 'utf16':
      return Buffer.from(text, 'utf16le');
  }
}

/** Media types a JSON body goes out with: right, right but unusual, and wrong. */
export const JSON_MEDIA_TYPES: readonly string[] = ['application/json', 'application/json; charset=utf-8', 'application/json;charset=UTF-8', 'Application/JSON'];
export const ODD_MEDIA_TYPES: readonly string[] = [
  'application/json; charset=utf-16',
  'application/json; charset=latin1',
  'application/json; charset="utf-8"; foo=bar',
  'application/vnd.api+json',
  'application/merge-patch+json',
  'application/problem+json',
  'text/json',
  'text/plain',
  'text/plain; charset=utf-8',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=fuzz',
  'application/octet-stream',
  'application/xml',
  '*/*',
  'application/json, text/plain',
  ';;;',
  'json',
  'application/json\u00ff',
];

const mediaType = fc.oneof({ arbitrary: fc.constantFrom(...JSON_MEDIA_TYPES), weight: 8 }, { arbitrary: fc.constantFrom(...ODD_MEDIA_TYPES), weight: 2 }, { arbitrary: fc.constant(undefined), weight: 1 });

export type BodyPlan =
  | { kind: 'none' }
  /** A JSON value (maybe holding Lates, or resolving to a RawBody) mutated and then, maybe, its text broken. */
  | { kind: 'json'; source: 'valid' | 'example' | 'fitting' | 'junk'; value: unknown; mutations: Mutation[]; text?: TextMutation; contentType: string | undefined }
  | { kind: 'raw'; body: RawBody };

const junkBytes = fc.oneof(
  fc.uint8Array({ maxLength: 64 }),
  fc.constantFrom('', 'null', '"string"', '42', 'true', '[]', '{', '}', '{"a":', '{}{}', 'a=1&b=2', '--fuzz\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--fuzz--').map((text) => new Uint8Array(Buffer.from(text))),
  fc.constant(new Uint8Array(Buffer.from(`{"x":"${'y'.repeat(100_000)}"}`))),
);

export const rawBody: fc.Arbitrary<RawBody> = fc
  .tuple(fc.oneof(mediaType, fc.constantFrom('application/octet-stream', 'text/plain')), junkBytes)
  .map(([type, bytes]) => new RawBody(type, bytes));

/**
 * Bodies for an operation: valid ones (from `valid`, built from the world, else the document's examples or
 * values fitting the schema), those mutated, schema-fitting values, junk JSON and junk bytes, and none.
 * Operations without a documented body mostly get none, sometimes junk.
 */
export function bodyPlan(doc: OpenApiDocument, operation: Operation, options: { valid?: fc.Arbitrary<unknown>; hints?: NamedHints } = {}): fc.Arbitrary<BodyPlan> {
  const none = fc.constant<BodyPlan>({ kind: 'none' });
  const raw = rawBody.map<BodyPlan>((body) => ({ kind: 'raw', body }));
  const json = (source: 'valid' | 'example' | 'fitting' | 'junk', value: fc.Arbitrary<unknown>, mutations: fc.Arbitrary<Mutation[]>, text: fc.Arbitrary<TextMutation | undefined>) =>
    fc.record({ value, mutations, text, contentType: mediaType }).map<BodyPlan>((plan) => ({ kind: 'json', source, ...plan, ...(plan.text === undefined && { text: undefined }) }));
  const noMutation = fc.constant<Mutation[]>([]);
  const someMutations = fc.array(mutation, { minLength: 1, maxLength: 3 });
  const noText = fc.constant(undefined);
  const someText = fc.option(textMutation, { nil: undefined, freq: 2 });
  const junk = json('junk', fc.oneof(fc.jsonValue({ maxDepth: 3 }), nastyValue), noMutation, noText);
  if (!operation.body && !options.valid) {
    return fc.oneof({ arbitrary: none, weight: 6 }, { arbitrary: junk, weight: 1 }, { arbitrary: raw, weight: 1 });
  }
  const schema = operation.body?.schema;
  const fit = schema ? fitting(doc, schema, options.hints) : fc.jsonValue({ maxDepth: 2 });
  const examples = operation.body?.examples ?? [];
  const base = fc.oneof(
    ...(options.valid ? [{ arbitrary: options.valid, weight: 4 }] : []),
    ...(examples.length > 0 ? [{ arbitrary: fc.constantFrom(...examples), weight: 1 }] : []),
    { arbitrary: fit, weight: 2 },
  );
  const source = options.valid ? 'valid' : examples.length > 0 ? 'example' : 'fitting';
  return fc.oneof(
    { arbitrary: json(source, options.valid ?? base, noMutation, noText), weight: 6 },
    { arbitrary: json(source, base, someMutations, someText), weight: 5 },
    { arbitrary: json('fitting', fit, noMutation, noText), weight: 2 },
    { arbitrary: junk, weight: 1 },
    { arbitrary: raw, weight: 1 },
    { arbitrary: none, weight: 1 },
  );
}

/** The bytes and media type a body plan sends, its Lates resolved against `context`. */
export async function renderBody<C>(plan: BodyPlan, context: C): Promise<{ contentType?: string; payload?: Buffer } | undefined> {
  if (plan.kind === 'none') return undefined;
  if (plan.kind === 'raw') return { ...(plan.body.contentType !== undefined && { contentType: plan.body.contentType }), payload: Buffer.from(plan.body.bytes) };
  const value = await materialise(plan.value, context);
  if (value instanceof RawBody) {
    // A valid binary body (key material, framed ciphertexts): mutated as bytes, not as JSON.
    const bytes = Buffer.from(value.bytes);
    for (const m of plan.mutations) {
      const at = m.at % (bytes.byteLength + 1);
      if (m.kind === 'drop') return { ...(value.contentType !== undefined && { contentType: value.contentType }), payload: bytes.subarray(0, at) };
      if (at < bytes.byteLength) bytes[at] = bytes[at]! ^ 0xff;
    }
    return { ...(value.contentType !== undefined && { contentType: value.contentType }), payload: bytes };
  }
  const mutated = applyMutations(value, plan.mutations);
  const text = mutated === undefined ? '' : JSON.stringify(mutated);
  const payload = plan.text ? applyTextMutation(text, plan.text) : Buffer.from(text);
  return { ...(plan.contentType !== undefined && { contentType: plan.contentType }), payload };
}

// ─── Paths and queries ───────────────────────────────────────────────────────────────────────────────────

/** A path or query value: text to percent-encode (maybe Late), or text already encoded, sent as it is. */
export type ParamPlan = { encoded: false; value: unknown } | { encoded: true; value: string };

/** Already-encoded path segments and query values that URL decoders, routers and parsers trip on. */
const RAW_SEGMENTS = ['%', '%zz', '%00', '%2F', '%2f..%2f', '..', '.', '%2e%2e', 'a%20b', '%C0%80', '%ED%A0%80', '%FF', '%E2%80%AE', 'x'.repeat(101), '1;a=b', '%3F', '%23', '+'];

const paramText = fc.oneof(
  { arbitrary: nastyString.filter((text) => text.length <= 200), weight: 4 },
  { arbitrary: fc.constantFrom('0', '-1', '1.5', '1e3', '0x1', ' 1', '+1', '2147483647', '2147483648', '99999999999999999999', 'LATEST', 'Latest', '00000000-0000-0000-0000-000000000000'), weight: 3 },
);

/** Values for one parameter: the world's (hint), ones that fit its schema, edge text and raw encodings. */
export function paramPlan(doc: OpenApiDocument, parameter: Parameter, hint?: fc.Arbitrary<unknown>): fc.Arbitrary<ParamPlan> {
  const fit = fitting(doc, parameter.schema).map((value) => String(value));
  return fc.oneof(
    ...(hint ? [{ arbitrary: hint.map<ParamPlan>((value) => ({ encoded: false, value })), weight: 10 }] : []),
    { arbitrary: fit.map<ParamPlan>((value) => ({ encoded: false, value })), weight: 2 },
    { arbitrary: paramText.map<ParamPlan>((value) => ({ encoded: false, value })), weight: 2 },
    { arbitrary: fc.constantFrom(...RAW_SEGMENTS).map<ParamPlan>((value) => ({ encoded: true, value })), weight: 1 },
  );
}

/**
 * Percent-encodes text as UTF-8, as encodeURIComponent does, except that a lone surrogate (which
 * encodeURIComponent refuses) becomes the three bytes a careless encoder would write for it.
 */
export function encodeText(text: string): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    const pairs = code >= 0xd800 && code <= 0xdbff && i + 1 < text.length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00;
    if (code >= 0xd800 && code <= 0xdfff && !pairs) {
      out += `%${(0xe0 | (code >> 12)).toString(16).toUpperCase()}%${(0x80 | ((code >> 6) & 0x3f)).toString(16).toUpperCase()}%${(0x80 | (code & 0x3f)).toString(16).toUpperCase()}`;
      continue;
    }
    const char = pairs ? text.slice(i, ++i + 1) : text[i]!;
    out += encodeURIComponent(char);
  }
  return out;
}

export async function renderParam<C>(plan: ParamPlan, context: C): Promise<string> {
  return plan.encoded ? plan.value : encodeText(String(await materialise(plan.value, context)));
}

/** Extra query text appended to any request: repeated, bracketed and malformed parameters. */
export const extraQuery = fc.oneof(
  { arbitrary: fc.constant(''), weight: 12 },
  { arbitrary: fc.constantFrom('a=1&a=2', 'x[y]=1', '__proto__[polluted]=1', 'constructor.prototype.polluted=1', '%', '&&&', '=', 'waitSeconds=1&waitSeconds=2', 'federationId=a&federationId=b', '%00=%00', `q=${'z'.repeat(5000)}`), weight: 1 },
);

// ─── Headers ─────────────────────────────────────────────────────────────────────────────────────────────

/** How a key goes into the Authorization header: right, or one of the ways clients get it wrong. */
export type AuthForm = 'bearer' | 'lowercase' | 'uppercase' | 'double-space' | 'tab' | 'trailing-space' | 'no-scheme' | 'basic' | 'token' | 'appended' | 'truncated' | 'twice';

export const authForm: fc.Arbitrary<AuthForm> = fc.oneof(
  { arbitrary: fc.constant<AuthForm>('bearer'), weight: 20 },
  { arbitrary: fc.constantFrom<AuthForm>('lowercase', 'uppercase', 'double-space', 'tab', 'trailing-space', 'no-scheme', 'basic', 'token', 'appended', 'truncated', 'twice'), weight: 3 },
);

/** The header value(s) for a key in a form. */
export function authorizationFor(key: string, form: AuthForm): string | string[] {
  switch (form) {
    case 'bearer':
      return `Bearer ${key}`;
    case 'lowercase':
      return `bearer ${key}`;
    case 'uppercase':
      return `BEARER ${key}`;
    case 'double-space':
      return `Bearer  ${key}`;
    case 'tab':
      return `Bearer\t${key}`;
    case 'trailing-space':
      return `Bearer ${key} `;
    case 'no-scheme':
      return key;
    case 'basic':
      return `Basic ${Buffer.from(`${key}:`).toString('base64')}`;
    case 'token':
      return `Token ${key}`;
    case 'appended':
      return `Bearer ${key}x`;
    case 'truncated':
      return `Bearer ${key.slice(0, -1)}`;
    case 'twice':
      return [`Bearer ${key}`, `Bearer ${key}`];
  }
}

/** Authorization values that hold no key: empty, schemes alone, junk, one near and one over Node's limit. */
export const junkAuthorization: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom('', 'Bearer', 'Bearer ', 'Bearer null', 'Bearer undefined', 'Basic', 'Basic Og==', 'Bearer fso_', 'Bearer fsk_x', 'Bearer ' + 'A'.repeat(8000), 'Bearer ' + 'A'.repeat(20_000), 'Bearer é\u00ff', 'Negotiate TlRMTVNTUAAB'),
  fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((code) => String.fromCharCode(code)), maxLength: 60 }).map((text) => `Bearer ${text}`),
);

/** Other request headers, mostly none: odd Accept, encodings, request ids, origins. */
export const extraHeaders: fc.Arbitrary<Record<string, string>> = fc.oneof(
  { arbitrary: fc.constant({}), weight: 10 },
  {
    arbitrary: fc.dictionary(
      fc.constantFrom('accept', 'accept-encoding', 'accept-charset', 'content-encoding', 'x-request-id', 'origin', 'x-forwarded-for', 'x-http-method-override', 'if-none-match', 'range'),
      fc.constantFrom(
        'text/html',
        'application/xml',
        '*/*',
        'application/octet-stream',
        'application/octet-stream;q=0, application/json',
        'application/json;q=abc, application/octet-stream;q=1e400',
        'gzip',
        'br, deflate',
        'identity',
        'x'.repeat(200),
        'a\u00ffb',
        '../../',
        'DELETE',
        'bytes=0-1',
        '',
        'https://evil.example',
        '127.0.0.1, 10.0.0.1',
        'req-1',
      ),
      { maxKeys: 3 },
    ),
    weight: 2,
  },
);

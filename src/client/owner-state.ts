/**
 * An owner agent's state directory — the only place its secrets are written:
 *
 *   owner.json     who this agent is: server, federation, owner id, API key, Ed25519 identity key, and the
 *                  charter it pinned at enrolment (mode 0600)
 *   journal.jsonl  what it did in each round, one JSON line per step, appended and fsynced
 *   round-key-N.json  the X25519 key this agent generated for its committee seat in round N (mode 0600),
 *                  written before its public half is published; deleted once its partial sum is in
 *   identities.json   the identity key first seen for each lottery volunteer (trust on first use)
 *   pending-N.json an update prepared for round N but not yet acknowledged (mode 0600), so a restarted
 *                  agent sends the same update instead of training again; deleted once acknowledged
 *   agent.lock     the pid of the agent using the directory; a second agent is refused
 *
 * A state file readable by group or others is refused rather than used: it holds keys.
 */
import { constants } from 'node:fs';
import { hostname } from 'node:os';
import { appendFile, chmod, mkdir, open, readFile, readdir, rename, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { MemoryIdentityPins, type IdentityPins } from './committee-trust.js';

export const IDENTITY_FILE = 'owner.json';
export const JOURNAL_FILE = 'journal.jsonl';
export const LOCK_FILE = 'agent.lock';

const identitySchema = z.object({
  version: z.literal(1),
  server: z.string().url(),
  federationId: z.string().min(1),
  ownerId: z.string().min(1),
  name: z.string(),
  role: z.enum(['owner', 'aggregator']),
  apiKey: z.string().min(1),
  /** Raw Ed25519 keys, base64 (the private one is the 32-byte seed): signs this party's committee keys. */
  identity: z.object({ publicKey: z.string(), privateKey: z.string() }).nullable(),
  /** The charter pinned at enrolment: its fingerprint and the document itself, checked again at every start. */
  charter: z.object({ fingerprint: z.string().regex(/^[0-9a-f]{64}$/), document: z.unknown() }),
  committeeVolunteer: z.boolean(),
  enrolledAt: z.string(),
});
export type OwnerIdentity = z.infer<typeof identitySchema>;

const journalEntrySchema = z.discriminatedUnion('event', [
  z.object({ event: z.literal('trained'), round: z.number().int(), at: z.string(), samples: z.number().int(), loss: z.number().nullable() }),
  z.object({ event: z.literal('submitted'), round: z.number().int(), at: z.string(), samples: z.number().int().nullable(), loss: z.number().nullable(), resumed: z.boolean() }),
  z.object({ event: z.literal('missed'), round: z.number().int(), at: z.string(), reason: z.string() }),
  z.object({ event: z.literal('summed'), round: z.number().int(), at: z.string(), position: z.number().int(), owners: z.number().int().nullable(), resumed: z.boolean() }),
  z.object({ event: z.literal('missed-sum'), round: z.number().int(), at: z.string(), reason: z.string() }),
]);
export type JournalEntry = z.infer<typeof journalEntrySchema>;
/** A journal entry before it is stamped. */
export type JournalRecord = JournalEntry extends infer E ? (E extends JournalEntry ? Omit<E, 'at'> : never) : never;

/** What was prepared for a round and must reach the server exactly once: a plain update, moments or tallies, or secure shares. */
export const pendingUploadSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('evaluation'), round: z.number().int(), samples: z.number().int(), loss: z.null(), body: z.object({ tallies: z.array(z.number()) }) }),
  z.object({ kind: z.literal('statistics'), round: z.number().int(), samples: z.number().int(), loss: z.null(), body: z.object({ moments: z.array(z.number()) }) }),
  z.object({ kind: z.literal('update'), round: z.number().int(), samples: z.number().int(), loss: z.number().nullable(), body: z.object({ weights: z.array(z.number()), numSamples: z.number().int(), metrics: z.record(z.string(), z.number()) }) }),
  z.object({ kind: z.literal('shares'), round: z.number().int(), samples: z.number().int(), loss: z.number().nullable(), uploadBytes: z.number().int(), body: z.object({ envelopes: z.array(z.object({ recipientId: z.string(), envelope: z.string() })) }) }),
]);
export type PendingUpload = z.infer<typeof pendingUploadSchema>;

/** Raw X25519 keys, base64. */
const roundKeySchema = z.object({ round: z.number().int(), publicKey: z.string(), privateKey: z.string() });
export type RoundKey = z.infer<typeof roundKeySchema>;

/** Where an agent keeps what it did: files for `fedscore owner`, memory for a simulation. */
export interface AgentJournal {
  entries(): readonly JournalEntry[];
  record(entry: JournalRecord): Promise<void>;
  savePending(upload: PendingUpload): Promise<void>;
  loadPending(round: number): Promise<PendingUpload | undefined>;
  clearPending(round: number): Promise<void>;
  /** A committee seat's key for one round: saved before its public half is published, so a restart reuses it. */
  saveRoundKey(key: RoundKey): Promise<void>;
  loadRoundKey(round: number): Promise<RoundKey | undefined>;
  clearRoundKey(round: number): Promise<void>;
  /** Rounds a key is still kept for. */
  roundKeyRounds(): Promise<number[]>;
  /** Identity keys seen for other owners (lottery volunteers), trusted on first use. */
  readonly pins: IdentityPins;
}

/** The rounds a journal says this owner submitted to, and summed as a committee member. */
export function journalSummary(entries: readonly JournalEntry[]): { submitted: number[]; committee: number[]; missed: number[] } {
  const pick = (event: JournalEntry['event']) => [...new Set(entries.filter((e) => e.event === event).map((e) => e.round))].sort((a, b) => a - b);
  return { submitted: pick('submitted'), committee: pick('summed'), missed: pick('missed') };
}

export class MemoryJournal implements AgentJournal {
  readonly #entries: JournalEntry[] = [];
  readonly #pending = new Map<number, PendingUpload>();
  readonly #roundKeys = new Map<number, RoundKey>();
  readonly pins: IdentityPins = new MemoryIdentityPins();
  async saveRoundKey(key: RoundKey): Promise<void> {
    this.#roundKeys.set(key.round, key);
  }
  async loadRoundKey(round: number): Promise<RoundKey | undefined> {
    return this.#roundKeys.get(round);
  }
  async clearRoundKey(round: number): Promise<void> {
    this.#roundKeys.delete(round);
  }
  async roundKeyRounds(): Promise<number[]> {
    return [...this.#roundKeys.keys()];
  }
  entries(): readonly JournalEntry[] {
    return this.#entries;
  }
  async record(entry: JournalRecord): Promise<void> {
    this.#entries.push({ ...entry, at: new Date().toISOString() } as JournalEntry);
  }
  async savePending(upload: PendingUpload): Promise<void> {
    this.#pending.set(upload.round, upload);
  }
  async loadPending(round: number): Promise<PendingUpload | undefined> {
    return this.#pending.get(round);
  }
  async clearPending(round: number): Promise<void> {
    this.#pending.delete(round);
  }
}

/** A problem with the state directory a user can act on; the CLI prints the message and exits 1. */
export class StateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StateError';
  }
}

export class OwnerStateDir implements AgentJournal {
  readonly #entries: JournalEntry[];
  readonly pins: IdentityPins;

  private constructor(
    readonly dir: string,
    readonly identity: OwnerIdentity,
    entries: JournalEntry[],
    pins: Record<string, string>,
  ) {
    this.#entries = entries;
    this.pins = new FileIdentityPins(path.join(dir, IDENTITIES_FILE), pins);
  }

  /** Refuses, before anything is sent to a server, a directory that already holds an owner. */
  static async assertFree(dir: string): Promise<void> {
    const file = path.join(dir, IDENTITY_FILE);
    try {
      await stat(file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw new StateError(`cannot use ${dir}: ${describeFsError(error)}`);
    }
    throw new StateError(`${file} already exists: this state directory belongs to owner ${await existingOwner(file)}; use another --state directory`);
  }

  /** Writes a new identity; refuses a directory that already holds one (enrolling twice would orphan the first). */
  static async create(dir: string, identity: OwnerIdentity): Promise<OwnerStateDir> {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const file = path.join(dir, IDENTITY_FILE);
    let handle;
    try {
      handle = await open(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
        throw new StateError(`${file} already exists: this state directory belongs to owner ${await existingOwner(file)}; use another --state directory`);
      }
      throw new StateError(`cannot create ${file}: ${describeFsError(error)}`);
    }
    try {
      await handle.writeFile(`${JSON.stringify(identity, null, 2)}\n`);
      await handle.sync();
    } finally {
      await handle.close();
    }
    return new OwnerStateDir(dir, identity, [], {});
  }

  /** Reads the identity and journal; refuses a state file others could read. */
  static async open(dir: string): Promise<OwnerStateDir> {
    const file = path.join(dir, IDENTITY_FILE);
    await assertPrivate(file);
    let json: unknown;
    try {
      json = JSON.parse(await readFile(file, 'utf8'));
    } catch (error) {
      throw new StateError(`${file} is not a readable owner state file (${error instanceof SyntaxError ? 'not JSON' : describeFsError(error)})`);
    }
    const parsed = identitySchema.safeParse(json);
    if (!parsed.success) throw new StateError(`${file} is not an owner state file: ${parsed.error.issues[0]?.path.join('.')}: ${parsed.error.issues[0]?.message}`);
    return new OwnerStateDir(dir, parsed.data, await readJournal(path.join(dir, JOURNAL_FILE)), await readPins(path.join(dir, IDENTITIES_FILE)));
  }

  /**
   * Stores a rotated API key in owner.json, written to a temporary file, synced and renamed over the old
   * one, so a crash leaves either the old file or the new, never a torn one.
   */
  async replaceApiKey(apiKey: string): Promise<OwnerStateDir> {
    const identity = { ...this.identity, apiKey };
    await writePrivateAtomically(path.join(this.dir, IDENTITY_FILE), `${JSON.stringify(identity, null, 2)}\n`);
    return OwnerStateDir.open(this.dir);
  }

  entries(): readonly JournalEntry[] {
    return this.#entries;
  }

  /** Appends one line and fsyncs it before returning: the step it records has happened. */
  async record(entry: JournalRecord): Promise<void> {
    const stamped = { ...entry, at: new Date().toISOString() } as JournalEntry;
    const file = path.join(this.dir, JOURNAL_FILE);
    await appendFile(file, `${JSON.stringify(stamped)}\n`, { mode: 0o600 });
    const handle = await open(file, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
    this.#entries.push(stamped);
  }

  async savePending(upload: PendingUpload): Promise<void> {
    await writePrivateAtomically(this.#pendingFile(upload.round), `${JSON.stringify(upload)}\n`);
  }

  async loadPending(round: number): Promise<PendingUpload | undefined> {
    const file = this.#pendingFile(round);
    const text = await readPrivateIfExists(file);
    if (text === undefined) return undefined;
    try {
      const parsed = pendingUploadSchema.safeParse(JSON.parse(text));
      if (parsed.success && parsed.data.round === round) return parsed.data;
    } catch {
      // torn by a crash mid-write (the rename makes that unlikely): train again
    }
    return undefined;
  }

  async clearPending(round: number): Promise<void> {
    await removeIfExists(this.#pendingFile(round));
  }

  /** Rounds with an update still waiting to be acknowledged. */
  async pendingRounds(): Promise<number[]> {
    return roundsWithFile(this.dir, 'pending');
  }

  /**
   * Takes the directory for this process. A lock left by a process that no longer runs (on this host) is
   * taken over; a live one is refused. Returns the release function.
   */
  async lock(): Promise<() => Promise<void>> {
    const file = path.join(this.dir, LOCK_FILE);
    const mine = { pid: process.pid, host: hostname(), startedAt: new Date().toISOString() };
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const handle = await open(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
        await handle.writeFile(JSON.stringify(mine));
        await handle.close();
        return async () => {
          await unlink(file).catch(() => {});
        };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw new StateError(`cannot lock ${this.dir}: ${describeFsError(error)}`);
      }
      const holder = await readFile(file, 'utf8')
        .then((text) => JSON.parse(text) as { pid?: number; host?: string })
        .catch(() => ({}) as { pid?: number; host?: string });
      if (holder.host !== undefined && holder.host !== mine.host) {
        throw new StateError(`${this.dir} is in use by an agent on host ${holder.host} (pid ${holder.pid}); if it is gone, delete ${file}`);
      }
      if (holder.pid !== undefined && isAlive(holder.pid)) {
        throw new StateError(`${this.dir} is in use by another agent (pid ${holder.pid}); one agent per state directory`);
      }
      await unlink(file).catch(() => {}); // left by an agent that died: take it over
    }
    throw new StateError(`cannot lock ${this.dir}: another agent keeps taking the lock`);
  }

  async saveRoundKey(key: RoundKey): Promise<void> {
    await writePrivateAtomically(this.#roundKeyFile(key.round), `${JSON.stringify(key)}\n`);
  }

  async loadRoundKey(round: number): Promise<RoundKey | undefined> {
    const file = this.#roundKeyFile(round);
    const text = await readPrivateIfExists(file);
    if (text === undefined) return undefined;
    const parsed = roundKeySchema.safeParse(JSON.parse(text));
    if (!parsed.success || parsed.data.round !== round) throw new StateError(`${file} is not a round key file`);
    return parsed.data;
  }

  async clearRoundKey(round: number): Promise<void> {
    await removeIfExists(this.#roundKeyFile(round));
  }

  async roundKeyRounds(): Promise<number[]> {
    return roundsWithFile(this.dir, 'round-key');
  }

  #pendingFile(round: number): string {
    return path.join(this.dir, `pending-${round}.json`);
  }

  #roundKeyFile(round: number): string {
    return path.join(this.dir, `round-key-${round}.json`);
  }
}

export const IDENTITIES_FILE = 'identities.json';

/** Identity pins kept in a file, rewritten atomically when a new one is added. */
class FileIdentityPins implements IdentityPins {
  constructor(
    private readonly file: string,
    private readonly pins: Record<string, string>,
  ) {}
  get(ownerId: string): string | undefined {
    return Object.hasOwn(this.pins, ownerId) ? this.pins[ownerId] : undefined;
  }
  async set(ownerId: string, identityKey: string): Promise<void> {
    this.pins[ownerId] = identityKey;
    await writePrivateAtomically(this.file, `${JSON.stringify(this.pins, null, 2)}\n`);
  }
}

async function readPins(file: string): Promise<Record<string, string>> {
  const text = await readIfExists(file);
  if (text === undefined) return {};
  const parsed = z.record(z.string(), z.string()).safeParse(JSON.parse(text));
  if (!parsed.success) throw new StateError(`${file} is not an identities file`);
  return parsed.data;
}

/** A state file's text, or undefined when there is none. */
async function readIfExists(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new StateError(`cannot read ${file}: ${describeFsError(error)}`);
  }
}

/** A state file holding a secret: its text once it is known that only the owner can read it. */
async function readPrivateIfExists(file: string): Promise<string | undefined> {
  const text = await readIfExists(file);
  if (text !== undefined) await assertPrivate(file);
  return text;
}

async function removeIfExists(file: string): Promise<void> {
  await unlink(file).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'ENOENT') throw error;
  });
}

/** The rounds that have a `<prefix>-N.json` file in the state directory, ascending. */
async function roundsWithFile(dir: string, prefix: string): Promise<number[]> {
  const pattern = new RegExp(`^${prefix}-(\\d+)\\.json$`);
  return (await readdir(dir)).flatMap((name) => pattern.exec(name)?.[1] ?? []).map(Number).sort((a, b) => a - b);
}

/** Refuses a file group or others can read or write (it holds an API key or a private key). */
async function assertPrivate(file: string): Promise<void> {
  let info;
  try {
    info = await stat(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new StateError(`${file} does not exist: run \`fedscore owner enrol --state ${path.dirname(file)} …\` first`);
    throw new StateError(`cannot read ${file}: ${describeFsError(error)}`);
  }
  if (process.platform === 'win32') return; // modes mean nothing there; NTFS ACLs are the user's business
  const loose = info.mode & 0o077;
  if (loose !== 0) {
    const mode = (info.mode & 0o777).toString(8).padStart(4, '0');
    throw new StateError(`${file} is readable or writable by group or others (mode ${mode}) and holds secret keys; run \`chmod 600 ${file}\` and check who could have read it`);
  }
}

async function readJournal(file: string): Promise<JournalEntry[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new StateError(`cannot read ${file}: ${describeFsError(error)}`);
  }
  const entries: JournalEntry[] = [];
  const lines = text.split('\n');
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    let parsed: ReturnType<typeof journalEntrySchema.safeParse>;
    try {
      parsed = journalEntrySchema.safeParse(JSON.parse(line));
    } catch {
      // Only the last line can be torn (a crash mid-append); anything else is damage worth reporting.
      if (i >= lines.length - 2) return;
      throw new StateError(`${file} line ${i + 1} is not JSON; the journal is damaged`);
    }
    if (!parsed.success) throw new StateError(`${file} line ${i + 1} is not a journal entry`);
    entries.push(parsed.data);
  });
  return entries;
}

async function writePrivateAtomically(file: string, text: string): Promise<void> {
  const temporary = `${file}.${process.pid}.tmp`;
  const handle = await open(temporary, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC, 0o600);
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await chmod(temporary, 0o600);
  await rename(temporary, file);
}

async function existingOwner(file: string): Promise<string> {
  try {
    return (JSON.parse(await readFile(file, 'utf8')) as { ownerId?: string }).ownerId ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by someone else
  }
}

const FS_REASONS: Record<string, string> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EISDIR: 'is a directory',
  ENOTDIR: 'a path component is not a directory',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on the device',
};

export function describeFsError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException)?.code;
  return (code && FS_REASONS[code]) ?? (error instanceof Error ? error.message : String(error));
}

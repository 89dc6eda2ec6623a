/**
 * Holds the requests that wait for a federation's current round to change
 * (`GET …/rounds/current?waitSeconds=N&after=TAG`), so thousands of idle owner agents cost one pending
 * promise each instead of a poll each. A transition this instance makes wakes its waiters at once; one
 * made by another instance sharing the database is found by a single query per federation with waiters
 * every `pollMs`, since the database is all that instances share. Waiters only ever re-check: a wake-up
 * is a hint, never the answer, so a spurious one costs a query and nothing else.
 */

export interface RoundWatchOptions {
  /** How often to look for changes made by other instances while anyone waits. */
  pollMs: number;
  /** Waiters one instance holds at most; past that a wait is refused (503 with Retry-After). */
  maxWaiters: number;
  /** The federation's current round tag, read from the database. */
  currentTag(federationId: string): Promise<string>;
  /** Failures of the cross-instance poll (it keeps running). */
  onPollError?(error: unknown): void;
}

interface Waiter {
  after: string;
  wake(): void;
}

export class RoundWatch {
  readonly #options: RoundWatchOptions;
  readonly #waiters = new Map<string, Set<Waiter>>();
  #count = 0;
  #timer: NodeJS.Timeout | undefined;
  #polling = false;
  #closed = false;

  constructor(options: RoundWatchOptions) {
    if (!(options.pollMs > 0)) throw new Error(`RoundWatch: expected a positive pollMs, got ${options.pollMs}`);
    if (!(Number.isInteger(options.maxWaiters) && options.maxWaiters >= 0)) {
      throw new Error(`RoundWatch: expected a non-negative whole maxWaiters, got ${options.maxWaiters}`);
    }
    this.#options = options;
  }

  /** Requests waiting right now on this instance. */
  get waiting(): number {
    return this.#count;
  }

  /** False when this instance already holds `maxWaiters` (or is closing): the caller should answer 503. */
  hasRoom(): boolean {
    return !this.#closed && this.#count < this.#options.maxWaiters;
  }

  /**
   * Resolves when this federation's round may have moved past `after`: a local transition, one the poll
   * found, `timeoutMs` elapsed, the caller gave up (`signal`), or the watch closed. Never rejects.
   */
  wait(federationId: string, after: string, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    if (this.#closed || timeoutMs <= 0 || signal?.aborted) return Promise.resolve();
    return new Promise<void>((resolve) => {
      let set = this.#waiters.get(federationId);
      if (!set) this.#waiters.set(federationId, (set = new Set()));
      const waiter: Waiter = {
        after,
        wake: () => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', waiter.wake);
          if (set.delete(waiter)) this.#count--;
          if (set.size === 0 && this.#waiters.get(federationId) === set) this.#waiters.delete(federationId);
          if (this.#count === 0) this.#stopPolling();
          resolve();
        },
      };
      const timer = setTimeout(waiter.wake, timeoutMs);
      signal?.addEventListener('abort', waiter.wake, { once: true });
      set.add(waiter);
      this.#count++;
      this.#startPolling();
    });
  }

  /** A transition this instance committed: everyone waiting on the federation re-checks. */
  notify(federationId: string): void {
    for (const waiter of [...(this.#waiters.get(federationId) ?? [])]) waiter.wake();
  }

  /** Releases every waiter (they answer with the round as it stands) and stops the poll; waits after this return at once. */
  close(): void {
    this.#closed = true;
    for (const set of [...this.#waiters.values()]) for (const waiter of [...set]) waiter.wake();
    this.#stopPolling();
  }

  #startPolling(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => void this.#poll(), this.#options.pollMs);
    this.#timer.unref();
  }

  #stopPolling(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** One query per federation with waiters; wakes exactly those whose tag is stale. */
  async #poll(): Promise<void> {
    if (this.#polling) return;
    this.#polling = true;
    try {
      for (const [federationId, set] of [...this.#waiters]) {
        const tag = await this.#options.currentTag(federationId);
        for (const waiter of [...set]) if (waiter.after !== tag) waiter.wake();
      }
    } catch (error) {
      this.#options.onPollError?.(error);
    } finally {
      this.#polling = false;
    }
  }
}

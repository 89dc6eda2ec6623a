/**
 * Group commit: contributions to one round that arrive while a transaction is writing earlier ones wait and
 * are then written together, in one transaction, instead of each paying for its own. A batch starts at the
 * end of the event loop's current turn (setImmediate, not a timer), so the contributions whose requests
 * were read in the same turn join it: on SQLite, where a transaction is written synchronously and nothing
 * can arrive while it runs, that is the only way a batch forms. A quiet server answers as fast as before;
 * under load a transaction's fixed cost — BEGIN, the round row's lock, COMMIT — is shared by the whole batch. Every
 * caller is answered only after the transaction holding its contribution has committed, so an
 * acknowledged contribution is as durable as one written alone.
 */

/** How one item of a batch ended. */
export type Outcome<R> = { ok: true; value: R } | { ok: false; error: unknown };

interface Waiting<T, R> {
  item: T;
  resolve(value: R): void;
  reject(error: unknown): void;
}

export class GroupCommit<T, R> {
  private readonly queues = new Map<string, Waiting<T, R>[]>();

  /**
   * `commit` writes one batch (all items share a key) and says how each item ended; if it throws instead,
   * every item of the batch fails with that error. At most one batch per key is being written at a time.
   */
  constructor(
    private readonly commit: (items: T[]) => Promise<Outcome<R>[]>,
    private readonly maxBatch = 256,
    /** Told each batch's size as it is written (for the metrics). */
    private readonly onBatch: (size: number) => void = () => {},
  ) {}

  submit(key: string, item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      const queue = this.queues.get(key);
      if (queue) {
        queue.push({ item, resolve, reject });
        return;
      }
      // No batch of this key is being written: this item starts one now.
      this.queues.set(key, [{ item, resolve, reject }]);
      void this.drain(key);
    });
  }

  private async drain(key: string): Promise<void> {
    await new Promise((resolve) => setImmediate(resolve));
    const queue = this.queues.get(key)!;
    while (queue.length > 0) {
      const batch = queue.splice(0, this.maxBatch);
      this.onBatch(batch.length);
      let outcomes: Outcome<R>[];
      try {
        outcomes = await this.commit(batch.map((waiting) => waiting.item));
        if (outcomes.length !== batch.length) throw new Error(`GroupCommit: expected ${batch.length} outcomes, got ${outcomes.length}`);
      } catch (error) {
        outcomes = batch.map(() => ({ ok: false, error }));
      }
      batch.forEach((waiting, i) => {
        const outcome = outcomes[i]!;
        if (outcome.ok) waiting.resolve(outcome.value);
        else waiting.reject(outcome.error);
      });
    }
    this.queues.delete(key);
  }
}

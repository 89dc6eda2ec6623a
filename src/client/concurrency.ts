/**
 * Bounded concurrency for driving many owners at once: enough requests in flight to keep the server busy,
 * few enough that a thousand simulated owners do not open a thousand sockets or train all at once.
 */

/**
 * Maps `items` through `task` with at most `limit` tasks running, keeping results in input order. After
 * the first failure (or an abort) no new task starts; the promise rejects once the running ones settle,
 * so nothing is left writing behind the caller's back.
 */
export async function mapWithConcurrency<T, R>(
  items: readonly T[],
  limit: number,
  task: (item: T, index: number) => Promise<R>,
  signal?: AbortSignal,
): Promise<R[]> {
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`mapWithConcurrency: expected a positive whole limit, got ${limit}`);
  const results = new Array<R>(items.length);
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (failure === undefined && next < items.length) {
      if (signal?.aborted) {
        failure = { error: signal.reason };
        return;
      }
      const index = next++;
      try {
        results[index] = await task(items[index] as T, index);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure !== undefined) throw failure.error;
  return results;
}

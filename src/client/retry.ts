/**
 * Riding out a server that restarts, sheds load or sits behind a flaky network: transient failures
 * (connection refused or reset, a timeout, 5xx, 429) are retried with capped exponential backoff and full
 * jitter, so a fleet of owner agents does not come back in lockstep, and a server's Retry-After is never
 * undercut. Anything else — a 4xx saying the request itself is wrong — fails at once.
 */

export interface RetryPolicy {
  /** First backoff; each retry doubles it, up to maxDelayMs. */
  initialDelayMs: number;
  maxDelayMs: number;
  /** Stop retrying once this much time has passed since the first attempt; the last error is thrown. */
  giveUpAfterMs: number;
  /** Uniform in [0, 1); injectable for tests. */
  random?: () => number;
  /** Told before each wait, e.g. to print "server unreachable, retrying in 4 s". */
  onRetry?: (info: { attempt: number; delayMs: number; error: unknown }) => void;
  /**
   * Retry only the answers in which a server asked to be asked again later (429 over a rate limit, 503
   * shedding load), and let anything else — an unreachable server, a 500 — fail at once: for a run that
   * should stop at the first real failure but ride out a server's limits.
   */
  onlyWhenAsked?: boolean;
}

/** What an owner agent uses by default: quick first retries, a minute apart at most, for ten minutes. */
export const AGENT_RETRY: RetryPolicy = { initialDelayMs: 500, maxDelayMs: 60_000, giveUpAfterMs: 10 * 60_000 };

/** An error that says whether trying again later may succeed, and when the server asked to be asked again. */
export interface RetryHint {
  transient: boolean;
  retryAfterMs?: number | undefined;
}

/** Full jitter (AWS architecture blog, "Exponential Backoff and Jitter"): uniform in [0, min(max, initial·2^attempt)]. */
export function backoffDelay(attempt: number, policy: RetryPolicy, retryAfterMs?: number): number {
  const random = policy.random ?? Math.random;
  const ceiling = Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** Math.min(attempt, 30));
  const jittered = random() * ceiling;
  return retryAfterMs !== undefined ? Math.max(jittered, retryAfterMs) : jittered;
}

/** Seconds or an HTTP date (RFC 9110 §10.2.3), as milliseconds from `now`; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (value === null || value === undefined || value.trim() === '') return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/**
 * Runs `work` until it succeeds, fails with an error that is not transient, the policy gives up, or
 * `signal` aborts (the wait between attempts is cut short and the abort reason thrown).
 */
export async function withRetry<T>(work: () => Promise<T>, policy: RetryPolicy, hintOf: (error: unknown) => RetryHint, signal?: AbortSignal): Promise<T> {
  const started = Date.now();
  for (let attempt = 0; ; attempt++) {
    signal?.throwIfAborted();
    try {
      return await work();
    } catch (error) {
      const hint = hintOf(error);
      if (!hint.transient || signal?.aborted) throw error;
      const delayMs = backoffDelay(attempt, policy, hint.retryAfterMs);
      if (Date.now() - started + delayMs > policy.giveUpAfterMs) throw error;
      policy.onRetry?.({ attempt: attempt + 1, delayMs, error });
      await sleep(delayMs, signal);
    }
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(done, ms);
    function done() {
      signal?.removeEventListener('abort', abort);
      resolve();
    }
    function abort() {
      clearTimeout(timer);
      reject(signal!.reason);
    }
    signal?.addEventListener('abort', abort, { once: true });
  });
}

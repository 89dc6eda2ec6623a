/**
 * Turns what went wrong talking to the server into lines an operator can act on: the server's RFC 9457
 * problem as one line per offending field (`body.training.learningRate: Too small: …`), a refused key with
 * where the key came from, and an unreachable server with its address. Nothing here prints a key or token.
 */
import { FedscoreApiError, FedscoreContractError } from '../../client/http-client.js';

/** What to do about the refusals an operator meets in the normal course of running a federation. */
const NEXT_STEPS: Record<string, string> = {
  'round-already-open': 'one round at a time: let it finish, or end it with `fedscore operator round close`',
  'committee-unavailable': 'owners volunteer for the committee by registering an identity (named committees: every aggregator node the charter lists must enrol); `fedscore operator federation show` counts the candidates',
  'round-not-open': '`fedscore operator round list` shows where each round stands',
  'federation-not-found': '`fedscore operator federation list` shows the federations on this server',
};

/**
 * Lines describing `error`, or null when it is not a server or network failure (the caller rethrows it).
 * `what` completes "the server refused …": "the federation", "to open a round".
 */
export function describeServerFailure(error: unknown, what: string, server: string): string[] | null {
  if (error instanceof FedscoreApiError) {
    const problem = error.problem;
    // A problem synthesised from a bare status line (a proxy, not fedscore) has only its title to show.
    const kind = problem.type === 'about:blank' ? problem.title : error.problemSlug;
    const head = `the server refused ${what} (${error.status} ${kind})`;
    const lines =
      problem.errors !== undefined && problem.errors.length > 0
        ? problem.errors.map((field) => `${head}: ${field.path}: ${field.message}`)
        : [`${head}: ${problem.detail}`];
    if (error.status === 401) lines.push('check --api-key or FEDSCORE_API_KEY: it must be an operator key (`fedscore admin create-key` issues one)');
    if (error.status === 403) lines.push('this looks like an owner key; operator commands need an operator key');
    const next = NEXT_STEPS[error.problemSlug];
    if (next !== undefined) lines.push(next);
    return lines;
  }
  if (error instanceof FedscoreContractError) return [error.message];
  const hint = 'check --server (or FEDSCORE_SERVER) and that the server is running';
  // The SDK's own network error, matched by name so this reads the same whichever SDK version is installed.
  if (error instanceof Error && error.name === 'FedscoreNetworkError') return [error.message, hint];
  if (error instanceof Error && error.name === 'TimeoutError') return [`the server at ${server} did not answer in time`];
  if (error instanceof TypeError && error.message === 'fetch failed') {
    const cause = error.cause as NodeJS.ErrnoException | undefined;
    const reason = cause?.code ?? cause?.message ?? 'unknown network error';
    return [`cannot reach ${server}: ${reason}`, hint];
  }
  return null;
}

/** What every `fedscore operator` subcommand shares: one call to the server, and how its answer is written. */
import { FedscoreClient } from '../../client/http-client.js';
import { EXIT_FAILURE, EXIT_OK, writeLine, type CliIo } from '../cli-io.js';
import type { Connection } from './flags.js';
import { describeServerFailure } from './problems.js';

/** Runs `work` against the server; a refusal or an unreachable server becomes lines on stderr and exit 1. */
export async function withServer(io: CliIo, connection: Connection, what: string, work: (client: FedscoreClient) => Promise<void>): Promise<number> {
  const client = new FedscoreClient({ baseUrl: connection.server, apiKey: connection.apiKey });
  try {
    await work(client);
    return EXIT_OK;
  } catch (error) {
    const lines = describeServerFailure(error, what, connection.server);
    if (lines === null) throw error;
    for (const line of lines) writeLine(io.stderr, `fedscore operator: ${line}`);
    return EXIT_FAILURE;
  }
}

export function writeLines(io: CliIo, lines: string[]): void {
  for (const line of lines) writeLine(io.stdout, line);
}

export function writeJson(io: CliIo, value: unknown): void {
  writeLine(io.stdout, JSON.stringify(value));
}

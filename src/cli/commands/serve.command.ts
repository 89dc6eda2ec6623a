/**
 * `fedscore serve`: runs the API server with settings from the environment until SIGINT or SIGTERM, then
 * closes gracefully (in-flight requests finish, the database disconnects). A second signal during that
 * close exits at once, for the operator whose shutdown is stuck.
 */
import { loadConfig } from '../../config.js';
import { startServer } from '../../server.js';
import { EXIT_OK, parseCommandArgs, readNumber, writeLine, type CliIo, type Command } from '../cli-io.js';

const USAGE = `Usage: fedscore serve [--port N]

Starts the fedscore API server. Settings come from the environment: PORT, HOST, DATA_DIR, DATABASE_URL,
ADMIN_API_KEY, METRICS_TOKEN, LOG_LEVEL, TF_BACKEND, BODY_LIMIT, DEADLINE_SWEEP_MS. The database is migrated on
start.

Options:
  --port N      listen on this port instead of PORT (0 picks a free one)
  -h, --help    show this help`;

export const serveCommand: Command = {
  name: 'serve',
  usage: USAGE,
  async run(args: string[], io: CliIo): Promise<number> {
    const values = parseCommandArgs(USAGE, args, { port: { type: 'string' } } as const, io);
    if (values === null) return EXIT_OK;
    const env = { ...io.env };
    if (values.port !== undefined) env.PORT = String(readNumber(values.port, '--port', 0, { integer: true, min: 0, max: 65_535 }));
    const config = loadConfig(env);

    const server = await startServer(config, { logger: true });
    writeLine(io.stdout, `fedscore listening on ${server.url}`);
    writeLine(io.stdout, `Swagger UI: ${server.url}/docs`);
    if (config.ADMIN_API_KEY === undefined) {
      writeLine(io.stdout, 'Operator key: run `npx fedscore admin create-key` (prints a new key once), or set ADMIN_API_KEY');
    }

    const signal = await new Promise<NodeJS.Signals>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    writeLine(io.stderr, `fedscore: ${signal} received, closing (send it again to exit at once)`);
    const forceExit = (): never => process.exit(130);
    process.once('SIGINT', forceExit);
    process.once('SIGTERM', forceExit);
    try {
      await server.close();
    } finally {
      process.off('SIGINT', forceExit);
      process.off('SIGTERM', forceExit);
    }
    return EXIT_OK;
  },
};

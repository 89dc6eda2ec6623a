/**
 * What the server logs, and what it never logs. Fastify's logger writes one JSON object per line (pino);
 * every line of a request carries its `reqId`, which is the caller's X-Request-Id when that is a sane token
 * (so a request can be followed through a proxy and a client's own logs) and a random UUID otherwise.
 *
 * Nothing secret reaches a line: a request is logged as its method, URL, host and peer — never its headers
 * (Authorization carries keys) or body (keys, enrolment tokens, weights, shares, partial sums, CKKS keys
 * and ciphertexts, applicants' records); a reply as its status; an error as its type, message, code,
 * status and stack only — not the other properties errors carry, such as the raw request bytes, headers
 * included, that Node attaches to a malformed request (logged at trace), or the input a validation error
 * holds. Anything shaped like one of our keys (`fso_`, `fsl_`, `fsk_`, `fse_`), or equal to ADMIN_API_KEY or
 * METRICS_TOKEN, is masked in URLs and messages, for the client that puts a key where it does not belong.
 * test/e2e/log-leaks.test.ts searches every line of a whole run for every secret it handled.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { FastifyRequest, FastifyServerOptions } from 'fastify';
import type { Config } from '../config.js';

export const REQUEST_ID_HEADER = 'x-request-id';

/** What a caller's request id may be: short, and nothing that could forge a log line or a header. */
const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The caller's X-Request-Id when it is a sane token (sent once), else a fresh UUID. */
export function requestIdOf(request: Pick<IncomingMessage, 'headers'>): string {
  const given = request.headers[REQUEST_ID_HEADER];
  return typeof given === 'string' && SANE_REQUEST_ID.test(given) ? given : randomUUID();
}

/** Where the lines go and from which level; the rest of the logger's settings are not the caller's to change. */
export interface LogOptions {
  level?: Config['LOG_LEVEL'];
  /** A pino destination (default stdout): tests pass one that keeps the lines in memory. */
  stream?: { write(line: string): void };
}

/** Our key formats: a prefix and 256 bits of base64url (shorter runs are masked too, in case of a cut key). */
const KEY_PATTERN = /(fs[olke])_[A-Za-z0-9_-]{16,}/g;

/** `text` with anything that looks like one of our keys, or equals one of `secrets`, masked. */
export function maskSecrets(text: string, secrets: readonly string[] = []): string {
  let masked = text.replace(KEY_PATTERN, '$1_[redacted]');
  for (const secret of secrets) masked = masked.split(secret).join('[redacted]');
  return masked;
}

type LoggedError = {
  type: string;
  message: string;
  stack: string;
  code?: string;
  statusCode?: number;
  cause?: LoggedError;
};

/** An error as logged: an allow-list of fields, so whatever else an error object carries stays out. */
export function serializeError(error: unknown, secrets: readonly string[] = [], depth = 0): LoggedError {
  if (!(error instanceof Error)) return { type: typeof error, message: maskSecrets(String(error), secrets), stack: '' };
  const { code, statusCode } = error as { code?: unknown; statusCode?: unknown };
  return {
    type: error.constructor?.name ?? error.name,
    message: maskSecrets(error.message, secrets),
    stack: maskSecrets(error.stack ?? '', secrets),
    ...(typeof code === 'string' && { code }),
    ...(typeof statusCode === 'number' && { statusCode }),
    // A bounded chain: a cause is usually the database's or a worker's error behind ours.
    ...(error.cause !== undefined && depth < 3 && { cause: serializeError(error.cause, secrets, depth + 1) }),
  };
}

type LoggerSettings = Exclude<FastifyServerOptions['logger'], boolean | undefined>;

/**
 * Fastify's logger options: level and destination from `options`, the serializers and redaction above from
 * here. Each request's child logger carries `reqId`; Fastify adds it.
 */
export function loggerOptions(config: Pick<Config, 'LOG_LEVEL' | 'ADMIN_API_KEY' | 'METRICS_TOKEN'>, options: LogOptions = {}): LoggerSettings {
  const secrets = [config.ADMIN_API_KEY, config.METRICS_TOKEN].filter((secret): secret is string => secret !== undefined);
  return {
    level: options.level ?? config.LOG_LEVEL,
    ...(options.stream && { stream: options.stream }),
    serializers: {
      req: (request: FastifyRequest) => ({
        method: request.method,
        url: maskSecrets(request.url, secrets),
        host: request.host,
        remoteAddress: request.ip,
        remotePort: request.socket?.remotePort,
      }),
      res: (reply: { statusCode: number }) => ({ statusCode: reply.statusCode }),
      err: (error: unknown) => serializeError(error, secrets),
    },
    // The serializers never emit headers; this keeps a future `log.info({ headers })` from emitting a key.
    redact: { paths: ['req.headers.authorization', 'headers.authorization', 'authorization'], censor: '[redacted]' },
  };
}

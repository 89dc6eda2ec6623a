/**
 * Errors of the CKKS layer. `HeInputError` is the client's fault (malformed, foreign or truncated
 * bytes, keys that do not fit the session, a parameter description the server refuses) and maps to a
 * 4xx; `HeWorkerError` is the server's (a crashed or closed worker pool) and maps to a 5xx;
 * `HeDecryptError` is raised on the client when a decrypted result fails its consistency check. Each
 * carries a stable `code` so the errors survive the trip across a worker thread and the service layer
 * can map them without parsing messages. Messages never contain keys, features or scores.
 */

export type HeInputCode =
  | 'bad-params'
  | 'bad-layout'
  | 'bad-material'
  | 'bad-ciphertext'
  | 'shape-mismatch'
  | 'missing-key'
  | 'too-large';

export class HeInputError extends Error {
  override readonly name = 'HeInputError';
  constructor(
    readonly code: HeInputCode,
    message: string,
  ) {
    super(message);
  }
}

export type HeWorkerCode = 'crashed' | 'closed' | 'timeout' | 'internal';

export class HeWorkerError extends Error {
  override readonly name = 'HeWorkerError';
  constructor(
    readonly code: HeWorkerCode,
    message: string,
  ) {
    super(message);
  }
}

export class HeDecryptError extends Error {
  override readonly name = 'HeDecryptError';
}

/** A SEAL exception's message, trimmed: SEAL's texts name the check that failed and nothing secret. */
export function sealReason(err: unknown): string {
  const text = err instanceof Error ? err.message : typeof err === 'string' ? err : 'unknown SEAL error';
  return text.split('\n')[0]!.slice(0, 160);
}

/**
 * Whether an error is a wasm trap (emscripten's "Aborted()" or a RuntimeError) rather than a SEAL
 * exception. A trapped instance has lost stack and may be corrupt: its worker must be replaced.
 */
export function isWasmTrap(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  return err.name === 'RuntimeError' || err.message.startsWith('Aborted(') || err.message.includes('memory access out of bounds');
}

/** Plain-object form for postMessage, and back. Only the three families above cross the boundary. */
export interface SerialisedError {
  name: string;
  code?: string;
  message: string;
}

export function serialiseError(err: unknown): SerialisedError {
  if (err instanceof HeInputError || err instanceof HeWorkerError) return { name: err.name, code: err.code, message: err.message };
  // Anything else is a bug or a SEAL failure on valid input: keep the message (no data in it), drop the stack.
  return { name: 'Error', message: err instanceof Error ? err.message.slice(0, 300) : String(err).slice(0, 300) };
}

export function deserialiseError(e: SerialisedError): Error {
  if (e.name === 'HeInputError') return new HeInputError(e.code as HeInputCode, e.message);
  if (e.name === 'HeWorkerError') return new HeWorkerError(e.code as HeWorkerCode, e.message);
  return new HeWorkerError('internal', e.message);
}

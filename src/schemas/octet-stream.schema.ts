/**
 * Bodies that travel either as JSON or as application/octet-stream. Fastify validates a route's body per
 * media type when the schema is a `content` map, so the JSON form keeps its strict zod schema while the
 * binary form reaches the handler as a Buffer, to be decoded by its framing (secure-frames.ts). zod cannot
 * describe raw bytes in JSON Schema, so the binary schemas made here are remembered, and the OpenAPI
 * transform (src/http/plugins/swagger.plugin.ts) writes each one as `type: string, format: binary` with its
 * description, which is where the framing is documented.
 */
import { z } from 'zod';

const binarySchemas = new WeakMap<object, string>();

/** A Buffer body, or a Buffer or stream answer, described by `description`, which should spell out its framing. */
export function octetStream<T extends Buffer | NodeJS.ReadableStream = Buffer>(description: string) {
  const schema = z.custom<T>((value) => Buffer.isBuffer(value), 'expected an application/octet-stream body');
  binarySchemas.set(schema, description);
  return schema;
}

/** The description of a schema made by octetStream, or undefined for any other schema. */
export function octetStreamDescription(schema: unknown): string | undefined {
  return typeof schema === 'object' && schema !== null ? binarySchemas.get(schema) : undefined;
}

/** A route body accepted as JSON (validated by `json`) or as bytes (framed as `binaryDescription` says). */
export function jsonOrOctetStream<S extends z.ZodType>(json: S, binaryDescription: string) {
  return { content: { 'application/json': { schema: json }, 'application/octet-stream': { schema: octetStream(binaryDescription) } } };
}

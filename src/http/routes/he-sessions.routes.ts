/**
 * Encrypted prediction. Key material and ciphertexts travel as application/octet-stream (the framing is in
 * src/schemas/ciphertext-frames.ts); base64 JSON is accepted as a fallback. Bodies are parsed here into
 * bytes, validated by zod when JSON, and handed to one service call.
 */
import type { FastifyReply } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { BadRequestError, ValidationError } from '../../errors.js';
import { decodeFrames, encodeFrames } from '../../schemas/ciphertext-frames.js';
import { federationParamsSchema, problemResponses } from '../../schemas/common.schema.js';
import { acceptOctetStream } from '../octet-stream.js';
import {
  createHeSessionJsonBodySchema,
  createHeSessionQuerySchema,
  encryptedPredictionJsonSchema,
  heSessionListSchema,
  heSessionParamsSchema,
  heSessionSchema,
} from '../../schemas/he-sessions.schema.js';

const tags = ['encrypted predictions'];
// Evaluation keys and ciphertext sets are megabytes: both POST routes are in the `he` class of body-limits.ts.
export const heSessionRoutes: FastifyPluginAsyncZod = async (app) => {
  acceptOctetStream(app);

  app.post(
    '/he-sessions',
    {
      schema: {
        tags,
        summary: 'Open an encrypted-prediction key session (operator, or a key with the he-predict scope)',
        description:
          'Body: the encoded public material (CKKS parameters, relinearisation key and only the Galois keys the layout needs) as application/octet-stream with ?federationId=…&modelVersion=…, or JSON {federationId, modelVersion?, material: base64}. No secret or encryption key is ever sent. The session is pinned to one model version, bound to the calling key, and expires.',
        querystring: createHeSessionQuerySchema.partial(),
        response: { 201: heSessionSchema, ...problemResponses, 410: problemResponses[404], 413: problemResponses[400] },
      },
    },
    async (request, reply) => {
      const input = Buffer.isBuffer(request.body)
        ? { ...parse(createHeSessionQuerySchema, request.query, 'querystring'), material: new Uint8Array(request.body) }
        : jsonSession(request.body);
      return reply.code(201).send(await app.services.heSessions.create(request.principal, input));
    },
  );

  app.get(
    '/federations/:federationId/he-sessions',
    {
      schema: {
        tags,
        summary: 'List a federation’s key sessions and how many applicant slots each has evaluated (operator)',
        description: 'Counts and dates only: never key material, ciphertexts, features or scores. Expired sessions are listed until the sweep deletes them.',
        params: federationParamsSchema,
        response: { 200: heSessionListSchema, ...problemResponses },
      },
    },
    async (request) => ({ sessions: await app.services.heSessions.list(request.principal, request.params.federationId) }),
  );

  app.get(
    '/he-sessions/:sessionId',
    { schema: { tags, summary: 'Read a key session (its creator)', params: heSessionParamsSchema, response: { 200: heSessionSchema, ...problemResponses } } },
    async (request) => app.services.heSessions.get(request.principal, request.params.sessionId),
  );

  app.delete(
    '/he-sessions/:sessionId',
    {
      schema: {
        tags,
        summary: 'Delete a key session (its creator)',
        params: heSessionParamsSchema,
        response: { 204: z.undefined().describe('Deleted'), ...problemResponses },
      },
    },
    async (request, reply) => {
      await app.services.heSessions.delete(request.principal, request.params.sessionId);
      return reply.code(204).send();
    },
  );

  app.post(
    '/he-sessions/:sessionId/predictions',
    {
      schema: {
        tags,
        summary: 'Score encrypted applicants (the session’s creator)',
        description:
          'Body: framed ciphertexts as application/octet-stream (u32 count, then u32 length + bytes each), or JSON {ciphertexts: [base64]}. The answer has the same form: ciphertexts only the session key holder can decrypt. Nothing is stored.',
        params: heSessionParamsSchema,
        response: { 200: encryptedPredictionJsonSchema, ...problemResponses, 410: problemResponses[404], 413: problemResponses[400] },
      },
    },
    async (request, reply) => {
      const binary = Buffer.isBuffer(request.body);
      const ciphertexts = binary ? frames(request.body as Buffer) : parse(encryptedPredictionJsonSchema, request.body, 'body').ciphertexts.map(fromBase64);
      const outputs = await app.services.heSessions.predict(request.principal, request.params.sessionId, ciphertexts);
      return binary ? sendBinary(reply, encodeFrames(outputs)) : { ciphertexts: outputs.map((item) => Buffer.from(item).toString('base64')) };
    },
  );
};

function jsonSession(body: unknown) {
  const parsed = parse(createHeSessionJsonBodySchema, body, 'body');
  return { federationId: parsed.federationId, ...(parsed.modelVersion !== undefined && { modelVersion: parsed.modelVersion }), material: fromBase64(parsed.material) };
}

function parse<T extends z.ZodType>(schema: T, value: unknown, where: string): z.infer<T> {
  const result = schema.safeParse(value);
  if (!result.success) {
    throw new ValidationError(
      `${where} failed validation`,
      result.error.issues.map((issue) => ({ path: [where, ...issue.path.map(String)].join('.'), message: issue.message })),
    );
  }
  return result.data;
}

function frames(body: Buffer): Uint8Array[] {
  try {
    return decodeFrames(new Uint8Array(body.buffer, body.byteOffset, body.byteLength));
  } catch (error) {
    throw new BadRequestError('malformed-frames', 'Malformed ciphertext framing', (error as Error).message);
  }
}

const fromBase64 = (text: string) => new Uint8Array(Buffer.from(text, 'base64'));

function sendBinary(reply: FastifyReply, bytes: Uint8Array) {
  // Bypasses the JSON response schema on purpose: the binary form has its own framing.
  return reply.type('application/octet-stream').serializer((payload: unknown) => payload as string).send(Buffer.from(bytes));
}


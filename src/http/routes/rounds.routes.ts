/** Rounds: open, read, submit an update (or a statistics round's moments, an evaluation round's tallies), close. */
import { Readable } from 'node:stream';
import type { FastifyPluginAsyncZod, ZodTypeProvider } from 'fastify-type-provider-zod';
import { federationParamsSchema, problemResponses, problemSchema, roundParamsSchema } from '../../schemas/common.schema.js';
import {
  committeeDrawSchema,
  committeeKeyBodySchema,
  currentRoundQuerySchema,
  openRoundBodySchema,
  roundListSchema,
  roundSchema,
  submitEvaluationBodySchema,
  submitStatisticsBodySchema,
  submitUpdateBodySchema,
  updateReceiptSchema,
  inboxAnswerSchema,
  uploadPartialSumRequestSchema,
  uploadSharesRequestSchema,
  type UploadPartialSumBody,
  type UploadSharesBody,
  type SubmitUpdateBody,
} from '../../schemas/rounds.schema.js';
import { decodePartialSum, decodeShareUpload } from '../../schemas/secure-frames.js';
import { decodeUpdate, updateOctetsSchema } from '../../schemas/weight-frames.js';
import { BadRequestError, ValidationError } from '../../errors.js';
import type { PlainUpdate } from '../../services/rounds.service.js';
import { acceptOctetStream, prefersOctetStream } from '../octet-stream.js';

const tags = ['rounds'];

export const roundRoutes: FastifyPluginAsyncZod = async (app) => {
  app.post(
    '/federations/:federationId/rounds',
    {
      schema: {
        tags,
        summary: 'Open the next round (operator)',
        params: federationParamsSchema,
        body: openRoundBodySchema,
        response: { 201: roundSchema, ...problemResponses },
      },
    },
    async (request, reply) => reply.code(201).send(await app.services.rounds.open(request.principal, request.params.federationId, request.body)),
  );

  app.get(
    '/federations/:federationId/rounds',
    { schema: { tags, summary: 'List rounds', params: federationParamsSchema, response: { 200: roundListSchema, ...problemResponses } } },
    async (request) => ({ rounds: await app.services.rounds.list(request.principal, request.params.federationId) }),
  );

  app.get(
    '/federations/:federationId/rounds/current',
    {
      schema: {
        tags,
        summary: 'The most recent round, whatever its status; optionally wait for it to change',
        description:
          'Owner agents wait here instead of polling: pass the `tag` of the round you last saw as `after` and ' +
          '`waitSeconds` (≤ 60). The answer comes at once if the round already differs, otherwise as soon as it ' +
          'changes (opens, freezes for summing, closes, fails, or the next round opens) or when `waitSeconds` ' +
          'pass, with the round as it then stands — compare its `tag` and ask again. Before the first round use ' +
          '`after=none`; if still no round has opened the answer is 404 `no-rounds`. An instance holding too many ' +
          'waiting requests answers 503 `too-many-waiters` with `Retry-After`.',
        params: federationParamsSchema,
        querystring: currentRoundQuerySchema,
        response: { 200: roundSchema, ...problemResponses, 503: problemSchema },
      },
    },
    async (request, reply) => {
      // A client that hangs up stops waiting; 'close' also fires once the answer is sent, which is harmless.
      const gone = new AbortController();
      reply.raw.once('close', () => gone.abort());
      return app.services.rounds.current(request.principal, request.params.federationId, { seconds: request.query.waitSeconds ?? 0, after: request.query.after }, gone.signal);
    },
  );

  app.get(
    '/federations/:federationId/rounds/:roundNumber',
    { schema: { tags, summary: 'Read a round', params: roundParamsSchema, response: { 200: roundSchema, ...problemResponses } } },
    async (request) => app.services.rounds.get(request.principal, request.params.federationId, request.params.roundNumber),
  );

  // The one route of this file with a binary form gets its own scope, so only it reads application/octet-stream.
  await app.register(async (scope) => {
    acceptOctetStream(scope);
    scope.withTypeProvider<ZodTypeProvider>().post(
      '/federations/:federationId/rounds/:roundNumber/updates',
      {
        schema: {
          tags,
          summary: 'Submit this owner’s update for a round (owner)',
          description:
            'One update per owner per round. The round closes and publishes the next model version as soon as its minimum number of owners have submitted. ' +
            'The body is JSON, or the same fields as application/octet-stream: a 32-byte header (magic "FSU1", u32 numSamples, u32 flags — bit 0 loss present, ' +
            'bit 1 accuracy present —, f64 loss, f64 accuracy, u32 n), then n float32 weights, all little-endian. A binary body whose length does not match its ' +
            'header, or with another magic or unknown flags, is 400 `malformed-update`; its weights and metrics are checked as JSON ones are (422).',
          params: roundParamsSchema,
          body: { content: { 'application/json': { schema: submitUpdateBodySchema }, 'application/octet-stream': { schema: updateOctetsSchema } } },
          response: { 201: updateReceiptSchema, ...problemResponses },
        },
      },
      async (request, reply) => {
        const body = Buffer.isBuffer(request.body) ? updateFromOctets(request.body) : (request.body as SubmitUpdateBody);
        return reply.code(201).send({
          round: await app.services.rounds.submitUpdate(request.principal, request.params.federationId, request.params.roundNumber, body),
        });
      },
    );
  });

  app.post(
    '/federations/:federationId/rounds/:roundNumber/statistics',
    {
      schema: {
        tags,
        summary: 'Submit this owner’s moments for a statistics round (owner, plain mode)',
        description:
          'Federated standardisation: while the schema leaves some numeric column without a mean and std, the first round is a ' +
          '`statistics` round, and each owner submits, per column of the round’s `statistics.columns`, its count of values, Σx′ and ' +
          'Σx′² of its values clipped to the column’s `range` and rescaled to [0, 1]. The means and standard deviations from the sum ' +
          'are stored with the federation, and training round 1 follows. In secure mode owners upload shares of the same vector ' +
          'followed by a 1, as for any secure round.',
        params: roundParamsSchema,
        body: submitStatisticsBodySchema,
        response: { 201: updateReceiptSchema, ...problemResponses },
      },
    },
    async (request, reply) =>
      reply.code(201).send({
        round: await app.services.rounds.submitStatistics(request.principal, request.params.federationId, request.params.roundNumber, request.body),
      }),
  );

  app.post(
    '/federations/:federationId/rounds/:roundNumber/evaluation',
    {
      schema: {
        tags,
        summary: 'Submit this owner’s tallies for an evaluation round (owner, plain mode)',
        description:
          'Federated evaluation: the operator opens a round with `{"kind": "evaluation", "modelVersion": V}`; each owner scores version V ' +
          'on its own rows and submits only tallies — per score bin its negatives, positives and sum of scores, its summed log loss and ' +
          'Brier score. The round closes once every owner is in (or at its deadline with the minimum) and stores the report derived ' +
          'from the sum: accuracy, confusion counts and histograms exactly as a central computation on the same rows would give them, ' +
          'AUC, KS and ROC to histogram resolution. In secure mode owners upload shares of the same vector followed by a 1, so the ' +
          'server learns only the sum. Not offered in differentially private federations (the counts are exact).',
        params: roundParamsSchema,
        body: submitEvaluationBodySchema,
        response: { 201: updateReceiptSchema, ...problemResponses },
      },
    },
    async (request, reply) =>
      reply.code(201).send({
        round: await app.services.rounds.submitEvaluation(request.principal, request.params.federationId, request.params.roundNumber, request.body),
      }),
  );

  app.post(
    '/federations/:federationId/rounds/:roundNumber/close',
    {
      schema: {
        tags,
        summary: 'Close a round now (operator)',
        description: 'Aggregates when the minimum number of owners have submitted; otherwise the round fails and publishes nothing.',
        params: roundParamsSchema,
        response: { 200: roundSchema, ...problemResponses },
      },
    },
    async (request) => app.services.rounds.close(request.principal, request.params.federationId, request.params.roundNumber),
  );

  app.put(
    '/federations/:federationId/rounds/:roundNumber/committee-key',
    {
      schema: {
        tags,
        summary: 'Publish this committee member’s signed X25519 key for the round (committee member, secure mode)',
        description:
          'A member seated in an open round generates an X25519 key for this round only and signs it with its identity key, bound to the ' +
          'federation, round, its position and its id. Owners share only once every seat has one, and only after checking each signature ' +
          'against the charter (named policy) or the identity they pinned. The server checks the signature too, and keeps the first key a ' +
          'seat gets: the same key again is accepted, a different one is 409 committee-key-already-set.',
        params: roundParamsSchema,
        body: committeeKeyBodySchema,
        response: { 200: roundSchema, ...problemResponses },
      },
    },
    async (request) => app.services.secureRounds.publishCommitteeKey(request.principal, request.params.federationId, request.params.roundNumber, request.body),
  );

  app.get(
    '/federations/:federationId/rounds/:roundNumber/committee-draw',
    {
      schema: {
        tags,
        summary: 'A lottery round’s committee draw: the chain value it revealed and the volunteers (owners of the federation)',
        description: 'With the charter’s chain anchor, any owner recomputes the seats before sharing; `fedscore owner run` does.',
        params: roundParamsSchema,
        response: { 200: committeeDrawSchema, ...problemResponses },
      },
    },
    async (request) => app.services.secureRounds.committeeDraw(request.principal, request.params.federationId, request.params.roundNumber),
  );

  // Shares, inboxes and partial sums also travel as application/octet-stream (the SDK's form, framed as
  // src/schemas/secure-frames.ts says); only these routes take such bodies, so the parser lives in their scope.
  await app.register(secureWireRoutes);
};

const secureWireRoutes: FastifyPluginAsyncZod = async (secure) => {
  acceptOctetStream(secure);

  secure.post(
    '/federations/:federationId/rounds/:roundNumber/shares',
    {
      schema: {
        tags,
        summary: 'Upload this owner’s encrypted Shamir shares (owner, secure mode)',
        description:
          'Exactly one envelope per committee member, in one request: the owner is in the round or out of it, atomically. The server cannot open the envelopes. ' +
          'Body: JSON with base64 envelopes, or application/octet-stream framed as the binary schema says (the SDK’s form, about 30% smaller).',
        params: roundParamsSchema,
        body: uploadSharesRequestSchema,
        response: { 201: updateReceiptSchema, ...problemResponses },
      },
    },
    async (request, reply) => {
      const envelopes = Buffer.isBuffer(request.body)
        ? framed(decodeShareUpload, request.body).map(({ id, envelope }) => ({ recipientId: id, envelope }))
        : (request.body as UploadSharesBody).envelopes.map(({ recipientId, envelope }) => ({ recipientId, envelope: fromBase64(envelope) }));
      const round = await secure.services.secureRounds.uploadShares(request.principal, request.params.federationId, request.params.roundNumber, envelopes);
      return reply.code(201).send({ round });
    },
  );

  secure.get(
    '/federations/:federationId/rounds/:roundNumber/inbox',
    {
      schema: {
        tags,
        summary: 'The envelopes addressed to this committee member, from the frozen included set (secure mode)',
        description:
          'JSON with base64 envelopes by default; with `Accept: application/octet-stream` the binary framing, streamed from the database a frame per envelope.',
        params: roundParamsSchema,
        response: { 200: inboxAnswerSchema, ...problemResponses },
      },
    },
    async (request, reply) => {
      const { federationId, roundNumber } = request.params;
      if (!prefersOctetStream(request.headers.accept)) return secure.services.secureRounds.inbox(request.principal, federationId, roundNumber);
      const frames = await secure.services.secureRounds.inboxFrames(request.principal, federationId, roundNumber);
      return reply.type('application/octet-stream').send(Readable.from(frames, { objectMode: false }));
    },
  );

  secure.post(
    '/federations/:federationId/rounds/:roundNumber/partial-sums',
    {
      schema: {
        tags,
        summary: 'Upload this committee member’s partial sum (secure mode)',
        description:
          'Any t partial sums reconstruct the sum of the included owners’ updates; the round then publishes. ' +
          'Body: JSON with base64 values, or application/octet-stream framed as the binary schema says (the SDK’s form).',
        params: roundParamsSchema,
        body: uploadPartialSumRequestSchema,
        response: { 201: updateReceiptSchema, ...problemResponses },
      },
    },
    async (request, reply) => {
      const body = Buffer.isBuffer(request.body) ? framed(decodePartialSum, request.body) : jsonPartialSum(request.body as UploadPartialSumBody);
      const round = await secure.services.secureRounds.uploadPartialSum(request.principal, request.params.federationId, request.params.roundNumber, body);
      return reply.code(201).send({ round });
    },
  );
};

/** A binary body through its framing; a framing error is the client's: 400 malformed-frames, nothing read further. */
function framed<T>(decode: (bytes: Uint8Array) => T, body: Buffer): T {
  try {
    return decode(new Uint8Array(body.buffer, body.byteOffset, body.byteLength));
  } catch (error) {
    throw new BadRequestError('malformed-frames', 'Malformed binary framing', (error as Error).message);
  }
}

const fromBase64 = (text: string) => new Uint8Array(Buffer.from(text, 'base64'));

function jsonPartialSum(body: UploadPartialSumBody) {
  return { includedSetHash: body.includedSetHash, values: fromBase64(body.values) };
}

/** The binary form's framing checked here (400); numSamples and metrics as the JSON schema checks them (422). */
function updateFromOctets(body: Buffer): PlainUpdate {
  let frame;
  try {
    frame = decodeUpdate(new Uint8Array(body.buffer, body.byteOffset, body.byteLength));
  } catch (error) {
    throw new BadRequestError('malformed-update', 'Malformed binary update', (error as Error).message);
  }
  const fields = submitUpdateBodySchema.omit({ weights: true }).safeParse({ numSamples: frame.numSamples, metrics: frame.metrics });
  if (!fields.success) {
    throw new ValidationError(
      'submitUpdate: the binary update’s header failed validation',
      fields.error.issues.map((issue) => ({ path: ['body', ...issue.path.map(String)].join('.'), message: issue.message })),
    );
  }
  return { weights: frame.weights, ...fields.data };
}

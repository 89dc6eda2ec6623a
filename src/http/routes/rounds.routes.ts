/** Rounds: open, read, submit an update, close. */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { federationParamsSchema, problemResponses, roundParamsSchema } from '../../schemas/common.schema.js';
import {
  inboxSchema,
  openRoundBodySchema,
  roundListSchema,
  roundSchema,
  submitUpdateBodySchema,
  updateReceiptSchema,
  uploadPartialSumBodySchema,
  uploadSharesBodySchema,
} from '../../schemas/rounds.schema.js';

const tags = ['rounds'];
const security = [{ bearerAuth: [] }];

export const roundRoutes: FastifyPluginAsyncZod = async (app) => {
  app.post(
    '/federations/:federationId/rounds',
    {
      schema: {
        tags,
        security,
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
    { schema: { tags, security, summary: 'List rounds', params: federationParamsSchema, response: { 200: roundListSchema, ...problemResponses } } },
    async (request) => ({ rounds: await app.services.rounds.list(request.principal, request.params.federationId) }),
  );

  app.get(
    '/federations/:federationId/rounds/current',
    {
      schema: {
        tags,
        security,
        summary: 'The most recent round, whatever its status',
        params: federationParamsSchema,
        response: { 200: roundSchema, ...problemResponses },
      },
    },
    async (request) => app.services.rounds.current(request.principal, request.params.federationId),
  );

  app.get(
    '/federations/:federationId/rounds/:roundNumber',
    { schema: { tags, security, summary: 'Read a round', params: roundParamsSchema, response: { 200: roundSchema, ...problemResponses } } },
    async (request) => app.services.rounds.get(request.principal, request.params.federationId, request.params.roundNumber),
  );

  app.post(
    '/federations/:federationId/rounds/:roundNumber/updates',
    {
      schema: {
        tags,
        security,
        summary: 'Submit this owner’s update for a round (owner)',
        description:
          'One update per owner per round. The round closes and publishes the next model version as soon as its minimum number of owners have submitted.',
        params: roundParamsSchema,
        body: submitUpdateBodySchema,
        response: { 201: updateReceiptSchema, ...problemResponses },
      },
    },
    async (request, reply) =>
      reply.code(201).send({
        round: await app.services.rounds.submitUpdate(request.principal, request.params.federationId, request.params.roundNumber, request.body),
      }),
  );

  app.post(
    '/federations/:federationId/rounds/:roundNumber/close',
    {
      schema: {
        tags,
        security,
        summary: 'Close a round now (operator)',
        description: 'Aggregates when the minimum number of owners have submitted; otherwise the round fails and publishes nothing.',
        params: roundParamsSchema,
        response: { 200: roundSchema, ...problemResponses },
      },
    },
    async (request) => app.services.rounds.close(request.principal, request.params.federationId, request.params.roundNumber),
  );

  app.post(
    '/federations/:federationId/rounds/:roundNumber/shares',
    {
      schema: {
        tags,
        security,
        summary: 'Upload this owner’s encrypted Shamir shares (owner, secure mode)',
        description:
          'Exactly one envelope per committee member, in one request: the owner is in the round or out of it, atomically. The server cannot open the envelopes.',
        params: roundParamsSchema,
        body: uploadSharesBodySchema,
        response: { 201: updateReceiptSchema, ...problemResponses },
      },
    },
    async (request, reply) =>
      reply.code(201).send({
        round: await app.services.secureRounds.uploadShares(request.principal, request.params.federationId, request.params.roundNumber, request.body),
      }),
  );

  app.get(
    '/federations/:federationId/rounds/:roundNumber/inbox',
    {
      schema: {
        tags,
        security,
        summary: 'The envelopes addressed to this committee member, from the frozen included set (secure mode)',
        params: roundParamsSchema,
        response: { 200: inboxSchema, ...problemResponses },
      },
    },
    async (request) => app.services.secureRounds.inbox(request.principal, request.params.federationId, request.params.roundNumber),
  );

  app.post(
    '/federations/:federationId/rounds/:roundNumber/partial-sums',
    {
      schema: {
        tags,
        security,
        summary: 'Upload this committee member’s partial sum (secure mode)',
        description: 'Any t partial sums reconstruct the sum of the included owners’ updates; the round then publishes.',
        params: roundParamsSchema,
        body: uploadPartialSumBodySchema,
        response: { 201: updateReceiptSchema, ...problemResponses },
      },
    },
    async (request, reply) =>
      reply.code(201).send({
        round: await app.services.secureRounds.uploadPartialSum(request.principal, request.params.federationId, request.params.roundNumber, request.body),
      }),
  );
};

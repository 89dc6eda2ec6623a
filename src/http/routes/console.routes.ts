/**
 * The operator console: a page at /console and its files at /console/{file}, public like the Swagger UI
 * (the page holds no data; it asks the API for everything with the key the user pastes into it). Their
 * Content-Security-Policy allows scripts, styles and requests to this origin only
 * (src/http/plugins/security-headers.plugin.ts).
 */
import type { FastifyReply } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { NotFoundError } from '../../errors.js';
import { problemSchema } from '../../schemas/common.schema.js';
import { consoleFileParamsSchema, consoleTextSchema } from '../../schemas/console.schema.js';
import { loadConsoleFiles, type ConsoleFile } from '../console-files.js';

const tags = ['console'];
const problems = { 400: problemSchema, 404: problemSchema, 429: problemSchema };

export const consoleRoutes: FastifyPluginAsyncZod = async (app) => {
  const files = loadConsoleFiles();

  app.get(
    '/console',
    {
      schema: {
        tags,
        summary: 'The operator console (a web page)',
        description: 'Federations, rounds, model quality, privacy and encrypted-prediction sessions at a glance. The page asks for a key and keeps it in memory only.',
        response: { 200: { description: 'The console’s page', content: { 'text/html': { schema: consoleTextSchema } } }, ...problems },
      },
    },
    async (_request, reply) => sendFile(reply, files.index),
  );

  app.get(
    '/console/:file',
    {
      schema: {
        tags,
        summary: 'One of the console’s scripts or stylesheets',
        params: consoleFileParamsSchema,
        response: {
          200: { description: 'The file', content: { 'text/javascript': { schema: consoleTextSchema }, 'text/css': { schema: consoleTextSchema } } },
          308: z.undefined().describe('`/console/`: the page is at `/console`'),
          ...problems,
        },
      },
    },
    async (request, reply) => {
      if (request.params.file === '') return reply.redirect('/console', 308);
      const file = files.assets.get(request.params.file);
      if (!file) throw new NotFoundError('console-file', request.params.file);
      return sendFile(reply, file);
    },
  );
};

function sendFile(reply: FastifyReply, file: ConsoleFile) {
  // Text, not JSON: the response schema documents it, the serializer must not quote it. Revalidated on each
  // load, so a new release's files are never mixed with cached old ones.
  return reply.type(file.type).header('cache-control', 'no-cache').serializer((payload: unknown) => payload as string).send(file.body);
}

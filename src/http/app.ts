/**
 * buildApp() returns a ready Fastify app over one database. It opens (and migrates) the database named by
 * the config unless the caller passes one, and closes only what it opened. Tests build their own apps.
 * Each app has its own metrics registry, which its services report to.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Config } from '../config.js';
import type { Database } from '../db/client.js';
import { openServices, type Services } from '../services/index.js';
import type { RoundsServiceOptions } from '../services/rounds.service.js';
import { bodyLimits, bodyLimitsPlugin } from './body-limits.js';
import { loggerOptions, requestIdOf, type LogOptions } from './logging.js';
import { createMetrics } from './metrics.js';
import { authPlugin } from './plugins/auth.plugin.js';
import { metricsPlugin } from './plugins/metrics.plugin.js';
import { MAX_PARAM_LENGTH, problemPlugin, sendClientErrorProblem, sendFrameworkProblem } from './plugins/problem.plugin.js';
import { rateLimitPlugin } from './plugins/rate-limit.plugin.js';
import { securityHeadersPlugin } from './plugins/security-headers.plugin.js';
import { requestIdPlugin } from './plugins/request-id.plugin.js';
import { swaggerPlugin } from './plugins/swagger.plugin.js';
import { apiKeyRoutes } from './routes/api-keys.routes.js';
import { consoleRoutes } from './routes/console.routes.js';
import { federationRoutes } from './routes/federations.routes.js';
import { healthRoutes } from './routes/health.routes.js';
import { heSessionRoutes } from './routes/he-sessions.routes.js';
import { modelRoutes } from './routes/models.routes.js';
import { ownerRoutes } from './routes/owners.routes.js';
import { predictionRoutes } from './routes/predictions.routes.js';
import { roundRoutes } from './routes/rounds.routes.js';

declare module 'fastify' {
  interface FastifyInstance {
    services: Services;
  }
}

export interface BuildAppOptions {
  config: Config;
  /** An already open database; otherwise the config's database is opened and migrated. */
  database?: Database;
  /**
   * false: no logging. Otherwise the level (default LOG_LEVEL) and destination (default stdout); what a
   * line may contain is not the caller's choice (src/http/logging.ts).
   */
  logger?: false | LogOptions;
  /** Injectable clock for round deadlines. */
  clock?: RoundsServiceOptions['clock'];
  /** Run the periodic deadline sweep (default true). */
  sweepDeadlines?: boolean;
}

export async function buildApp(options: BuildAppOptions): Promise<FastifyInstance> {
  const { config } = options;
  const metrics = createMetrics();
  const { services, close } = await openServices(config, {
    ...(options.database && { database: options.database }),
    ...(options.clock && { clock: options.clock }),
    metrics: metrics.service,
  });
  const limits = bodyLimits(config);
  const app = Fastify({
    logger: options.logger === false ? false : loggerOptions(config, options.logger),
    genReqId: requestIdOf,
    // Every route gets its own limit from its body class (route-access.ts); this one covers whatever has none.
    bodyLimit: limits.metadata,
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    // Forwarded headers are believed only from the proxies TRUST_PROXY names; request.ip (rate limits,
    // logs) is otherwise the connection's address.
    trustProxy: trustedProxies(config.TRUST_PROXY),
    frameworkErrors: sendFrameworkProblem,
    clientErrorHandler: sendClientErrorProblem,
  }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);

  app.decorate('services', services);
  // Before the server waits for in-flight requests to end: long polls answer now instead of in a minute,
  // and every answer from then on closes its connection, or an idle keep-alive socket would hold the
  // shutdown open until the keep-alive timeout.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
    services.rounds.shutdown();
  });
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (closing) reply.header('connection', 'close');
    done(null, payload);
  });
  app.addHook('onClose', close);

  // First: its onRequest hook names the request in the answer before anything can refuse it.
  await app.register(requestIdPlugin);
  await app.register(problemPlugin);
  await app.register(bodyLimitsPlugin, { limits });
  await app.register(rateLimitPlugin, { perKey: config.RATE_LIMIT_PER_KEY, perIp: config.RATE_LIMIT_PER_IP, windowSeconds: config.RATE_LIMIT_WINDOW_SECONDS });
  await app.register(securityHeadersPlugin, { corsOrigins: config.CORS_ORIGINS });
  // Before any route, after the rate limit: its onRoute hook gives every route its declared roles
  // (src/http/route-access.ts), and its refusals wait until the limiter has counted the request.
  await app.register(authPlugin);
  await app.register(swaggerPlugin);
  // After swagger (which documents only routes registered after it), before the routes it times.
  await app.register(metricsPlugin, { metrics });
  await app.register(healthRoutes);
  await app.register(consoleRoutes);
  await app.register(
    async (v1) => {
      await v1.register(federationRoutes);
      await v1.register(apiKeyRoutes);
      await v1.register(ownerRoutes);
      await v1.register(roundRoutes);
      await v1.register(modelRoutes);
      await v1.register(predictionRoutes);
      await v1.register(heSessionRoutes);
    },
    { prefix: '/v1' },
  );

  if (options.sweepDeadlines ?? true) startDeadlineSweep(app, config.DEADLINE_SWEEP_MS);
  await app.ready();
  return app;
}

/** Fastify's trustProxy from TRUST_PROXY: nothing, the proxies' addresses, or the nearest `hops` senders. */
function trustedProxies(setting: Config['TRUST_PROXY']): boolean | string | ((address: string, hop: number) => boolean) {
  if (setting === undefined) return false;
  if (typeof setting === 'number') return (_address, hop) => hop < setting;
  return setting.join(',');
}

/**
 * Every instance sweeps: rounds past their deadline (the database's conditional updates make sure each
 * settles once) and expired encrypted-prediction sessions.
 */
function startDeadlineSweep(app: FastifyInstance, intervalMs: number): void {
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    Promise.all([app.services.rounds.sweep(), app.services.heSessions.sweepExpired()])
      .then(([settled, expired]) => (settled > 0 || expired > 0) && app.log.info({ settled, expired }, 'deadline sweep'))
      .catch((error: unknown) => app.log.error({ err: error }, 'deadline sweep failed'))
      .finally(() => (running = false));
  }, intervalMs);
  timer.unref();
  app.addHook('onClose', async () => clearInterval(timer));
}

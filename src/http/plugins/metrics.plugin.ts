/**
 * GET /metrics in the Prometheus text format, for the operator or a scraper holding METRICS_TOKEN (never
 * public: the counts describe the federations' activity). Besides the services' own metrics it counts and
 * times every request by route pattern — never the raw URL, which would make a series per federation,
 * round and session — and reads two gauges when scraped: rounds by status, with one grouped count from the
 * database (so every instance behind a load balancer reports the same, right, numbers), and the encrypted
 * evaluations waiting for a worker on this instance.
 */
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { Counter, Gauge, Histogram } from 'prom-client';
import { z } from 'zod';
import { problemSchema } from '../../schemas/common.schema.js';
import type { AppMetrics } from '../metrics.js';

/** From a fast GET to an encrypted prediction or a settling upload. */
const HTTP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export const metricsPlugin = fp(async function metricsPlugin(app: FastifyInstance, { metrics }: { metrics: AppMetrics }) {
  const registers = [metrics.registry];
  const labelNames = ['method', 'route', 'status_code'] as const;
  const requests = new Counter({ name: 'fedscore_http_requests_total', help: 'HTTP requests answered, by method, route pattern and status', labelNames, registers });
  const duration = new Histogram({
    name: 'fedscore_http_request_duration_seconds',
    help: 'Time from receiving a request to sending its answer, by method, route pattern and status',
    labelNames,
    buckets: HTTP_BUCKETS,
    registers,
  });
  new Gauge({
    name: 'fedscore_rounds',
    help: 'Rounds of every federation by status (open, summing, closed, failed), counted in the database when scraped',
    labelNames: ['status'],
    registers,
    async collect() {
      try {
        for (const [status, count] of Object.entries(await app.services.rounds.countByStatus())) this.set({ status }, count);
      } catch (error) {
        // The other metrics matter most when the database is in trouble: serve them, and no stale counts.
        this.reset();
        app.log.warn({ err: error }, 'metrics: rounds by status could not be counted');
      }
    },
  });
  new Gauge({
    name: 'fedscore_he_queue_length',
    help: 'Encrypted evaluations waiting for a worker thread on this instance',
    registers,
    collect() {
      this.set(app.services.heSessions.queueLength());
    },
  });

  app.addHook('onResponse', (request, reply, done) => {
    // Requests that matched no route share one series, whatever path they asked for.
    const labels = { method: request.method, route: request.routeOptions.url ?? 'unmatched', status_code: String(reply.statusCode) };
    requests.inc(labels);
    duration.observe(labels, reply.elapsedTime / 1000);
    done();
  });

  app.get(
    '/metrics',
    {
      schema: {
        tags: ['metrics'],
        summary: 'Prometheus metrics (the operator, or the METRICS_TOKEN)',
        description:
          'The Prometheus text exposition format, version 0.0.4: HTTP requests by route pattern, rounds by status, accepted submissions by kind, settlement and encrypted-evaluation times, the worker-pool queue, and the process metrics.',
        response: {
          200: { description: 'Prometheus text exposition format', content: { 'text/plain': { schema: z.string() } } },
          401: problemSchema,
          403: problemSchema,
        },
      },
    },
    async (_request, reply) => {
      const text = await metrics.render();
      // Text, not JSON: the response schema documents it, the serializer must not quote it.
      return reply.type(metrics.registry.contentType).serializer((payload: unknown) => payload as string).send(text);
    },
  );
});

/**
 * Rate limits (@fastify/rate-limit), so that one caller cannot take the server for itself: a request with a
 * valid API key counts against that key, anything else (enrolment, charters, health, the docs) against its
 * IP address, each with its own limit per window. Over the limit the answer is a 429 rate-limited problem
 * with Retry-After, which the SDK's retry policy honours.
 *
 * The counters live in this process's memory (the plugin's LRU store). With several instances behind a load
 * balancer each instance counts on its own, so a caller can make up to instances × limit requests per
 * window; a store shared by the instances (the plugin accepts a custom one) would make the limit global,
 * and none is wired here. Behind a reverse proxy every request comes from the proxy's address unless
 * Fastify is told to trust it, so the per-IP limit would then be shared by everyone.
 */
import { createHash } from 'node:crypto';
import rateLimit, { normalizeIP } from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { DomainError } from '../../errors.js';

export interface RateLimitOptions {
  /** Requests per window for each API key; 0: no limit per key. */
  perKey: number;
  /** Requests per window for each IP address without a valid key; 0: no limit per address. */
  perIp: number;
  windowSeconds: number;
}

/**
 * Buckets live as long as their window in an LRU; evicting a live bucket would reset its count, so the LRU
 * holds more callers than a busy window sees (a 30,000-owner federation submitting at once), at a few
 * hundred bytes each.
 */
const BUCKETS = 100_000;

/**
 * The bucket a request counts against. A key is known only once authentication has accepted it (the
 * `principal` the auth plugin sets under /v1), so a made-up key cannot open a fresh bucket of its own. The
 * bucket is named by the SHA-256 of the token: the limiter's memory never holds a usable key. Without a
 * key, the address.
 */
export function rateLimitBucket(request: Pick<FastifyRequest, 'headers' | 'ip'> & { principal?: { kind: string } | null }): string {
  const token = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '')?.[1];
  if (token !== undefined && request.principal && request.principal.kind !== 'anonymous') {
    return `key:${createHash('sha256').update(token).digest('hex')}`;
  }
  // An IPv6 host usually holds a whole /64: counted per address, it could pick a fresh one for every request.
  return `ip:${normalizeIP(request.ip, 64)}`;
}

export const rateLimitPlugin = fp(async function rateLimitPlugin(app: FastifyInstance, options: RateLimitOptions) {
  const { perKey, perIp, windowSeconds } = options;
  if (perKey === 0 && perIp === 0) return;
  const limitOf = (bucket: string) => (bucket.startsWith('key:') ? perKey : perIp);
  await app.register(rateLimit, {
    global: true,
    // After onRequest, where the key is authenticated, and before the body is read: a refused request
    // costs no parsing.
    hook: 'preParsing',
    timeWindow: windowSeconds * 1000,
    cache: BUCKETS,
    keyGenerator: rateLimitBucket,
    max: (_request, bucket) => limitOf(bucket),
    allowList: (_request, bucket) => limitOf(bucket) === 0,
    errorResponseBuilder: (request, context) => {
      const retryAfterSeconds = Math.max(1, Math.ceil(context.ttl / 1000));
      const who = rateLimitBucket(request).startsWith('key:') ? 'this API key' : 'this address';
      return new DomainError(
        'rate-limited',
        'Too many requests',
        429,
        `${request.method} ${request.routeOptions.url ?? request.url.split('?')[0]}: more than ${context.max} requests in ${windowSeconds} s from ${who}; retry after ${retryAfterSeconds} s`,
        undefined,
        retryAfterSeconds,
      );
    },
  });
});

/**
 * Headers that tell browsers how to treat what this server sends (@fastify/helmet), and CORS
 * (@fastify/cors) only for the origins CORS_ORIGINS names. The API answers JSON and bytes, never a page to
 * render, so its Content-Security-Policy allows nothing at all; Swagger UI under /docs and the console under
 * /console are pages, and get the policies their own files need. Without CORS_ORIGINS no CORS header is sent and browsers keep other
 * origins' scripts away from the API, which is the safe default for a server holding credit data.
 */
import cors from '@fastify/cors';
import helmet from '@fastify/helmet';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { DOCS_PREFIX } from './swagger.plugin.js';

type Directives = Record<string, string[]>;

/** Nothing may load, frame or be submitted from an API response, should a browser ever render one. */
export const API_CSP: Directives = {
  'default-src': ["'none'"],
  'base-uri': ["'none'"],
  'form-action': ["'none'"],
  'frame-ancestors': ["'none'"],
};

/**
 * Swagger UI's page loads its scripts, styles and images from /docs/static and fetches /docs/json (all
 * 'self'); its React components set inline styles, and its icons are data: images. This is the policy
 * @fastify/swagger-ui itself recommends (staticCSP), with inline styles allowed, no inline script, and
 * without upgrade-insecure-requests, which would break the page on a plain-http server (127.0.0.1).
 */
export const DOCS_CSP: Directives = {
  'default-src': ["'self'"],
  'base-uri': ["'self'"],
  'font-src': ["'self'", 'https:', 'data:'],
  'form-action': ["'self'"],
  'frame-ancestors': ["'self'"],
  'img-src': ["'self'", 'data:', 'validator.swagger.io'],
  'object-src': ["'none'"],
  'script-src': ["'self'"],
  'script-src-attr': ["'none'"],
  'style-src': ["'self'", 'https:', "'unsafe-inline'"],
};

/**
 * The operator console (/console) is a page of its own files: scripts, styles and API requests to this
 * origin, nothing else — no inline script or style, no remote origin, no framing, no form submission (its
 * key field is read by script, never submitted).
 */
export const CONSOLE_CSP: Directives = {
  'default-src': ["'none'"],
  'script-src': ["'self'"],
  'style-src': ["'self'"],
  'img-src': ["'self'"],
  'connect-src': ["'self'"],
  'base-uri': ["'none'"],
  'form-action': ["'none'"],
  'frame-ancestors': ["'none'"],
};
export const CONSOLE_PREFIX = '/console';

/** Headers a browser script on an allowed origin may read: the ones that tell a client what to do next. */
const EXPOSED_HEADERS = ['allow', 'retry-after', 'x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset'];

export const securityHeadersPlugin = fp(async function securityHeadersPlugin(app: FastifyInstance, options: { corsOrigins: string[] | undefined }) {
  await app.register(helmet, { contentSecurityPolicy: { useDefaults: false, directives: API_CSP } });
  // Set on the route's config, which is what helmet reads per request, so the order of onRoute hooks does not matter.
  const under = (url: string, prefix: string) => url === prefix || url.startsWith(`${prefix}/`);
  app.addHook('onRoute', (route) => {
    const directives = under(route.url, DOCS_PREFIX) ? DOCS_CSP : under(route.url, CONSOLE_PREFIX) ? CONSOLE_CSP : undefined;
    if (directives === undefined) return;
    route.config = { ...route.config, helmet: { contentSecurityPolicy: { useDefaults: false, directives } } } as typeof route.config;
  });
  if (options.corsOrigins === undefined) return;
  await app.register(cors, {
    origin: options.corsOrigins,
    methods: ['GET', 'HEAD', 'POST', 'PUT', 'DELETE'],
    allowedHeaders: ['authorization', 'content-type'],
    exposedHeaders: EXPOSED_HEADERS,
    // Keys travel in the Authorization header, never in cookies: no credentialed requests.
    credentials: false,
    maxAge: 600,
  });
});

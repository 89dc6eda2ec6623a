/**
 * Headers that tell browsers how to treat what this server sends (helmet's set), and CORS (@fastify/cors)
 * only for the origins CORS_ORIGINS names. The API answers JSON and bytes, never a page to render, so its
 * Content-Security-Policy allows nothing at all; Swagger UI under /docs and the console under /console are
 * pages, and get the policies their own files need. Without CORS_ORIGINS no CORS header is sent and browsers
 * keep other origins' scripts away from the API, which is the safe default for a server holding credit data.
 *
 * helmet itself decides the headers, once per policy at start-up; each request then only sets them.
 * @fastify/helmet built a new helmet middleware for every request (parsing the CSP directives again each
 * time), which issue 13's profile of plain predictions put at about 5 % of the server's time.
 */
import cors from '@fastify/cors';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import helmet, { type HelmetOptions } from 'helmet';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { DOCS_PREFIX } from './swagger.plugin.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The security headers of this route's answers (set by the plugin below). */
    securityHeaders?: SecurityHeaders;
  }
}

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

/** Header name and value, in the order helmet sets them. */
type SecurityHeaders = readonly (readonly [string, string])[];

/** The headers helmet's middleware sets for these options, recorded once from a stand-in response. */
export function helmetHeaders(options: HelmetOptions): SecurityHeaders {
  const headers: [string, string][] = [];
  const response = {
    setHeader(name: string, value: string) {
      headers.push([name, String(value)]);
    },
    // helmet removes X-Powered-By, which Fastify never sets.
    removeHeader() {},
  };
  helmet(options)({} as IncomingMessage, response as unknown as ServerResponse, (error?: unknown) => {
    if (error) throw error;
  });
  return headers;
}

export const securityHeadersPlugin = fp(async function securityHeadersPlugin(app: FastifyInstance, options: { corsOrigins: string[] | undefined }) {
  const apiHeaders = helmetHeaders({ contentSecurityPolicy: { useDefaults: false, directives: API_CSP } });
  const docsHeaders = helmetHeaders({ contentSecurityPolicy: { useDefaults: false, directives: DOCS_CSP } });
  const consoleHeaders = helmetHeaders({ contentSecurityPolicy: { useDefaults: false, directives: CONSOLE_CSP } });
  const under = (url: string, prefix: string) => url === prefix || url.startsWith(`${prefix}/`);
  app.addHook('onRoute', (route) => {
    const headers = under(route.url, DOCS_PREFIX) ? docsHeaders : under(route.url, CONSOLE_PREFIX) ? consoleHeaders : undefined;
    if (headers === undefined) return;
    route.config = { ...route.config, securityHeaders: headers };
  });
  // On the raw response, first thing: every answer carries them, refusals and unknown routes included.
  app.addHook('onRequest', (request, reply, done) => {
    const raw = reply.raw;
    for (const [name, value] of request.routeOptions.config.securityHeaders ?? apiHeaders) raw.setHeader(name, value);
    done();
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

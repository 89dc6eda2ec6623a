/**
 * Binary requests through supertest: an application/octet-stream body, and the answer buffered whole —
 * bytes when the server answers bytes, parsed JSON when it answers JSON (a problem, say). supertest's own
 * parsers would leave an octet-stream answer unread.
 */
import type supertest from 'supertest';
import { bearer } from './app.js';

export function postBinary(http: supertest.Agent, url: string, body: Uint8Array, key: string) {
  return http
    .post(url)
    .set(bearer(key))
    .set('Content-Type', 'application/octet-stream')
    .send(Buffer.from(body.buffer, body.byteOffset, body.byteLength))
    .buffer(true)
    .parse((res, done) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const raw = Buffer.concat(chunks);
        done(null, /json/.test(String(res.headers['content-type'])) ? JSON.parse(raw.toString('utf8')) : raw);
      });
    });
}

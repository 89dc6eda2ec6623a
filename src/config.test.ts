/** The settings that guard access: the metrics token's length, and that it is not the operator key. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig } from './config.js';

const ADMIN = 'operator-key-0123456789abcdef';

test('METRICS_TOKEN is optional, at least 24 characters, and never the operator key', () => {
  assert.equal(loadConfig({ ADMIN_API_KEY: ADMIN }).METRICS_TOKEN, undefined);
  assert.equal(loadConfig({ ADMIN_API_KEY: ADMIN, METRICS_TOKEN: '' }).METRICS_TOKEN, undefined);
  assert.equal(loadConfig({ ADMIN_API_KEY: ADMIN, METRICS_TOKEN: 'scraper-token-0123456789ab' }).METRICS_TOKEN, 'scraper-token-0123456789ab');
  assert.throws(() => loadConfig({ METRICS_TOKEN: 'short' }), /METRICS_TOKEN: expected at least 24 characters/);
  assert.throws(() => loadConfig({ ADMIN_API_KEY: ADMIN, METRICS_TOKEN: ADMIN }), /METRICS_TOKEN: must differ from ADMIN_API_KEY/);
});

/** The settings that guard access: which proxies are believed, the metrics token's length, and that it is not the operator key. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig } from './config.js';

test('TRUST_PROXY: a hop count or proxy addresses and ranges; "trust anyone" and junk are refused by name', () => {
  assert.equal(loadConfig({}).TRUST_PROXY, undefined);
  assert.equal(loadConfig({ TRUST_PROXY: '' }).TRUST_PROXY, undefined);
  assert.equal(loadConfig({ TRUST_PROXY: '1' }).TRUST_PROXY, 1);
  assert.deepEqual(loadConfig({ TRUST_PROXY: '10.0.0.0/8, 127.0.0.1,::1' }).TRUST_PROXY, ['10.0.0.0/8', '127.0.0.1', '::1']);
  for (const bad of ['true', '*', 'proxy.internal', '10.0.0.0/8/9', '0']) {
    assert.throws(() => loadConfig({ TRUST_PROXY: bad }), /TRUST_PROXY/, bad);
  }
});

const ADMIN = 'operator-key-0123456789abcdef';

test('METRICS_TOKEN is optional, at least 24 characters, and never the operator key', () => {
  assert.equal(loadConfig({ ADMIN_API_KEY: ADMIN }).METRICS_TOKEN, undefined);
  assert.equal(loadConfig({ ADMIN_API_KEY: ADMIN, METRICS_TOKEN: '' }).METRICS_TOKEN, undefined);
  assert.equal(loadConfig({ ADMIN_API_KEY: ADMIN, METRICS_TOKEN: 'scraper-token-0123456789ab' }).METRICS_TOKEN, 'scraper-token-0123456789ab');
  assert.throws(() => loadConfig({ METRICS_TOKEN: 'short' }), /METRICS_TOKEN: expected at least 24 characters/);
  assert.throws(() => loadConfig({ ADMIN_API_KEY: ADMIN, METRICS_TOKEN: ADMIN }), /METRICS_TOKEN: must differ from ADMIN_API_KEY/);
});

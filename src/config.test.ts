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

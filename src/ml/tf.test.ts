/**
 * Tests for backend selection: the default works without set-up, and asking for a native backend
 * whose package is not installed fails with the install command instead of a bare module error.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { activeBackend, getTf, initTf, type TfBackend } from './tf.js';

test('getTf: selects the cpu backend lazily; initTf is idempotent', async () => {
  const tf = getTf();
  assert.equal(tf.getBackend(), 'cpu');
  await initTf();
  await initTf('cpu');
  assert.equal(activeBackend(), 'cpu');
  assert.equal(getTf(), tf);
});

test('initTf: a missing optional backend names the package to install', async (t) => {
  for (const [backend, pkg] of [
    ['tensorflow', '@tensorflow/tfjs-node'],
    ['wasm', '@tensorflow/tfjs-backend-wasm'],
  ] as const) {
    try {
      await import(pkg);
      t.diagnostic(`${pkg} is installed; skipping its missing-package check`);
      continue;
    } catch {
      // Not installed: the case under test.
    }
    await assert.rejects(initTf(backend), new RegExp(`initTf: backend '${backend}' needs the optional package ${pkg}; run \`npm install ${pkg}@`));
    assert.equal(activeBackend(), 'cpu');
  }
  await assert.rejects(initTf('gpu' as TfBackend), /initTf: expected backend cpu, wasm or tensorflow, got "gpu"/);
});

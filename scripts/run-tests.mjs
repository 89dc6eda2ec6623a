// `npm test`: runs every *.test.ts under src/ and test/ (or under the folders given as arguments) with
// node's own test runner through tsx. Node 20's `--test` cannot glob by itself, hence this small finder.
// FEDSCORE_TEST_DB=postgres runs the database-backed suites on PostgreSQL instead of SQLite.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const roots = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ['src', 'test'];

function findTests(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (name === 'node_modules' || name === 'generated') return [];
    if (statSync(path).isDirectory()) return findTests(path);
    return name.endsWith('.test.ts') ? [relative(root, path)] : [];
  });
}

const files = roots.flatMap((dir) => (statSync(join(root, dir)).isDirectory() ? findTests(join(root, dir)) : [dir])).sort();
if (files.length === 0) {
  console.error(`run-tests: no *.test.ts files under ${roots.join(', ')}`);
  process.exit(1);
}
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-reporter=spec', ...files],
  { cwd: root, stdio: 'inherit', env: { ...process.env, CHECKPOINT_DISABLE: '1' } },
);
process.exit(result.status ?? 1);

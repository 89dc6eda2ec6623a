/**
 * `npm run openapi` writes openapi/openapi.json from the routes' zod schemas; `--check` fails when the
 * committed file differs from what the code generates (CI runs it). The app is built over a throwaway
 * SQLite file because buildApp needs a database; nothing else is touched.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../src/config.js';
import { buildApp } from '../src/http/app.js';

const target = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'openapi', 'openapi.json');
const dataDir = await mkdtemp(path.join(os.tmpdir(), 'fedscore-openapi-'));
try {
  const app = await buildApp({ config: loadConfig({ DATA_DIR: dataDir, LOG_LEVEL: 'silent' }), logger: false, sweepDeadlines: false });
  const document = JSON.stringify(app.swagger(), null, 2) + '\n';
  await app.close();
  if (process.argv.includes('--check')) {
    const committed = await readFile(target, 'utf8').catch(() => '');
    if (committed !== document) {
      console.error('openapi/openapi.json is out of date: run `npm run openapi` and commit the result');
      process.exitCode = 1;
    } else {
      console.log('openapi/openapi.json matches the code');
    }
  } else {
    await writeFile(target, document);
    console.log(`wrote ${path.relative(process.cwd(), target)}`);
  }
} finally {
  await rm(dataDir, { recursive: true, force: true });
}

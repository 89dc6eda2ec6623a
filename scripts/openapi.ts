/**
 * `npm run openapi` writes the documents generated from the code: openapi/openapi.json from the routes'
 * zod schemas, and the authorization matrix in docs/security.md from src/http/route-access.ts; `--check`
 * fails when a committed one differs from what the code generates (CI runs it). The app is built over a
 * throwaway SQLite file because buildApp needs a database; nothing else is touched.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../src/config.js';
import { buildApp } from '../src/http/app.js';
import { withAccessMatrix } from './access-matrix.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const target = path.join(root, 'openapi', 'openapi.json');
const securityDoc = path.join(root, 'docs', 'security.md');
const dataDir = await mkdtemp(path.join(os.tmpdir(), 'fedscore-openapi-'));
try {
  const app = await buildApp({ config: loadConfig({ DATA_DIR: dataDir, LOG_LEVEL: 'silent' }), logger: false, sweepDeadlines: false });
  const document = JSON.stringify(app.swagger(), null, 2) + '\n';
  await app.close();
  const committedSecurity = await readFile(securityDoc, 'utf8');
  const generated: [string, string, string][] = [
    [target, document, await readFile(target, 'utf8').catch(() => '')],
    [securityDoc, withAccessMatrix(committedSecurity), committedSecurity],
  ];
  for (const [file, wanted, committed] of generated) {
    const name = path.relative(root, file);
    if (process.argv.includes('--check')) {
      if (committed !== wanted) {
        console.error(`${name} is out of date: run \`npm run openapi\` and commit the result`);
        process.exitCode = 1;
      } else {
        console.log(`${name} matches the code`);
      }
    } else {
      await writeFile(file, wanted);
      console.log(`wrote ${name}`);
    }
  }
} finally {
  await rm(dataDir, { recursive: true, force: true });
}

/**
 * The README's console screenshots (docs/images/console-*.png), taken after the notebook's experiment: a
 * server in this process on a throw-away SQLite directory; `fedscore simulate` against it with the README's
 * defaults (one owner per crx training row, 20 rounds, logistic regression) and a validation set held out
 * of the training rows (--validation-fraction 0.2); a lender's key session with a few test applicants
 * scored under encryption; then Debian's Chromium at 1280×800 with the operator key pasted into the console.
 *
 *   npm run console:screenshots        (the simulation takes a few minutes on 2 cores)
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FedscoreClient } from '../src/client/http-client.js';
import { applySplit, readCsvFile, readSchemaFile, readSplitFile } from '../src/client/local-data.js';
import { loadConfig } from '../src/config.js';
import { startServer } from '../src/server.js';
import { repoRoot, sharedData } from '../test/helpers/app.js';
import { launchChromium, MISSING_CHROMIUM, browserUnavailable } from '../test/helpers/browser.js';
import { openLenderSession } from '../test/helpers/lender-session.js';
import { lastJsonLine, runCli } from '../test/helpers/processes.js';

const out = path.join(repoRoot, 'docs', 'images');
const data = path.join(sharedData, 'crx.data');
const split = path.join(sharedData, 'crx.split.json');
const schemaFile = path.join(repoRoot, 'schemas', 'crx.json');

if (browserUnavailable()) {
  console.error(MISSING_CHROMIUM);
  process.exit(1);
}
const adminKey = randomBytes(24).toString('base64url');
const dataDir = mkdtempSync(path.join(tmpdir(), 'fedscore-console-'));
const server = await startServer(loadConfig({ PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, ADMIN_API_KEY: adminKey, LOG_LEVEL: 'silent' }), { logger: false });
try {
  console.log(`server ${server.url}; running the notebook's experiment (fedscore simulate, one owner per row, 20 rounds) …`);
  const simulated = await runCli(
    ['simulate', '--server', server.url, '--data', data, '--schema', schemaFile, '--split', split, '--validation-fraction', '0.2', '--json'],
    { FEDSCORE_API_KEY: adminKey },
  );
  if (simulated.code !== 0) throw new Error(`fedscore simulate failed (${simulated.code}):\n${simulated.stderr}`);
  const result = lastJsonLine<{ federationId: string; final: { accuracy: number; auc: number } }>(simulated.stdout);
  console.log(`federation ${result.federationId}: final accuracy ${result.final.accuracy}, AUC ${result.final.auc}`);

  const operator = new FedscoreClient({ baseUrl: server.url }).withApiKey(adminKey);
  const schema = await readSchemaFile(schemaFile);
  const test = applySplit(await readCsvFile(data, schema), await readSplitFile(split)).test!;
  await openLenderSession(operator, result.federationId, test.records.slice(0, 20));

  mkdirSync(out, { recursive: true });
  const browser = await launchChromium();
  try {
    const page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
    await page.goto(`${server.url}/console`);
    await page.locator('#key-input').fill(adminKey);
    await page.locator('#connect').click();
    await page.locator('#federation-list').waitFor();
    await page.screenshot({ path: path.join(out, 'console-federations.png') });
    await page.locator('#federation-list a').first().click();
    await page.locator('#federation-id').waitFor();
    await page.screenshot({ path: path.join(out, 'console-overview.png') });
    for (const section of ['rounds', 'quality', 'latest', 'sessions']) {
      await page.locator(`#${section}`).screenshot({ path: path.join(out, `console-${section}.png`) });
    }
    console.log(`wrote ${out}/console-{federations,overview,rounds,quality,latest,sessions}.png`);
  } finally {
    await browser.close();
  }
} finally {
  await server.close();
  rmSync(dataDir, { recursive: true, force: true });
}

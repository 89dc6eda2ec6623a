/**
 * The operator console in a real browser (Debian's Chromium through playwright-core) against a real
 * server on port 0 that logs into memory. Three small federated runs on the crx training rows, with the
 * test rows attached as the validation set — plain, secure with dropouts, differentially private — and a
 * lender's open key session give it something to show. The test pastes a missing, a wrong and the right
 * key (by keyboard); reads the federation, the rounds, the accuracy chart's data points, the ROC,
 * calibration and score histogram, the committee's partial sums, ε and the session's count from the page
 * and compares them with what the API answers; watches a round open and fail without a reload; and checks
 * the key never appears in a URL, in the page's storage after its tab is closed, or in a server log line.
 * Screenshots go to test/artifacts/ (not committed).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { FedscoreClient } from '../../src/client/http-client.js';
import { applySplit, encodeRows, readCsvFile, readSchemaFile, readSplitFile, shardRows } from '../../src/client/local-data.js';
import { runSimulation } from '../../src/client/simulation.js';
import { loadConfig } from '../../src/config.js';
import { initTf } from '../../src/ml/tf.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { repoRoot, sharedData } from '../helpers/app.js';
import { browserUnavailable, launchChromium } from '../helpers/browser.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { openLenderSession } from '../helpers/lender-session.js';

const ADMIN_KEY = randomBytes(24).toString('base64url');
const WRONG_KEY = randomBytes(24).toString('base64url');
const artifacts = path.join(repoRoot, 'test', 'artifacts');
const skip = browserUnavailable();

let target: TestDatabase;
let server: RunningServer | undefined;
let browser: Browser | undefined;
let context: BrowserContext;
let page: Page;
const logLines: string[] = [];
const urls: string[] = [];
const pageProblems: string[] = [];
let federationId: string;
let sessionId: string;
/** A secure federation whose owners and committee members drop out, and a differentially private one. */
let secureId: string;
let privateId: string;

/** The API's answer, read as any script would, with the operator key. */
async function apiGet<T = any>(route: string): Promise<T> {
  const res = await fetch(`${server!.url}${route}`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
  assert.equal(res.status, 200, `GET ${route}`);
  return (await res.json()) as T;
}

async function apiPost<T = any>(route: string, body: object = {}): Promise<T> {
  const res = await fetch(`${server!.url}${route}`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  assert.ok(res.status < 300, `POST ${route}: ${res.status}`);
  return (await res.json()) as T;
}

const shot = (name: string) => page.screenshot({ path: path.join(artifacts, `console-${name}.png`), fullPage: ['federation', 'secure', 'private'].includes(name) });

describe('the operator console in Chromium', { skip }, () => {
  before(async () => {
    mkdirSync(artifacts, { recursive: true });
    await initTf('cpu');
    target = await createTestDatabase();
    const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', DATA_DIR: target.dataDir, DATABASE_URL: target.databaseUrl ?? '', ADMIN_API_KEY: ADMIN_KEY, LOG_LEVEL: 'info' });
    server = await startServer(config, { logger: { level: 'trace', stream: { write: (line: string) => void logLines.push(line) } } });

    const schema = await readSchemaFile(path.join(repoRoot, 'schemas', 'crx.json'));
    const split = await readSplitFile(path.join(sharedData, 'crx.split.json'));
    const parts = applySplit(await readCsvFile(path.join(sharedData, 'crx.data'), schema), split);
    const lines = readFileSync(path.join(sharedData, 'crx.data'), 'utf8').split('\n');
    const validationCsv = split.test!.map((n) => lines[n - 1]).join('\n') + '\n';
    const operator = new FedscoreClient({ baseUrl: server.url }).withApiKey(ADMIN_KEY);
    const run = (name: string, rounds: number, extra: Partial<Parameters<typeof runSimulation>[0]>) =>
      runSimulation({
        operator,
        name,
        schema,
        model: { kind: 'logreg' },
        training: { rounds, epochs: 1, batchSize: 8, learningRate: 0.1, seed: 11 },
        mode: 'plain',
        shards: shardRows(encodeRows(schema, parts.train), 12),
        evaluation: encodeRows(schema, parts.test!),
        validationCsv,
        concurrency: 6,
        ...extra,
      });
    const [plain, secure, priv] = await Promise.all([
      run('console e2e crx', 3, {}),
      run('console e2e secure', 2, { mode: 'secure', secure: { committee: 3, threshold: 2, dropout: 0.25, committeeDropout: 1, clipNorm: 1000 } }),
      run('console e2e private', 2, { privacy: { epsilon: 8, delta: 1e-3, clipNorm: 1 } }),
    ]);
    federationId = plain.federationId;
    secureId = secure.federationId;
    privateId = priv.federationId;
    // A lender's encrypted-prediction session, left open with five applicants scored in it.
    sessionId = await openLenderSession(operator, federationId, parts.test!.records.slice(0, 5));

    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    page = await context.newPage();
    page.on('framenavigated', (frame) => urls.push(frame.url()));
    page.on('request', (request) => urls.push(request.url()));
    page.on('pageerror', (error) => pageProblems.push(`page error: ${error.message}`));
    page.on('console', (message) => {
      // A refused key's 401 is logged by Chromium as a failed load; anything else (a CSP refusal above all) is a fault.
      if (message.type() === 'error' && !/Failed to load resource: the server responded with a status of (401|404)/.test(message.text())) pageProblems.push(message.text());
    });
  });

  after(async () => {
    await browser?.close();
    await server?.close();
    await target?.cleanup();
  });

  it('asks for a key, and says so plainly when it is missing or wrong, showing no data', async () => {
    await page.goto(`${server!.url}/console`);
    await page.locator('#welcome').waitFor();
    assert.match(await page.locator('#welcome').innerText(), /Paste a key above/);
    await shot('welcome');

    await page.locator('#connect').click();
    assert.match(await page.locator('#error').innerText(), /Paste a key first/);

    await page.locator('#key-input').fill(WRONG_KEY);
    await page.locator('#connect').click();
    await page.locator('#error h2').waitFor();
    assert.equal(await page.locator('#error h2').innerText(), 'The server did not accept this key');
    assert.match(await page.locator('#error').innerText(), /ADMIN_API_KEY/);
    assert.equal(await page.locator('#key-input').inputValue(), '', 'the field is emptied once read');
    assert.equal(await page.locator('[data-federation-id], #federation-id, table').count(), 0, 'no data on the page');
    assert.doesNotMatch(await page.locator('body').innerText(), /console e2e crx/);
    await shot('wrong-key');
  });

  it('lists the federation and shows its settings, owners and rounds as the API does', async () => {
    // By keyboard alone: the key, Enter; then Tab to the federation's link and Enter.
    await page.locator('#key-input').focus();
    await page.keyboard.type(ADMIN_KEY);
    await page.keyboard.press('Enter');
    const item = page.locator(`#federation-list li[data-federation-id="${federationId}"]`);
    await item.waitFor();
    assert.equal(await page.locator('#error').count(), 0);
    const federation = await apiGet(`/v1/federations/${federationId}`);
    assert.equal(await item.locator('a').innerText(), federation.name);
    await shot('federations');

    const links = await page.locator('#federation-list a').count();
    for (let tab = 0; tab < links + 1; tab++) {
      await page.keyboard.press('Tab');
      if (await page.evaluate<boolean>(`document.activeElement?.closest('li')?.dataset.federationId === ${JSON.stringify(federationId)}`)) break;
    }
    await page.keyboard.press('Enter');
    await page.locator('#federation-id').waitFor();
    assert.equal(await page.evaluate<string>('document.activeElement.id'), 'federation-name', 'focus moves to the page it opened');
    assert.equal(await page.locator('#federation-id').innerText(), federationId);
    assert.equal(await page.locator('#federation-name').innerText(), federation.name);
    assert.match(await page.locator('#aggregation').innerText(), /^plain/);
    assert.equal(await page.locator('#model-spec').innerText(), 'logistic regression');
    const owners = (await apiGet(`/v1/federations/${federationId}/owners`)).owners;
    assert.equal(await page.locator('#owner-counts tr[data-count="Enrolled"] td').getAttribute('data-value'), String(owners.length));

    const rounds = (await apiGet(`/v1/federations/${federationId}/rounds`)).rounds as { number: number; status: string; submissionCount: number; modelVersion: number | null }[];
    assert.equal(rounds.length, 3);
    const shown = await page.locator('#rounds-table tbody tr').evaluateAll((rows) =>
      rows.map((row) => ({
        number: Number(row.getAttribute('data-round')),
        status: row.getAttribute('data-status'),
        submitted: Number(row.querySelector('td[data-value]')?.getAttribute('data-value')),
        published: row.querySelectorAll('td')[8]?.textContent,
      })),
    );
    assert.deepEqual(
      shown,
      [...rounds].reverse().map((r) => ({ number: r.number, status: r.status, submitted: r.submissionCount, published: r.modelVersion === null ? '—' : `v${r.modelVersion}` })),
    );
  });

  it('draws every version’s validation accuracy, and the latest version’s ROC curve, from the API’s numbers', async () => {
    const models = (await apiGet(`/v1/federations/${federationId}/models`)).models as { version: number; validation: { accuracy: number; roc: { fpr: number; tpr: number }[] } | null }[];
    const scored = models.filter((m) => m.validation !== null).sort((a, b) => a.version - b.version);
    assert.ok(scored.length >= 3, `versions scored on the validation set: ${scored.length}`);
    // The text alternative: one row per version, its exact accuracy in data-value.
    const table = await page.locator('#chart-accuracy table tbody tr').evaluateAll((rows) =>
      rows.map((row) => [Number(row.querySelector('th')!.textContent), Number(row.querySelector('td[data-series="accuracy"]')?.getAttribute('data-value'))]),
    );
    assert.deepEqual(table, [...models].sort((a, b) => a.version - b.version).map((m) => [m.version, m.validation?.accuracy ?? NaN]));
    // The drawn points carry the same numbers.
    const points = await page.locator('#chart-accuracy g[data-series="accuracy"] [data-y]').evaluateAll((nodes) => nodes.map((n) => [Number(n.getAttribute('data-x')), Number(n.getAttribute('data-y'))]));
    assert.deepEqual(points, scored.map((m) => [m.version, m.validation!.accuracy]));
    assert.equal(await page.locator('#chart-accuracy svg[role="img"] title').count(), 1, 'the chart has a title for assistive technology');

    const latest = scored.at(-1)!;
    const roc = await page.locator('#chart-roc table tbody tr').evaluateAll((rows) =>
      rows.map((row) => ({ fpr: Number(row.querySelector('th')!.getAttribute('data-value')), tpr: Number(row.querySelector('td[data-series="tpr"]')!.getAttribute('data-value')) })),
    );
    assert.deepEqual(roc, latest.validation!.roc.map(({ fpr, tpr }) => ({ fpr, tpr })));
  });

  it('shows the latest version’s calibration and score distribution as the API gives them', async () => {
    const latest = await apiGet(`/v1/federations/${federationId}/models/latest`);
    const calibration = await page.locator('#chart-calibration table tbody tr').evaluateAll((rows) =>
      rows.map((row) => [Number(row.querySelector('th')!.getAttribute('data-value')), Number(row.querySelector('td[data-series="observedRate"]')!.getAttribute('data-value')), Number(row.querySelector('td[data-series="count"]')!.getAttribute('data-value'))]),
    );
    assert.deepEqual(
      calibration,
      latest.validation.calibration.filter((bin: { count: number }) => bin.count > 0).map((bin: { meanPredicted: number; observedRate: number; count: number }) => [bin.meanPredicted, bin.observedRate, bin.count]),
    );
    const histogram = await page.locator('#chart-scores table tbody tr').evaluateAll((rows) =>
      rows.map((row) => [Number(row.querySelector('td[data-series="positives"]')!.getAttribute('data-value')), Number(row.querySelector('td[data-series="negatives"]')!.getAttribute('data-value'))]),
    );
    assert.deepEqual(histogram, latest.validation.scoreHistogram.positives.map((p: number, b: number) => [p, latest.validation.scoreHistogram.negatives[b]]));
  });

  it('lists the key session with the count the API gives, and no key material', async () => {
    const listed = (await apiGet(`/v1/federations/${federationId}/he-sessions`)).sessions as { id: string; queriesUsed: number; queryBudget: number; modelVersion: number }[];
    assert.equal(listed.length, 1);
    const row = page.locator(`#sessions-table tr[data-session="${sessionId}"]`);
    assert.deepEqual(
      await row.locator('td[data-value]').evaluateAll((cells) => cells.map((cell) => Number(cell.getAttribute('data-value')))),
      [listed[0]!.queriesUsed, listed[0]!.queryBudget],
    );
    assert.ok(listed[0]!.queriesUsed >= 5, 'the five applicants (and the rest of their batch) were counted');
    assert.equal(await row.locator('td').first().innerText(), `v${listed[0]!.modelVersion}`);
  });

  it('shows a secure federation’s committee and the owners who dropped out, and a private one’s ε against its budget', async () => {
    await page.goto(`${server!.url}/console#/federations/${secureId}`);
    await page.reload();
    // A reloaded document has forgotten the key: the page asks for it again and shows nothing until then.
    await page.locator('#welcome').waitFor();
    assert.equal(await page.locator('#federation-id').count(), 0);
    await page.locator('#key-input').fill(ADMIN_KEY);
    await page.locator('#connect').click();
    await page.locator('#federation-id').waitFor();
    assert.equal(await page.locator('#federation-id').innerText(), secureId);
    assert.match(await page.locator('#aggregation').innerText(), /^secure/);
    const rounds = (await apiGet(`/v1/federations/${secureId}/rounds`)).rounds as { number: number; submissionCount: number; secure: { partialSumCount: number; includedCount: number; committee: unknown[] } }[];
    const owners = (await apiGet(`/v1/federations/${secureId}/owners`)).owners.length;
    const shown = await page.locator('#rounds-table tbody tr').evaluateAll((rows) =>
      rows.map((row) => {
        const committee = row.querySelector('td.committee') as unknown as { dataset: Record<string, string> };
        return [Number(row.getAttribute('data-round')), Number(row.querySelectorAll('td[data-value]')[2]?.getAttribute('data-value')), committee.dataset.partialSums, committee.dataset.seats, committee.dataset.included];
      }),
    );
    assert.deepEqual(
      shown,
      [...rounds].reverse().map((r) => [r.number, owners - r.submissionCount, String(r.secure.partialSumCount), String(r.secure.committee.length), String(r.secure.includedCount)]),
    );
    assert.ok(shown.every(([, dropped]) => (dropped as number) > 0), 'a quarter of the owners dropped out of every round');
    await shot('secure');

    await page.locator('#home-link').click();
    await page.locator(`#federation-list li[data-federation-id="${privateId}"] a`).click();
    await page.locator('#chart-privacy').waitFor();
    const federation = await apiGet(`/v1/federations/${privateId}`);
    const models = (await apiGet(`/v1/federations/${privateId}/models`)).models as { version: number; privacy: { epsilon: number } | null }[];
    const epsilons = await page.locator('#chart-privacy table tbody tr').evaluateAll((rows) =>
      rows.map((row) => [Number(row.querySelector('th')!.textContent), row.querySelector('td[data-series="epsilon"]')!.getAttribute('data-value')]),
    );
    assert.deepEqual(epsilons, [...models].sort((a, b) => a.version - b.version).map((m) => [m.version, m.privacy === null ? null : String(m.privacy.epsilon)]));
    assert.ok(models.some((m) => (m.privacy?.epsilon ?? 0) > 0), 'some ε was spent');
    assert.match(await page.locator('#chart-privacy svg desc').textContent() ?? '', new RegExp(`budget ε ${federation.privacy.epsilon}`));
    await shot('private');

    await page.locator('#home-link').click();
    await page.locator(`#federation-list li[data-federation-id="${federationId}"] a`).click();
    await page.locator('#federation-id').waitFor();
  });

  it('follows a round opening and failing without reloading the page', async () => {
    // A mark on this document: a reload would make a new one without it.
    await page.evaluate('window.notReloaded = true');
    await page.locator('#chart-accuracy details summary').click();
    const opened = await apiPost(`/v1/federations/${federationId}/rounds`, { minOwners: 12 });
    await page.locator(`#rounds-table tr[data-round="${opened.number}"][data-status="open"]`).waitFor({ timeout: 20_000 });
    await shot('round-open');
    const failed = await apiPost(`/v1/federations/${federationId}/rounds/${opened.number}/close`);
    assert.equal(failed.status, 'failed');
    const row = page.locator(`#rounds-table tr[data-round="${opened.number}"][data-status="failed"]`);
    await row.waitFor({ timeout: 20_000 });
    assert.equal(await row.locator('td').last().innerText(), failed.failureReason);
    assert.equal(await page.evaluate<boolean>('window.notReloaded === true'), true, 'the same document, not a reload');
    assert.equal(await page.locator('#chart-accuracy details[open] table').isVisible(), true, 'the data table opened before the redraw is still open');
    await page.locator('#overview-heading').scrollIntoViewIfNeeded();
    await shot('federation');
  });

  it('keeps the key out of every URL, out of storage once the tab is closed, and out of the server’s log', async () => {
    assert.equal(pageProblems.length, 0, pageProblems.join('\n'));
    assert.ok(urls.length > 5);
    for (const url of urls) {
      assert.ok(!url.includes(ADMIN_KEY) && !url.includes(WRONG_KEY), `a URL holds a key: ${url}`);
    }
    await page.close();
    const next = await context.newPage();
    await next.goto(`${server!.url}/console`);
    await next.locator('#welcome').waitFor();
    // A string: evaluated in the page, where these globals exist (this file is type-checked for Node).
    const stored = await next.evaluate<string>('JSON.stringify({ local: { ...localStorage }, session: { ...sessionStorage }, cookie: document.cookie })');
    assert.ok(!stored.includes(ADMIN_KEY) && !stored.includes(WRONG_KEY), stored);
    assert.deepEqual(await context.cookies(), []);
    assert.equal(await next.locator('#federation-list, #federation-id').count(), 0, 'a new tab starts without a key');
    await next.close();

    assert.ok(logLines.some((line) => line.includes('/console/app.js')), 'the log recorded the console’s requests');
    assert.ok(logLines.some((line) => line.includes('/rounds/current')), 'and its long polls');
    const leaks = logLines.filter((line) => line.includes(ADMIN_KEY) || line.includes(WRONG_KEY));
    assert.deepEqual(leaks, []);
  });
});

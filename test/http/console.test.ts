/**
 * The operator console's page and files: served from console/ by exact name under a policy that lets the
 * page load only its own scripts and styles and talk only to this origin; nothing inline, nothing remote;
 * a name that is not one of its files is a problem+json, and no request reaches outside the folder.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { CONSOLE_DIR } from '../../src/http/console-files.js';
import { assertProblem, assertRefused, createTestApp, cspDirectives as csp, type TestApp } from '../helpers/app.js';

let t: TestApp;
before(async () => (t = await createTestApp()));
after(async () => t.close());

const CONSOLE_POLICY = {
  'default-src': ["'none'"],
  'script-src': ["'self'"],
  'style-src': ["'self'"],
  'img-src': ["'self'"],
  'connect-src': ["'self'"],
  'base-uri': ["'none'"],
  'form-action': ["'none'"],
  'frame-ancestors': ["'none'"],
};

test('the page and every file it loads are served as themselves under the console’s policy', async () => {
  const page = await t.http.get('/console').expect(200);
  assert.match(page.headers['content-type']!, /^text\/html; charset=utf-8/);
  assert.equal(page.text, readFileSync(path.join(CONSOLE_DIR, 'index.html'), 'utf8'));
  assert.deepEqual(csp(page.headers['content-security-policy']), CONSOLE_POLICY);
  assert.equal(page.headers['x-content-type-options'], 'nosniff');
  // The page's own references, and the modules' imports of each other, all resolve to served files.
  const linked = [...page.text.matchAll(/(?:src|href)="\/console\/([^"]+)"/g)].map((m) => m[1]!);
  assert.deepEqual(linked.sort(), ['app.js', 'console.css']);
  const scripts = readdirSync(CONSOLE_DIR).filter((name) => name.endsWith('.js'));
  for (const script of scripts) {
    for (const [, imported] of readFileSync(path.join(CONSOLE_DIR, script), 'utf8').matchAll(/^import .* from '\.\/([a-z0-9-]+\.js)';$/gm)) {
      assert.ok(scripts.includes(imported!), `${script} imports ${imported}, which is in console/`);
    }
  }
  for (const name of [...scripts, 'console.css']) {
    const res = await t.http.get(`/console/${name}`).expect(200);
    assert.match(res.headers['content-type']!, name.endsWith('.js') ? /^text\/javascript; charset=utf-8/ : /^text\/css; charset=utf-8/);
    assert.equal(res.text, readFileSync(path.join(CONSOLE_DIR, name), 'utf8'), `${name} is served unchanged (not quoted as JSON)`);
    assert.deepEqual(csp(res.headers['content-security-policy']), CONSOLE_POLICY);
  }
});

test('the console ships everything it runs: no inline script or style, no handler attribute, no remote origin', () => {
  const page = readFileSync(path.join(CONSOLE_DIR, 'index.html'), 'utf8');
  for (const tag of page.match(/<script\b[^>]*>/g) ?? []) assert.match(tag, /\ssrc="\/console\/[a-z0-9-]+\.js"/, `script tag ${tag} loads a console file`);
  assert.doesNotMatch(page, /<script\b[^>]*>[^<\s]/, 'no inline script body');
  assert.doesNotMatch(page, /<style\b|\sstyle=|\son[a-z]+=/i, 'no inline style or event handler attribute');
  for (const name of readdirSync(CONSOLE_DIR)) {
    const text = readFileSync(path.join(CONSOLE_DIR, name), 'utf8');
    // The SVG namespace is a name, not something fetched.
    const remote = [...text.matchAll(/\b(?:https?:)?\/\/[a-z0-9.-]+\.[a-z]{2,}[^\s'"]*/gi)].map((m) => m[0]).filter((url) => url !== 'http://www.w3.org/2000/svg');
    assert.deepEqual(remote, [], `${name} refers to no other origin`);
    assert.doesNotMatch(text, /innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|new Function/, `${name} never turns text into markup or code`);
    assert.doesNotMatch(text, /localStorage|sessionStorage|document\.cookie|console\.log/, `${name} neither stores nor logs (the key lives in memory only)`);
  }
});

test('a name that is not one of the console’s files is a problem, and nothing outside console/ is reachable', async () => {
  await assertRefused(t, () => t.http.get('/console/missing.js'), 404, 'console-file-not-found', 'an unknown script');
  for (const name of ['index.html', '..%2Fpackage.json', '.env', 'app.js.map', 'APP.JS', '%2e%2e%2fsrc%2fconfig.ts']) {
    assertProblem(await t.http.get(`/console/${name}`), 422, 'validation-failed', name);
  }
  const slash = await t.http.get('/console/').expect(308);
  assert.equal(slash.headers.location, '/console', 'a trailing slash leads to the page');
  const traversal = await t.http.get('/console/../package.json');
  assert.notEqual(traversal.status, 200, 'a dot-segment path serves nothing');
  assert.ok(!traversal.text.includes('"devDependencies"'));
});

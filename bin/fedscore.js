#!/usr/bin/env node
// The `fedscore` command. An installed package runs the compiled CLI in dist/ (built on `npm install`);
// a checkout without a build runs the TypeScript sources through tsx, so the same command works in both.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const compiled = new URL('../dist/cli/main.js', import.meta.url);
let entry = compiled;
if (!existsSync(fileURLToPath(compiled))) {
  const { register } = await import('tsx/esm/api');
  register();
  entry = new URL('../src/cli/main.ts', import.meta.url);
}
const { runCli } = await import(entry.href);
process.exitCode = await runCli(process.argv.slice(2));

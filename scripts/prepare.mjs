// `prepare`, which npm runs after `npm install` and `npm ci` in a checkout: the full build (`npm run build`:
// Prisma clients, TypeScript).
//
// `npx fedscore` in a checkout also ends up here: npm 11 finds `fedscore` in this package.json's "bin",
// links the checkout into its cache (~/.npm/_npx) and runs `prepare` there once more. Rebuilding at that
// point made the first `npx fedscore …` take 8–11 s and look hung, so under npx / `npm exec` an existing
// build is used as it is — exactly what every later npx call, and `node bin/fedscore.js`, run anyway.
// Without a build (a fresh `npx github:…`, say) it builds as usual.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

if (process.env.npm_command === 'exec' && existsSync(join(root, 'dist', 'cli', 'main.js'))) process.exit(0);

// The npm that runs this script, not whichever one is first on PATH.
const npm = process.env.npm_execpath;
const result = npm
  ? spawnSync(process.execPath, [npm, 'run', 'build'], { cwd: root, stdio: 'inherit' })
  : spawnSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit', shell: process.platform === 'win32' });
if (result.error) console.error(`prepare: could not run npm run build: ${result.error.message}`);
process.exit(result.status ?? 1);

/**
 * `npm run bench [-- name …]`: runs the benchmarks (all by default) and writes bench/results/<name>.json
 * and .md. Figures are measurements on the machine that ran them, never pass/fail thresholds.
 */
import { heBench } from './he.bench.js';
import { heHttpBench } from './he-http.bench.js';
import { loadBench } from './load.bench.js';
import { modelQualityBench } from './model-quality.bench.js';
import { modelQualityCreditCardBench } from './model-quality-credit-card.bench.js';
import { privacyBench } from './privacy.bench.js';
import { roundsBench } from './rounds.bench.js';
import { roundWaitsBench } from './round-waits.bench.js';
import { scaleOutBench } from './scale-out.bench.js';
import { secure100kBench } from './secure-100k.bench.js';
import { secure30kBench } from './secure-30k.bench.js';
import { secureCryptoBench } from './secure-crypto.bench.js';
import { secureWireBench } from './secure-wire.bench.js';
import { submissionsBench } from './submissions.bench.js';

const benches: Record<string, () => Promise<void>> = {
  rounds: roundsBench,
  'round-waits': roundWaitsBench,
  'plain-submissions': submissionsBench,
  'secure-crypto': secureCryptoBench,
  'secure-30k': secure30kBench,
  'secure-100k': secure100kBench,
  'secure-wire': secureWireBench,
  privacy: privacyBench,
  'model-quality': modelQualityBench,
  'model-quality-credit-card': modelQualityCreditCardBench,
  he: heBench,
  'he-http': heHttpBench,
  load: loadBench,
  'scale-out': scaleOutBench,
};

const wanted = process.argv.slice(2).filter((arg) => !arg.startsWith('-'));
for (const name of wanted) {
  if (!benches[name]) {
    console.error(`bench: unknown benchmark "${name}"; known: ${Object.keys(benches).join(', ')}`);
    process.exit(2);
  }
}
for (const [name, run] of Object.entries(benches)) {
  if (wanted.length > 0 && !wanted.includes(name)) continue;
  console.error(`== ${name}`);
  await run();
}

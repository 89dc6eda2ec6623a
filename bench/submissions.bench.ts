/**
 * Server throughput for plain updates, isolated from client training: M owners submit precomputed weight
 * vectors as fast as C concurrent HTTP clients allow, then the operator closes the round and the close
 * request's latency is the server's aggregation time (read every update, FedAvg, publish the version).
 */
import { mapWithConcurrency } from '../src/client/concurrency.js';
import type { FedscoreClient } from '../src/client/http-client.js';
import { federationBody } from './crx-federation.js';
import { percentile, round3, withServer, writeResult } from './bench-io.js';

const SIZES = (process.env.BENCH_SUBMISSION_SIZES ?? '522,653,5000').split(',').map(Number);
const CONCURRENCY = 16;

async function measure(operator: FedscoreClient, owners: number) {
  const { federation, enrolmentToken } = await operator.createFederation(await federationBody(owners + 1));
  const clients = await mapWithConcurrency(
    Array.from({ length: owners }, (_, i) => i),
    CONCURRENCY,
    async (i) => operator.withApiKey((await operator.enrolOwner(federation.id, { enrolmentToken, name: `bench-${i}` })).apiKey),
  );
  await operator.openRound(federation.id, {});
  const base = (await operator.getModelWeights(federation.id, 0)).weights;
  const latencies: number[] = [];
  const started = performance.now();
  await mapWithConcurrency(clients, CONCURRENCY, async (client, i) => {
    const weights = base.map((w, j) => w + ((i * 31 + j) % 17) / 1000);
    const t0 = performance.now();
    await client.submitUpdate(federation.id, 1, { weights, numSamples: 1, metrics: { loss: 0.5 } });
    latencies.push(performance.now() - t0);
  });
  const submitSeconds = (performance.now() - started) / 1000;
  // minOwners is one more than the owners, so the round is still open: every submission was a plain insert.
  const round = await operator.getRound(federation.id, 1);
  if (round.status !== 'open' || round.submissionCount !== owners) throw new Error('submissions bench: expected every update in an open round');
  return { submitSeconds, latencies, parameters: base.length };
}

async function measureAggregation(operator: FedscoreClient, owners: number) {
  const { federation, enrolmentToken } = await operator.createFederation(await federationBody(owners));
  const clients = await mapWithConcurrency(
    Array.from({ length: owners }, (_, i) => i),
    CONCURRENCY,
    async (i) => operator.withApiKey((await operator.enrolOwner(federation.id, { enrolmentToken, name: `agg-${i}` })).apiKey),
  );
  await operator.openRound(federation.id, { minOwners: owners });
  const base = (await operator.getModelWeights(federation.id, 0)).weights;
  const SOLO = 20;
  await mapWithConcurrency(clients.slice(0, -(SOLO + 1)), CONCURRENCY, async (client) => {
    await client.submitUpdate(federation.id, 1, { weights: base, numSamples: 1 });
  });
  // Baseline: submissions one at a time, as the closing one will be.
  const latencies: number[] = [];
  for (const client of clients.slice(-(SOLO + 1), -1)) {
    const t0 = performance.now();
    await client.submitUpdate(federation.id, 1, { weights: base, numSamples: 1 });
    latencies.push(performance.now() - t0);
  }
  // The last submission closes the round: its extra latency over a lone submission is the aggregation.
  const t0 = performance.now();
  const receipt = await clients.at(-1)!.submitUpdate(federation.id, 1, { weights: base, numSamples: 1 });
  const closingMs = performance.now() - t0;
  if (receipt.round.status !== 'closed') throw new Error('submissions bench: the last update should have closed the round');
  return { closingMs, medianSubmitMs: percentile(latencies, 50) };
}

export async function submissionsBench(): Promise<void> {
  const runs = [];
  for (const owners of SIZES) {
    const result = await withServer(async (operator) => {
      const throughput = await measure(operator, owners);
      const aggregation = await measureAggregation(operator, owners);
      return { throughput, aggregation };
    });
    runs.push({
      owners,
      parameters: result.throughput.parameters,
      updatesPerSecond: round3(owners / result.throughput.submitSeconds),
      p50Ms: round3(percentile(result.throughput.latencies, 50)),
      p99Ms: round3(percentile(result.throughput.latencies, 99)),
      closingSubmissionMs: round3(result.aggregation.closingMs),
      aggregationMs: round3(result.aggregation.closingMs - result.aggregation.medianSubmitMs),
    });
  }
  await writeResult('plain-submissions', { concurrency: CONCURRENCY, runs }, [
    {
      title: `Plain update submissions (${CONCURRENCY} concurrent HTTP clients, embedded SQLite)`,
      columns: ['owners', 'parameters', 'updates / s', 'p50 ms', 'p99 ms', 'closing submission ms', 'server aggregation ms'],
      rows: runs.map((r) => [r.owners, r.parameters, r.updatesPerSecond, r.p50Ms, r.p99Ms, r.closingSubmissionMs, r.aggregationMs]),
      notes: [
        'Server aggregation = latency of the submission that closes the round (read all updates, FedAvg, publish the version) minus the median latency of 20 lone submissions just before it.',
      ],
    },
  ]);
}

/**
 * The server's Prometheus instruments. Each app gets its own registry — tests build many apps in one
 * process, and prom-client's global registry refuses a metric registered twice — holding the domain
 * metrics the services report through `ServiceMetrics` (src/services/service-metrics.ts) and, once the
 * metrics plugin has added them, the HTTP and scrape-time ones. The process's own metrics (CPU, memory,
 * event-loop lag, GC) describe the process, not an app: they are collected once per process, in a registry
 * of their own that every app's /metrics appends.
 */
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';
import type { ServiceMetrics, SubmissionKind } from '../services/service-metrics.js';

export interface AppMetrics {
  registry: Registry;
  /** Handed to the services, which report domain events through it. */
  service: ServiceMetrics;
  /** The exposition text: this app's metrics, then the process's. */
  render(): Promise<string>;
}

const SUBMISSION_KINDS: readonly SubmissionKind[] = ['update', 'shares', 'statistics', 'evaluation', 'partial-sum'];

/** Settling spans a small plain round (milliseconds) to tens of thousands of secure updates (a minute or two). */
const SETTLEMENT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
/** An encrypted evaluation takes 15–30 ms per set at N=4096, longer at N=8192 or behind a queue. */
const HE_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

let processRegistry: Registry | undefined;

/** prom-client's default process metrics, registered once per process (their collectors are process-wide). */
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

export function createMetrics(): AppMetrics {
  const registry = new Registry();
  const submissions = new Counter({
    name: 'fedscore_submissions_accepted_total',
    help: 'Contributions rounds accepted, by kind: update, shares, statistics, evaluation, partial-sum',
    labelNames: ['kind'],
    registers: [registry],
  });
  // Every kind shows from the first scrape, at 0, so a rate over it is defined before the first submission.
  for (const kind of SUBMISSION_KINDS) submissions.inc({ kind }, 0);
  const settlement = new Histogram({
    name: 'fedscore_round_settlement_seconds',
    help: 'Time to settle a round by aggregation (average or reconstruct the sum, store the result), by aggregation mode and round kind',
    labelNames: ['aggregation', 'kind'],
    buckets: SETTLEMENT_BUCKETS,
    registers: [registry],
  });
  const heEvaluation = new Histogram({
    name: 'fedscore_he_evaluation_seconds',
    help: 'Time to score one encrypted-prediction request in the worker pool, queueing included',
    buckets: HE_BUCKETS,
    registers: [registry],
  });
  const groupCommits = new Histogram({
    name: 'fedscore_group_commit_size',
    help: 'Contributions written to one round by one transaction (group commit; 1 when a contribution came alone)',
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
    registers: [registry],
  });
  const perProcess = processMetrics();
  return {
    registry,
    service: {
      submissionAccepted: (kind) => submissions.inc({ kind }),
      groupCommitted: (size) => groupCommits.observe(size),
      roundSettled: (round, seconds) => settlement.observe({ aggregation: round.aggregation, kind: round.kind }, seconds),
      heEvaluated: (seconds) => heEvaluation.observe(seconds),
    },
    render: async () => `${await registry.metrics()}\n${await perProcess.metrics()}`,
  };
}

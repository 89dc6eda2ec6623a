/**
 * What the use cases report as it happens, for the server's metrics: each contribution a round accepts,
 * each round settled by aggregation and how long settling took, each encrypted evaluation and how long it
 * took. An interface with a no-op default, handed to the services that report: they stay free of any
 * metrics library (and of Fastify), tests that do not look at metrics pass nothing, and
 * src/http/metrics.ts implements it with Prometheus instruments.
 */
import type { RoundKind } from '../db/rounds.repository.js';

/** What an owner or committee member contributed to a round. */
export type SubmissionKind = 'update' | 'shares' | 'statistics' | 'evaluation' | 'partial-sum';

export interface ServiceMetrics {
  submissionAccepted(kind: SubmissionKind): void;
  /** A transaction wrote this many contributions to one round (group commit; 1 when it came alone). */
  groupCommitted(size: number): void;
  /** A round's contributions were aggregated (averaged, or their sum reconstructed) and the result stored. */
  roundSettled(round: { aggregation: 'plain' | 'secure'; kind: RoundKind }, seconds: number): void;
  /** Encrypted applicants were scored: from handing the job to the worker pool to its answer, queueing included. */
  heEvaluated(seconds: number): void;
}

export const noServiceMetrics: ServiceMetrics = {
  submissionAccepted() {},
  groupCommitted() {},
  roundSettled() {},
  heEvaluated() {},
};

/** Seconds elapsed since `start`, a performance.now() reading. */
export function secondsSince(start: number): number {
  return (performance.now() - start) / 1000;
}

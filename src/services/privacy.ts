/**
 * A federation's differential-privacy budget. Settings are checked and the noise multiplier resolved when
 * the federation is created (given, or the smallest z that fits the budget over the planned rounds); each
 * DP round is charged when it opens, in the transaction that creates it, and refused if it would take
 * the accountant past the budget. Charging at opening is conservative: a round that then fails keeps its
 * charge. The ledger is updated by compare-and-set, and round numbers are unique, so two instances racing
 * to open a round cannot both spend.
 *
 * Accounting: Rényi DP of the sampled Gaussian mechanism composed over rounds, converted to (ε, δ) with
 * the bound current Opacus uses (src/crypto/dp/accountant.ts). An owner's own ε counts only the rounds
 * opened since it enrolled.
 */
import { dpEpsilon, PrivacyLedger, solveNoiseMultiplier } from '../crypto/dp/accountant.js';
import type { DbClient } from '../db/db-client.js';
import { appendLedgerEntry, type FederationRecord, type LedgerEntry, type ResolvedPrivacy } from '../db/federations.repository.js';
import { ConflictError, ValidationError } from '../errors.js';
import { DpFedAvg } from '../fl/dp-fedavg.strategy.js';
import type { RoundConfig, Strategy } from '../fl/strategy.js';
import type { PrivacyConfig, TrainingConfig } from '../schemas/federations.schema.js';

export interface Spent {
  epsilon: number;
  delta: number;
  rounds: number;
}

/** The settings as stored; refuses a budget that cannot pay for a single round. Path prefix: body.privacy. */
export function resolvePrivacy(config: PrivacyConfig, training: TrainingConfig, fn: string): ResolvedPrivacy {
  const sampleRate = config.sampling.kind === 'poisson' ? config.sampling.rate : 1;
  if (config.delta >= 1 / training.minOwners) {
    throw new ValidationError(`${fn}: δ must be well below 1/owners; with at least ${training.minOwners} owners per round it must be below ${1 / training.minOwners}`, [
      { path: 'body.privacy.delta', message: `expected below 1/minOwners = ${1 / training.minOwners}, got ${config.delta}` },
    ]);
  }
  let noiseMultiplier = config.noiseMultiplier;
  if (noiseMultiplier === undefined) {
    try {
      noiseMultiplier = solveNoiseMultiplier({ epsilon: config.epsilon, delta: config.delta, sampleRate, steps: training.rounds });
    } catch (error) {
      throw new ValidationError(`${fn}: no noise multiplier fits ε = ${config.epsilon} over ${training.rounds} rounds: ${(error as Error).message}`, [
        { path: 'body.privacy.epsilon', message: `too small a budget for ${training.rounds} rounds at sampling rate ${sampleRate}` },
      ]);
    }
  }
  const oneRound = dpEpsilon({ sampleRate, noiseMultiplier, steps: 1, delta: config.delta }).epsilon;
  if (oneRound > config.epsilon) {
    throw new ValidationError(`${fn}: one round at noise multiplier ${noiseMultiplier} already spends ε = ${round3(oneRound)}, more than the budget ${config.epsilon}`, [
      { path: 'body.privacy', message: `a budget smaller than one round (ε ${round3(oneRound)} per round)` },
    ]);
  }
  return { ...config, noiseMultiplier };
}

/** The strategy that opens a federation's training rounds: DP-FedAvg around the base strategy when it has a budget. */
export function strategyFor(federation: FederationRecord, base: Strategy): Strategy {
  const privacy = federation.privacyConfig;
  return privacy ? new DpFedAvg({ clipNorm: privacy.clipNorm, noiseMultiplier: privacy.noiseMultiplier, sampling: privacy.sampling }) : base;
}

/**
 * The strategy that aggregates a training round: DP-FedAvg exactly when the round opened with differential
 * privacy (its configuration, fixed then, holds the clip norm, the noise and the denominator), the base
 * strategy otherwise — whatever the federation's settings are now. A budget set while a round is open
 * starts with the next round, the first one charged to it.
 */
export function strategyOfRound(config: RoundConfig, base: Strategy): Strategy {
  const dp = config.dp;
  if (!dp) return base;
  const sampling = config.sampling ? { kind: 'poisson' as const, rate: config.sampling.rate } : { kind: 'all' as const };
  return new DpFedAvg({ clipNorm: dp.clipNorm, noiseMultiplier: dp.noiseMultiplier, sampling });
}

/** ε spent by the given ledger entries (all of them by default). */
export function spent(federation: FederationRecord, entries: LedgerEntry[] = federation.privacyLedger): Spent | null {
  const privacy = federation.privacyConfig;
  if (!privacy) return null;
  const ledger = new PrivacyLedger();
  for (const entry of entries) ledger.add({ sampleRate: entry.sampleRate, noiseMultiplier: entry.noiseMultiplier, steps: 1 });
  return { epsilon: ledger.epsilon(privacy.delta).epsilon, delta: privacy.delta, rounds: entries.length };
}

/**
 * An owner's own privacy loss: only rounds opened after it enrolled could have used its data (a DP round
 * accepts only owners enrolled before it opened, see mayContribute).
 */
export function ownerSpent(federation: FederationRecord, enrolledAt: Date): Spent | null {
  return spent(federation, federation.privacyLedger.filter((entry) => Date.parse(entry.openedAt) >= enrolledAt.getTime()));
}

/** A DP round's cohort is fixed when it opens: owners enrolled later wait for the next round. */
export function mayContribute(enrolledAt: Date, roundOpenedAt: Date): boolean {
  return enrolledAt.getTime() <= roundOpenedAt.getTime();
}

/**
 * Charges one round to the budget inside the transaction that creates it; a 409 when δ is too large for
 * the owners enrolled, when the round would exceed the budget, or when another instance charged first.
 */
export async function chargeRound(tx: DbClient, federation: FederationRecord, entry: LedgerEntry, owners: number): Promise<void> {
  const privacy = federation.privacyConfig!;
  if (privacy.delta >= 1 / Math.max(1, owners)) {
    throw new ConflictError(
      'privacy-delta-too-large',
      'δ too large for this many owners',
      `openRound: δ = ${privacy.delta} is not below 1/owners = ${1 / Math.max(1, owners)} with ${owners} owner(s) enrolled; enrol more owners or lower δ`,
    );
  }
  const ledger = new PrivacyLedger();
  for (const past of federation.privacyLedger) ledger.add({ sampleRate: past.sampleRate, noiseMultiplier: past.noiseMultiplier, steps: 1 });
  const after = ledger.epsilonAfter({ sampleRate: entry.sampleRate, noiseMultiplier: entry.noiseMultiplier, steps: 1 }, privacy.delta).epsilon;
  if (after > privacy.epsilon) {
    throw new ConflictError(
      'privacy-budget-exhausted',
      'Privacy budget exhausted',
      `openRound: round ${entry.round} would bring ε to ${round3(after)}, over the federation's budget of ${privacy.epsilon} (δ = ${privacy.delta}); ${federation.privacyLedger.length} round(s) already spent ε = ${round3(ledger.epsilon(privacy.delta).epsilon)}`,
    );
  }
  if (!(await appendLedgerEntry(tx, federation, entry))) {
    throw new ConflictError('round-already-open', 'A round is already open', 'openRound: another round charged the privacy budget concurrently');
  }
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;

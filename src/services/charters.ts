/**
 * A federation's charter (issue: secure aggregation against a malicious server): the one canonical
 * document fixing its aggregation, secure parameters and committee policy, built here from the settings
 * the operator gave and checked before anything is stored. For the lottery policy the server draws the
 * hash chain's secret seed now, before any owner has enrolled, and puts only the chain's anchor in the
 * charter: each round then reveals the next value back down the chain, which the server cannot choose
 * once the charter is pinned.
 */
import { randomBytes } from 'node:crypto';
import { charterFingerprint, charterProblems, type Charter, type CommitteePolicy } from '../crypto/charter.js';
import { chainAnchor, LOTTERY_VALUE_BYTES } from '../crypto/committee-lottery.js';
import { encodingNamed } from '../crypto/fixed-point.js';
import { ValidationError } from '../errors.js';
import type { SecureAggregationConfig, TrainingConfig } from '../schemas/federations.schema.js';

export interface ChartedSettings {
  charter: Charter;
  charterFingerprint: string;
  lotterySeed: Uint8Array | null;
}

/**
 * Rounds the lottery's chain covers: ten per planned round, so reopening failed rounds does not run it
 * out, and revealing a value costs at most this many SHA-256 steps.
 */
export function lotteryChainLength(training: Pick<TrainingConfig, 'rounds'>): number {
  return 10 * training.rounds + 100;
}

export function buildCharter(aggregation: 'plain' | 'secure', secure: SecureAggregationConfig | null, training: TrainingConfig, action: string): ChartedSettings {
  let lotterySeed: Uint8Array | null = null;
  let charter: Charter;
  if (aggregation === 'plain' || secure === null) {
    charter = { version: 1, aggregation: 'plain', secure: null };
  } else {
    let policy: CommitteePolicy;
    if (secure.policy.kind === 'named') {
      policy = { kind: 'named', aggregators: secure.policy.aggregators.map(({ name, identityKey }) => ({ name, identityKey })) };
    } else {
      const chainLength = lotteryChainLength(training);
      lotterySeed = new Uint8Array(randomBytes(LOTTERY_VALUE_BYTES));
      policy = { kind: 'lottery', chainAnchor: Buffer.from(chainAnchor(lotterySeed, chainLength)).toString('hex'), chainLength };
    }
    const encoding = encodingNamed(secure.field ?? 'wide');
    charter = {
      version: 1,
      aggregation: 'secure',
      secure: {
        committee: { size: secure.committee.size, threshold: secure.committee.threshold },
        clipNorm: secure.clipNorm,
        fixedPointBits: encoding.fractionBits,
        fieldPrime: String(encoding.field.prime),
        summingDeadlineSeconds: secure.summingDeadlineSeconds,
        policy,
      },
    };
  }
  const problems = charterProblems(charter);
  if (problems.length > 0) {
    throw new ValidationError(
      `${action}: the charter these settings make has ${problems.length} problem(s)`,
      problems.map((problem) => ({ path: `body.${problem.path}`, message: problem.message })),
    );
  }
  return { charter, charterFingerprint: charterFingerprint(charter), lotterySeed };
}

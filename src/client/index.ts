/**
 * The fedscore client SDK in one import: the typed HTTP client (with retries), the owner's agent with its
 * enrolment and state directory, local data helpers and the whole-run simulation. Owners' records stay in the process that uses this module.
 */
export * from './http-client.js';
export * from './owner-agent.js';
export * from './owner-enrolment.js';
export * from './owner-state.js';
export * from './retry.js';
export * from './local-data.js';
export * from './simulation.js';
export { mapWithConcurrency } from './concurrency.js';
export { DEFAULT_TRAINING, defaultHyperparameters, type Hyperparameters, type TrainingDefaults } from './defaults.js';

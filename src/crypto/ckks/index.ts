/**
 * The CKKS layer's public API for the server side: parameter checks, model compilation, layouts, the
 * session material codec, errors and the worker pool. None of these load SEAL, so importing this
 * barrel keeps node-seal's wasm out of the HTTP process; evaluation happens in the pool's workers.
 * The lender's SDK imports './client.js' (which loads SEAL in the lender's process).
 */

export { CKKS_PARAM_SETS, checkCkksParams, ckksParamSet, levelsOf, valueBound } from './params.js';
export type { ChainNeeds, CkksParamSetName, CkksParams, ParamsCheck } from './params.js';
export { compileHeModel, HE_ACTIVATIONS, MIN_GAIN, modelShape, outputGain, peakMagnitude, plainLogit, UNCALIBRATED_PEAK } from './he-model.js';
export type { CompileOptions, HeActivation, HeModel, HeModelShape } from './he-model.js';
export { BATCH_CANARY_SLOTS, HE_LAYOUTS, isHeLayout, planLayout, recommendedParams, requiredGaloisSteps } from './layout.js';
export type { HeLayout, LayoutPlan } from './layout.js';
export { checkMaterial, decodeMaterial, encodeMaterial, MAX_MATERIAL_BYTES } from './material.js';
export type { HePublicMaterial } from './material.js';
export { HeDecryptError, HeInputError, HeWorkerError } from './errors.js';
export type { HeInputCode, HeWorkerCode } from './errors.js';
export { HeWorkerPool } from './worker-pool.js';
export type { HeEvaluationJob, HeWorkerPoolOptions } from './worker-pool.js';

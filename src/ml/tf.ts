/**
 * The one door to TensorFlow.js. Keeping every tfjs import here means the backend choice (pure-JS
 * 'cpu' by default; native 'tensorflow' or 'wasm' when their optional packages are installed) is made
 * in one place, and the rest of the code never races tfjs's lazy backend selection. The native
 * packages are not dependencies, so they are loaded with dynamic import only when asked for.
 */

import * as tfjs from '@tensorflow/tfjs';

export type { Tensor, Tensor1D, Tensor2D } from '@tensorflow/tfjs';

export type TfBackend = 'cpu' | 'wasm' | 'tensorflow';

const OPTIONAL_PACKAGES: Record<Exclude<TfBackend, 'cpu'>, string> = {
  tensorflow: '@tensorflow/tfjs-node',
  wasm: '@tensorflow/tfjs-backend-wasm',
};

let active: TfBackend | undefined;
let quieted = false;

function quiet(): void {
  if (quieted) return;
  quieted = true;
  // Prod mode only turns off tfjs's warnings, among them the "install tfjs-node" banner printed on the
  // first tensor; kernels and results are unchanged.
  tfjs.enableProdMode();
}

async function importOptional(backend: Exclude<TfBackend, 'cpu'>): Promise<void> {
  const pkg = OPTIONAL_PACKAGES[backend];
  try {
    // A variable specifier keeps TypeScript from requiring the package at compile time.
    await import(pkg);
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
      throw new Error(`initTf: backend '${backend}' needs the optional package ${pkg}; run \`npm install ${pkg}@${tfjs.version.tfjs}\``);
    }
    throw new Error(`initTf: loading ${pkg} for backend '${backend}' failed: ${(err as Error).message}`);
  }
  if (tfjs.findBackendFactory(backend) === null) {
    // The package registered itself with a different copy of tfjs-core (a version mismatch).
    throw new Error(`initTf: ${pkg} did not register backend '${backend}' with @tensorflow/tfjs ${tfjs.version.tfjs}; install the same version`);
  }
}

/** Selects the backend (default 'cpu'); calling again with the active backend does nothing. */
export async function initTf(backend: TfBackend = 'cpu'): Promise<void> {
  if (backend !== 'cpu' && backend !== 'wasm' && backend !== 'tensorflow') {
    throw new Error(`initTf: expected backend cpu, wasm or tensorflow, got ${JSON.stringify(backend)}`);
  }
  if (active === backend) return;
  quiet();
  if (backend !== 'cpu') await importOptional(backend);
  const ok = await tfjs.setBackend(backend);
  if (!ok) throw new Error(`initTf: backend '${backend}' failed to initialise`);
  active = backend;
}

/** The name of the selected backend, or undefined before the first initTf/getTf. */
export function activeBackend(): TfBackend | undefined {
  return active;
}

/**
 * The tfjs module, with the 'cpu' backend selected on first use if initTf was never called. Safe to
 * call synchronously: the cpu backend initialises without awaiting anything.
 */
export function getTf(): typeof tfjs {
  if (active === undefined) {
    quiet();
    void tfjs.setBackend('cpu');
    if (tfjs.getBackend() !== 'cpu') throw new Error('getTf: the cpu backend did not initialise synchronously; call initTf first');
    active = 'cpu';
  }
  return tfjs;
}

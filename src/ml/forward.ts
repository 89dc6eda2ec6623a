/**
 * The forward pass on flat weights in plain JavaScript: what predictions and model scoring run. Through
 * tf.js, scoring one record cost far more in per-op bookkeeping (tensors, kernel lookup, tidy scopes) than
 * in arithmetic (issue 13's profile of the predictions route), and tf.js's 'cpu' backend is JavaScript
 * too, so nothing is lost on batches. Training keeps tf ops: its backward pass needs the tensors.
 *
 * The arithmetic is the 'cpu' backend's, step for step, so scores are bit-identical to what tf.js gave:
 * its matMul sums each block of 48 products in float64 and adds the block into a float32 result, and
 * every op (bias add, activation, each op of relu-poly) stores float32. forward.test.ts compares the two.
 */
import type { Activation } from './model-spec.js';

/** tfjs-backend-cpu's matMul block size (MathBackendCPU.blockSize). */
const BLOCK = 48;

const f32 = Math.fround;

/**
 * Logits of every row. `sizes` are the layer widths from input to the one output ([in, …hidden, 1]);
 * `weights` the flat layout of model-spec.ts, whose first kernel and bias form one bias-augmented matrix
 * [in + 1, out]. The caller has checked the rows and the weight count.
 */
export function forwardLogits(sizes: readonly number[], activation: Activation | undefined, weights: Float32Array, X: readonly Float32Array[]): Float32Array {
  const out = new Float32Array(X.length);
  const layers = sizes.length - 1;
  // One buffer per layer output, reused from row to row.
  const buffers = sizes.slice(1).map((width) => new Float32Array(width));
  for (let r = 0; r < X.length; r++) {
    let input = X[r] as Float32Array;
    let offset = 0;
    for (let l = 0; l < layers; l++) {
      const fanIn = sizes[l] as number;
      const fanOut = sizes[l + 1] as number;
      const z = buffers[l] as Float32Array;
      if (l === 0) {
        // The trailing 1 of the augmented input multiplies the bias row, inside the sum as in tf.js.
        matVec(input, true, weights, offset, fanOut, z);
        offset += (fanIn + 1) * fanOut;
      } else {
        matVec(input, false, weights, offset, fanOut, z);
        offset += fanIn * fanOut;
        for (let j = 0; j < fanOut; j++) z[j] = (z[j] as number) + (weights[offset + j] as number);
        offset += fanOut;
      }
      if (l + 1 < layers) activate(activation as Activation, z);
      input = z;
    }
    out[r] = input[0] as number;
  }
  return out;
}

/** out[j] = Σ_k x[k]·W[k, j] (with x[fanIn] = 1 when augmented), summed block by block like tf.js's matMul. */
function matVec(x: Float32Array, augmented: boolean, w: Float32Array, offset: number, fanOut: number, out: Float32Array): void {
  const fanIn = x.length;
  const shared = augmented ? fanIn + 1 : fanIn;
  for (let j = 0; j < fanOut; j++) {
    let acc = 0;
    for (let k0 = 0; k0 < shared; k0 += BLOCK) {
      const end = Math.min(k0 + BLOCK, shared);
      let sum = 0;
      for (let k = k0; k < end; k++) sum += (k < fanIn ? (x[k] as number) : 1) * (w[offset + k * fanOut + j] as number);
      acc = f32(acc + sum);
    }
    out[j] = acc;
  }
}

/** A hidden layer's activation in place, each value as tf.js's kernels compute and store it. */
function activate(activation: Activation, z: Float32Array): void {
  for (let j = 0; j < z.length; j++) {
    const v = z[j] as number;
    switch (activation) {
      case 'relu':
        z[j] = Math.max(0, v);
        break;
      case 'sigmoid':
        z[j] = 1 / (1 + Math.exp(-v));
        break;
      case 'tanh':
        z[j] = Math.tanh(v);
        break;
      case 'square':
        z[j] = v * v;
        break;
      case 'relu-poly':
        // tf.add(tf.mul(tf.add(tf.mul(z, 0.125), 0.5), z), 0.25): four ops, each stored as float32.
        z[j] = f32(f32(f32(v * 0.125) + 0.5) * v) + 0.25;
        break;
    }
  }
}

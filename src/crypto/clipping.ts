/**
 * Per-update L2 clipping (DESIGN, protocols 2 and 3): an owner scales its update down to norm ≤ maxNorm
 * before encoding, which bounds any one owner's influence on the sum (the only defence against
 * poisoning in secure mode) and is the sensitivity the Gaussian mechanism's noise is calibrated to
 * (Abadi et al. 2016, §3.1). Note that the fixed-point encoding that follows may move the norm by up to
 * √n · 2^-21.
 */

/**
 * Returns a float64 copy scaled by min(1, maxNorm / ‖values‖₂), the original norm, and whether it was
 * scaled. The norm is accumulated with rescaling (as LAPACK's dnrm2), so large float64 inputs do not
 * overflow; the scaled copy is guaranteed to have norm ≤ maxNorm as computed here.
 */
export function clipL2(values: Float32Array | Float64Array, maxNorm: number): { values: Float64Array; norm: number; clipped: boolean } {
  if (!(Number.isFinite(maxNorm) && maxNorm > 0)) throw new Error(`clipL2: expected a positive finite maxNorm, got ${maxNorm}`);
  const out = Float64Array.from(values);
  for (let i = 0; i < out.length; i++) {
    if (!Number.isFinite(out[i]!)) throw new Error(`clipL2: element ${i} is not a finite number`);
  }
  const norm = l2Norm(out);
  if (norm <= maxNorm) return { values: out, norm, clipped: false };
  let factor = maxNorm / norm;
  const scaled = new Float64Array(out.length);
  // Rounding in the division and the products can leave the result an ulp or so above maxNorm; shrink
  // by a hair until it is not (at most a few rounds in practice).
  for (;;) {
    for (let i = 0; i < out.length; i++) scaled[i] = out[i]! * factor;
    if (l2Norm(scaled) <= maxNorm) break;
    factor *= 1 - 2 ** -50;
  }
  return { values: scaled, norm, clipped: true };
}

/** ‖v‖₂ with a running scale (dnrm2's algorithm): no overflow or underflow for finite input. */
export function l2Norm(v: ArrayLike<number>): number {
  let scale = 0;
  let ssq = 1;
  for (let i = 0; i < v.length; i++) {
    const x = Math.abs(v[i]!);
    if (x === 0) continue;
    if (scale < x) {
      ssq = 1 + ssq * (scale / x) ** 2;
      scale = x;
    } else {
      ssq += (x / scale) ** 2;
    }
  }
  return scale * Math.sqrt(ssq);
}

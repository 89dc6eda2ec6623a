/**
 * Seeded pseudo-random numbers for everything in training that must be reproducible (weight init,
 * minibatch order). sfc32 is small, fast and passes PractRand; its 128-bit state is filled from the seed
 * by splitmix32 so that nearby seeds give unrelated streams. Not for cryptography: src/crypto/ has its
 * own generator.
 */

export function createRng(seed: number): () => number {
  if (!Number.isSafeInteger(seed)) throw new Error(`createRng: expected a safe integer seed, got ${seed}`);
  // Both halves of the seed matter, so seeds past 2^32 (e.g. Date.now()) do not collide.
  const lo = seed >>> 0;
  const hi = Math.floor(seed / 0x1_0000_0000) >>> 0;
  let sm = lo;
  const splitmix32 = (): number => {
    sm = (sm + 0x9e3779b9) | 0;
    let z = sm;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = splitmix32();
  let b = splitmix32() ^ hi;
  let c = splitmix32();
  let d = splitmix32();
  const next = (): number => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return (t >>> 0) / 0x1_0000_0000;
  };
  // Warm-up: the first outputs of sfc32 still correlate with the seed words.
  for (let i = 0; i < 12; i++) next();
  return next;
}

/** Fisher–Yates; returns the same array for chaining. */
export function shuffleInPlace<T>(items: T[], rng: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    const tmp = items[i] as T;
    items[i] = items[j] as T;
    items[j] = tmp;
  }
  return items;
}

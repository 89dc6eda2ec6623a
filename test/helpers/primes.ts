/**
 * A primality proof for the fields' primes: Miller–Rabin in BigInt with the first 12 primes as bases,
 * which is deterministic far beyond 2^53 (see below), so a pass is a proof.
 */
function modPowBig(base: bigint, exponent: bigint, modulus: bigint): bigint {
  let result = 1n;
  let b = base % modulus;
  for (let e = exponent; e > 0n; e >>= 1n) {
    if (e & 1n) result = (result * b) % modulus;
    b = (b * b) % modulus;
  }
  return result;
}

// Miller–Rabin with the first 12 primes as bases is deterministic for n < 3.18·10^23 (Sorenson and
// Webster 2015, ψ_12), which covers every n < 2^53 by a wide margin: a pass is a proof of primality.
const BASES = [2n, 3n, 5n, 7n, 11n, 13n, 17n, 19n, 23n, 29n, 31n, 37n];
export function isPrime(n: bigint): boolean {
  if (n < 2n) return false;
  for (const q of BASES) if (n % q === 0n) return n === q;
  let d = n - 1n;
  let s = 0;
  while ((d & 1n) === 0n) {
    d >>= 1n;
    s++;
  }
  witness: for (const a of BASES) {
    let x = modPowBig(a, d, n);
    if (x === 1n || x === n - 1n) continue;
    for (let r = 1; r < s; r++) {
      x = (x * x) % n;
      if (x === n - 1n) continue witness;
    }
    return false;
  }
  return true;
}


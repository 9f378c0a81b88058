// A seeded generator for sampling: the same seed draws the same uniforms, so the
// same seed gives the same tokens on every backend and runtime.

/** mulberry32: small, fast, good enough for drawing one uniform per token. Returns [0, 1). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

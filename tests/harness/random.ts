// Seeded randomness for tests, so a failure reproduces.
import { rng } from "../../src/tasks/rng.js";

export { rng };

/** n values uniform in [-scale, scale). */
export function randomArray(rand: () => number, n: number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (rand() * 2 - 1) * scale;
  return out;
}

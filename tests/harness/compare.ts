// Tolerance checks that say where they failed: the first mismatches with their
// indices, the largest error, and how many elements are off.

export interface Tolerance {
  atol: number;
  rtol?: number;
}

export function mismatches(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: Tolerance): string | null {
  if (actual.length !== expected.length) return `length ${actual.length}, expected ${expected.length}`;
  const rtol = tol.rtol ?? 0;
  const bad: string[] = [];
  let count = 0;
  let worst = 0;
  for (let i = 0; i < actual.length; i++) {
    const err = Math.abs(actual[i] - expected[i]);
    worst = Math.max(worst, Number.isNaN(err) ? Infinity : err);
    if (!(err <= tol.atol + rtol * Math.abs(expected[i]))) {
      count++;
      if (bad.length < 8) bad.push(`[${i}] ${actual[i]} vs ${expected[i]}`);
    }
  }
  if (count === 0) return null;
  return `${count}/${actual.length} off (atol ${tol.atol}, rtol ${rtol}; max |err| ${worst.toExponential(3)}): ${bad.join(", ")}`;
}

/** Throws with the first mismatches when any element is outside the tolerance. */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: Tolerance, what = ""): void {
  const m = mismatches(actual, expected, tol);
  if (m) throw new Error(`${what}: ${m}`);
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

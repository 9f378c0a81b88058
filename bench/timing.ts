// The benchmarks' timer for steady-state figures: the median of a few timed calls after
// one untimed warm-up call (which builds the pipelines, buffers and bind groups).

/** Median ms of `reps` calls of `f`, after one warm-up call. */
export async function medianMs(f: () => Promise<unknown>, reps = 3): Promise<number> {
  await f();
  const ms: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await f();
    ms.push(performance.now() - t0);
  }
  return ms.sort((a, b) => a - b)[Math.floor(reps / 2)];
}

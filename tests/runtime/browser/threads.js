// Runs in a Chromium page (tests/runtime/browser-threads.test.ts, served by Vite): a q4
// and a q8 GEMV and a q4 panel matmul on the WASM backend at 1 and 2 threads, against a
// plain JS dot product over the dequantized weights. Returns what each backend says of
// itself and the largest error.
export async function runThreads() {
  const { createWasmBackend } = await import("/src/backends/wasm/backend.ts");
  const backends = [await createWasmBackend(), await createWasmBackend({ threads: 2 })];
  let s = 12345;
  const next = () => ((s ^= s << 13), (s ^= s >>> 17), (s ^= s << 5), s >>> 0);
  const out = { backends: backends.map((b) => ({ threads: b.threads, build: b.build, note: b.threadNote ?? null })), maxError: 0, equal: true };
  for (const [bits, rows, K, N] of [[4, 1, 200, 77], [8, 2, 1152, 61], [4, 9, 96, 45]]) {
    const groups = Math.ceil(K / 32);
    const words = (groups * 32 * bits) / 32;
    const qweight = Uint32Array.from({ length: N * words }, next);
    const scales = new Uint16Array(N * groups).fill(0x2400); // f16 2^-6
    const x = Float32Array.from({ length: rows * K }, () => next() / 2 ** 32 - 0.5);
    const q = (n, k) => {
      const word = qweight[n * words + Math.floor((k * bits) / 32)];
      const v = (word >>> ((k * bits) % 32)) & ((1 << bits) - 1);
      return bits === 4 ? v - 8 : v >= 128 ? v - 256 : v;
    };
    const ys = [];
    for (const b of backends) {
      const w = b.uploadQuantized("w", { bits, qweight, scales }, [N, K]);
      const [xb, yb] = [b.alloc("x", rows * K), b.alloc("y", rows * N)];
      b.write(xb, x);
      b.linear(yb, xb, w, null, rows);
      ys.push(await b.read(yb));
    }
    out.equal &&= ys[1].every((v, i) => v === ys[0][i]);
    for (let r = 0; r < rows; r++)
      for (let n = 0; n < N; n++) {
        let want = 0;
        for (let k = 0; k < K; k++) want += x[r * K + k] * q(n, k) * 2 ** -6;
        out.maxError = Math.max(out.maxError, Math.abs(ys[0][r * N + n] - want) / (1 + Math.abs(want)));
      }
  }
  for (const b of backends) b.dispose();
  return out;
}

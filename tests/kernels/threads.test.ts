// The WASM backend on several threads: every pooled kernel (f16, q8 and q4 linear on
// both paths, attention) on 1 and 2 threads equal to the reference, with sizes that do
// not split evenly; the tiny-pg1 model on 2 threads token- and logit-identical to 1 and
// to its golden; PaliGemma.load's threads option; more threads than cores; a crashed
// worker failing the call with a ThreadError; dispose ending the workers. The q8/q4
// cases run on the plain and the relaxed-SIMD build (where the engine has it).
import { existsSync, readdirSync } from "node:fs";
import { setFlagsFromString } from "node:v8";
import { describe, expect, test } from "vitest";
import type { Backend, Buf, LinearOptions } from "../../src/backends/backend.js";
import { createWasmBackend } from "../../src/backends/wasm/backend.js";
import { ThreadError } from "../../src/errors.js";
import { PaliGemma } from "../../src/index.js";
import { PaliGemmaForConditionalGeneration } from "../../src/model/paligemma.js";
import { relaxedSimd } from "../../src/wasm/load.js";
import { quantizeMatrix } from "../../src/weights/quantize.js";
import { FIXTURES, folderFiles, readTensors } from "../harness/fixtures.js";
import { expectClose } from "../harness/compare.js";
import { randomArray, rng } from "../harness/random.js";
import { ReferenceBackend } from "../reference/backend.js";

function writeNew(b: Backend, label: string, data: Float32Array | Int32Array): Buf {
  const buf = b.alloc(label, data.length, data instanceof Int32Array ? "i32" : "f32");
  b.write(buf, data);
  return buf;
}

type Dtype = "f16" | "q8" | "q4";

async function linear(b: Backend, dtype: Dtype, rows: number, K: number, N: number, opts: LinearOptions, seed: number) {
  const rand = rng(seed);
  const w = randomArray(rand, N * K, 1 / Math.sqrt(K));
  const W = dtype === "f16" ? b.uploadWeight("w", w, [N, K]) : b.uploadQuantized("w", quantizeMatrix(w, N, K, dtype === "q8" ? 8 : 4), [N, K]);
  const bias = b.uploadWeight("b", randomArray(rand, N), [N]);
  // 7 spare elements past rows * N: no share may write past its columns.
  const y = writeNew(b, "y", Float32Array.from([...randomArray(rand, rows * N), ...new Array(7).fill(-7)]));
  b.linear(y, writeNew(b, "x", randomArray(rand, rows * K)), W, bias, rows, opts);
  return b.read(y);
}

async function attention(b: Backend, rows: number, seed: number) {
  const rand = rng(seed);
  const [heads, kvHeads, hd, keys] = [4, 2, 24, rows + 5];
  const meta = Int32Array.from({ length: rows * 3 }, (_, i) => [0, (i / 3) | 0, 3][i % 3]);
  const out = b.alloc("out", rows * heads * hd);
  b.attention(
    out, writeNew(b, "q", randomArray(rand, rows * heads * hd)), writeNew(b, "k", randomArray(rand, keys * kvHeads * hd)),
    writeNew(b, "v", randomArray(rand, keys * kvHeads * hd)), writeNew(b, "meta", meta), rows,
    { heads, kvHeads, headDim: hd, scale: 0.2, softcap: 0 },
  );
  return b.read(out);
}

// Node 20: relaxed SIMD is behind a flag, and right only without the baseline compiler (see relaxedSimd()).
if (!relaxedSimd()) setFlagsFromString("--experimental-wasm-relaxed-simd --no-liftoff");
const builds = relaxedSimd() ? [false, true] : [false];

// minParallelWork 0: every op goes through the pool, however small.
const threaded = (threads: number, relaxed = false) => createWasmBackend({ threads, minParallelWork: 0, relaxedSimd: relaxed });

describe("WASM backend on threads", () => {
  const cases: [rows: number, K: number, N: number, opts: LinearOptions][] = [
    [1, 75, 37, { gelu: true }],
    [2, 4103, 19, { accumulate: true }], // long-row f16 GEMV
    [3, 64, 9, {}],
    [5, 33, 65, { accumulate: true }],
    [13, 70, 23, { gelu: true }],
    [4, 24, 1100, { gelu: true }], // 2-thread chunks of 72 columns: a pass of 8 panels, then one
  ];
  for (const [dtype, relaxed] of [["f16", false], ...builds.flatMap((r) => [["q8", r], ["q4", r]])] as [Dtype, boolean][]) {
    test(`${dtype} linear${relaxed ? " (relaxed SIMD)" : ""} on 1 and 2 threads equals the reference; 2 threads equal 1 bit for bit`, async () => {
      const [one, two, ref] = [await threaded(1, relaxed), await threaded(2, relaxed), new ReferenceBackend()];
      expect(two.threads).toBe(2);
      expect(two.build).toBe(relaxed ? "cpu-mt-relaxed" : "cpu-mt");
      console.log(`threads: ${dtype} on builds ${one.build} and ${two.build}`);
      for (const [i, [rows, K, N, opts]] of cases.entries()) {
        const want = await linear(ref, dtype, rows, K, N, opts, i);
        const got1 = await linear(one, dtype, rows, K, N, opts, i);
        const got2 = await linear(two, dtype, rows, K, N, opts, i);
        expectClose(got1, want, { atol: 3e-5, rtol: 2e-4 }, `${dtype} [${rows}, ${K}] x ${N}, 1 thread`);
        expect(got2).toEqual(got1);
      }
      two.dispose();
    });
  }

  test("attention split by query rows on 2 and 3 threads equals 1 thread and the reference", async () => {
    const backends = [await threaded(1), await threaded(2), await threaded(3)];
    for (const rows of [1, 7, 10]) {
      const want = await attention(new ReferenceBackend(), rows, rows);
      const got = await Promise.all(backends.map((b) => attention(b, rows, rows)));
      expectClose(got[0], want, { atol: 2e-6, rtol: 1e-5 }, `attention rows=${rows}`);
      expect(got[1]).toEqual(got[0]);
      expect(got[2]).toEqual(got[0]);
    }
    for (const b of backends) b.dispose();
  });

  test("tiny-pg1 on 2 threads: the golden's greedy tokens, and logits bit for bit those of 1 thread", async () => {
    const golden = readTensors(`${FIXTURES}tiny-pg1/golden.safetensors`);
    const g = (name: string) => golden.get(name)!;
    const [B, L] = g("input_ids").shape;
    const steps = g("generated_ids").shape[1];
    const run = async (threads: number) => {
      const model = await PaliGemmaForConditionalGeneration.load(folderFiles(`${FIXTURES}tiny-pg1`), { backend: await threaded(threads) });
      try {
        const cache = model.createKVCache({ batch: B, maxLength: L + steps });
        const pixelValues = g("pixel_values").data as Float32Array;
        const prefill = await model.forward({ inputIds: g("input_ids").data as Int32Array, pixelValues, batch: B });
        let next = await model.nextTokens({ inputIds: g("input_ids").data as Int32Array, pixelValues, batch: B, kvCache: cache });
        const tokens: number[] = [];
        for (let s = 0; s < steps; s++) {
          tokens.push(...next.ids);
          if (s + 1 < steps) next = await model.nextTokens({ inputIds: next.ids, batch: B, kvCache: cache });
        }
        return { logits: prefill.logits, tokens };
      } finally {
        model.dispose();
      }
    };
    const [one, two] = [await run(1), await run(2)];
    expect(two.logits).toEqual(one.logits);
    expect(two.tokens).toEqual(one.tokens);
    // Step-major here, row-major in the golden.
    const want = g("generated_ids").data as Int32Array;
    expect(two.tokens).toEqual(Array.from({ length: B * steps }, (_, i) => want[(i % B) * steps + Math.floor(i / B)]));
  });

  test("PaliGemma.load passes threads to the WASM backend, and the answer is the 1-thread answer", async () => {
    const model = new URL("../../models/tiny-random/", import.meta.url).pathname;
    const image = { width: 5, height: 3, channels: 3 as const, data: Uint8Array.from({ length: 45 }, (_, i) => i * 5) };
    const [one, two] = [await PaliGemma.load(model, { device: "wasm" }), await PaliGemma.load(model, { device: "wasm", threads: 2 })];
    expect(one.model.backend.threads).toBe(1);
    expect(two.model.backend.threads).toBe(2);
    expect(two.backendInfo).toMatchObject({ name: "wasm", threads: 2, build: relaxedSimd() ? "cpu-mt-relaxed" : "cpu-mt" });
    expect((await two.caption(image, { maxNewTokens: 6 })).text).toBe((await one.caption(image, { maxNewTokens: 6 })).text);
    one.dispose();
    two.dispose();
  });

  test("threads: 4 on this machine (2 cores) is still correct, and 'auto' picks the cores", async () => {
    const four = await threaded(4);
    const one = await threaded(1);
    expect(four.threads).toBe(4);
    expect(await linear(four, "q4", 3, 200, 77, {}, 9)).toEqual(await linear(one, "q4", 3, 200, 77, {}, 9));
    four.dispose();
    const auto = await createWasmBackend({ threads: "auto" });
    const { availableParallelism } = await import("node:os");
    expect(auto.threads).toBe(Math.min(8, availableParallelism()));
    auto.dispose();
    await expect(createWasmBackend({ threads: 9 })).rejects.toThrow(/threads must be "auto" or an integer from 1 to 8/);
  });

  test("a worker that dies fails the next call with a ThreadError instead of hanging", async () => {
    const b = await createWasmBackend({ threads: 2, minParallelWork: 0, threadTimeoutMs: 2000 });
    expect(Array.from(await linear(b, "f16", 1, 64, 16, {}, 1))).toHaveLength(23);
    // Reach into the pool to kill its worker, as a crash would.
    const pool = (b as unknown as { pool: { workers: { terminate(): void }[] } }).pool;
    pool.workers[0].terminate();
    await new Promise((r) => setTimeout(r, 200)); // let the exit event arrive
    await expect(linear(b, "f16", 1, 64, 16, {}, 1)).rejects.toThrow(ThreadError);
    b.dispose();
  });

  test.skipIf(!existsSync("/proc/self/task"))("dispose ends the workers (counted as the process's OS threads)", async () => {
    const osThreads = () => readdirSync("/proc/self/task").length;
    const before = osThreads();
    const b = await createWasmBackend({ threads: 3 });
    expect(osThreads()).toBe(before + 2);
    b.dispose();
    for (let i = 0; i < 100 && osThreads() > before; i++) await new Promise((r) => setTimeout(r, 20));
    expect(osThreads()).toBe(before);
  });

  test("an idle pool keeps no handle open: a process that never disposes it still exits (built package)", async () => {
    const { execFileSync } = await import("node:child_process");
    const script = `
      import { createBackend } from "./dist/node.js";
      const b = await createBackend("wasm", undefined, { threads: 2 });
      const w = b.uploadWeight("w", new Float32Array(64 * 8).fill(0.5), [8, 64]);
      const x = b.alloc("x", 64);
      b.write(x, new Float32Array(64).fill(1));
      const y = b.alloc("y", 8);
      b.linear(y, x, w, null, 1);
      console.log(b.threads, (await b.read(y))[0]);`;
    const out = execFileSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8", timeout: 30_000 });
    expect(out.trim()).toBe("2 32");
  });
});

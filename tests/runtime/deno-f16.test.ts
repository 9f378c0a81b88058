// Deno on Mesa llvmpipe: the one CPU driver here whose WebGPU has shader-f16 (SwiftShader,
// which Node's tests run, has none), so the only place the tiled matmul's native-f16
// variant (pipelines.ts), and the GEMV on a device with it, run in CI. Runs the built SDK
// (dist/index.js: Deno cannot read the `?raw` shader imports of src/), linear at odd
// shapes and conv2d, against a float64 reference in the script.
import { existsSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { runDeno } from "../harness/deno.js";

const LLVMPIPE = "/usr/share/vulkan/icd.d/lvp_icd.x86_64.json";

interface Case {
  worst: number;
  mismatches: unknown[];
  [shape: string]: unknown;
}

describe("Deno with shader-f16", () => {
  it("runs linear and conv2d on native f16 weights on llvmpipe", async () => {
    if (!existsSync(LLVMPIPE)) throw new Error(`no llvmpipe Vulkan driver at ${LLVMPIPE}: apt-get install -y mesa-vulkan-drivers`);
    if (!existsSync("dist/index.js")) throw new Error("no dist/index.js: run npm run build first");
    const out = await runDeno("tests/runtime/deno/linear-f16.js", { env: { VK_ICD_FILENAMES: LLVMPIPE } });
    const run = JSON.parse(out) as { adapter: string; f16: boolean; tolerance: number; results: Case[] };
    expect(run.adapter).toContain("llvmpipe");
    expect(run.f16, "the device has shader-f16 and the linear kernels use it").toBe(true);
    expect(run.results).toHaveLength(3 * 3 * 2 + 2);
    const failed = run.results.filter((c) => c.mismatches.length > 0);
    for (const c of failed) console.error("f16 mismatch:", JSON.stringify(c));
    expect(failed, "cases past the tolerance (first mismatches printed above)").toEqual([]);
    for (const c of run.results) expect(c.worst).toBeLessThanOrEqual(run.tolerance);
  }, 120_000);
});

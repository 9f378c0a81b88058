// examples/deno/caption.ts under the `deno` devDependency, on Deno's own WebGPU (wgpu)
// over llvmpipe, Mesa's CPU Vulkan driver (SwiftShader works too, ~15x slower per token
// here). Its greedy tokens must be the ones Node's WASM backend picks.
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { DENO } from "../harness/deno.js";
import { nodeWasmReference } from "./reference.js";

const LLVMPIPE = "/usr/share/vulkan/icd.d/lvp_icd.x86_64.json";
const TOKENS = 16;

describe("examples/deno", () => {
  it("captions the example image on WebGPU with the tokens Node's WASM backend gives", async () => {
    if (!existsSync(LLVMPIPE)) throw new Error(`no llvmpipe Vulkan driver at ${LLVMPIPE}: apt-get install -y mesa-vulkan-drivers`);
    const [{ stdout, stderr }, reference] = await Promise.all([
      promisify(execFile)(
        DENO,
        ["run", "--no-prompt", "--no-lock", "--allow-read", "examples/deno/caption.ts", "--device=webgpu", `--max-tokens=${TOKENS}`],
        { encoding: "utf8", env: { ...process.env, NO_COLOR: "1", VK_ICD_FILENAMES: LLVMPIPE } },
      ),
      nodeWasmReference("caption en", TOKENS),
    ]);
    expect(stderr).toMatch(/loaded .*demo-shapes on webgpu/);
    expect(stderr).toContain("note: the bundled demo model is a ~1.6M-parameter PaliGemma trained only on synthetic scenes");
    expect(stderr).toContain("--model=google/paligemma-3b-mix-224");
    expect(stdout).toBe(reference.text + "\n");
  });
});

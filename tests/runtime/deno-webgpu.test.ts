// Deno: its own WebGPU (wgpu, not Dawn) runs the project kernel through navigator.gpu,
// as a Deno user of the SDK would, on each CPU Vulkan driver. Two drivers because
// their SIMD widths differ (subgroups of 4 on SwiftShader, 8 on llvmpipe), and a kernel
// that leans on one width would pass on the other.
import { existsSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { runDeno } from "../harness/deno.js";
import { expectRmsNorm, rmsNormCase } from "./rms-norm-case.js";
import type { KernelRun } from "./rms-norm-run.js";

const DRIVERS = [
  { name: "SwiftShader", icd: "/usr/lib/chromium/vk_swiftshader_icd.json", install: "chromium" },
  { name: "llvmpipe", icd: "/usr/share/vulkan/icd.d/lvp_icd.x86_64.json", install: "mesa-vulkan-drivers" },
];

describe("Deno", () => {
  for (const driver of DRIVERS) {
    it(`runs shaders/rms-norm.wgsl on ${driver.name}`, async () => {
      if (!existsSync(driver.icd)) {
        throw new Error(`no ${driver.name} Vulkan driver at ${driver.icd}: apt-get install -y ${driver.install}`);
      }
      const c = rmsNormCase();
      const out = await runDeno("tests/runtime/deno/rms-norm.js", {
        input: JSON.stringify(c),
        env: { VK_ICD_FILENAMES: driver.icd },
      });
      const run = JSON.parse(out) as KernelRun;
      expect(run.adapter).toContain(driver.name);
      await expectRmsNorm(run.y, c, `Deno on ${driver.name}`);
    });
  }
});

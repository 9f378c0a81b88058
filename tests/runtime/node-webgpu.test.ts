// Node: the harness later model tests use (tests/harness/webgpu.ts, npm `webgpu`,
// Dawn on SwiftShader) runs a project kernel and gets the reference's numbers.
import { expect, it } from "vitest";
import { testDevice } from "../harness/webgpu.js";
import { expectRmsNorm, rmsNormCase } from "./rms-norm-case.js";
import { runRmsNorm } from "./rms-norm-run.js";

it("runs shaders/rms-norm.wgsl on SwiftShader through Dawn", async () => {
  const device = await testDevice();
  expect(device.adapterInfo.description).toMatch(/SwiftShader/);
  const c = rmsNormCase();
  await expectRmsNorm(await runRmsNorm(device, c), c, "Node");
});

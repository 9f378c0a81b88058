// Which backend `device` picks, and that it says why: "auto" never takes a software
// adapter (SwiftShader here: WebGPU on the CPU is far slower than WASM), "webgpu" takes
// whatever adapter there is. This machine has SwiftShader and no GPU.
import { describe, expect, test } from "vitest";
import { isSoftwareAdapter } from "../../src/backends/webgpu/device.js";
import { PaliGemma, selectBackend } from "../../src/index.js";
import { testDevice } from "../harness/webgpu.js";

const MODEL = new URL("../../models/tiny-random/", import.meta.url).pathname;

describe("device", () => {
  test('"auto" skips SwiftShader for WASM and says why; "webgpu" still takes it', async () => {
    const device = await testDevice(); // Dawn started on SwiftShader, as in every WebGPU test
    expect(isSoftwareAdapter(device)).toBe(true);
    const auto = await selectBackend("auto");
    expect(auto.backend.name).toBe("wasm");
    expect(auto.info.reason).toMatch(/skipped the WebGPU adapter it was offered, google swiftshader \(SwiftShader.*\): it renders on the CPU/);
    auto.backend.dispose();
    const gpu = await selectBackend("webgpu");
    expect([gpu.backend.name, gpu.info.adapter]).toEqual(["webgpu", expect.stringMatching(/SwiftShader/)]);
    gpu.backend.dispose();
    expect((await selectBackend("wasm")).info).toEqual({
      name: "wasm", threads: 1, build: expect.stringMatching(/^cpu(-relaxed)?$/), reason: 'device: "wasm" was asked for',
    });
  });

  test("software adapters are known by isFallbackAdapter or by the driver their info names", () => {
    const adapter = (info: Partial<GPUAdapterInfo> & { isFallbackAdapter?: boolean }) =>
      ({ info: { vendor: "", architecture: "", device: "", description: "", ...info } }) as unknown as GPUAdapter;
    expect(isSoftwareAdapter(adapter({ vendor: "nvidia", architecture: "hopper", description: "NVIDIA H100" }))).toBe(false);
    expect(isSoftwareAdapter(adapter({ vendor: "apple", architecture: "metal-3" }))).toBe(false);
    expect(isSoftwareAdapter(adapter({ vendor: "mesa", description: "llvmpipe (LLVM 15.0.6, 256 bits)" }))).toBe(true);
    expect(isSoftwareAdapter(adapter({ description: "Mesa lavapipe" }))).toBe(true);
    expect(isSoftwareAdapter(adapter({ description: "Microsoft Basic Render Driver" }))).toBe(true);
    expect(isSoftwareAdapter(adapter({ vendor: "intel", isFallbackAdapter: true }))).toBe(true);
  });

  test("PaliGemma.load with the default device runs on WASM here, and backendInfo says why", async () => {
    await testDevice();
    const pg = await PaliGemma.load(MODEL);
    expect(pg.backendInfo).toMatchObject({ name: "wasm", reason: expect.stringMatching(/renders on the CPU, where WASM is faster/) });
    expect(pg.model.backend.name).toBe("wasm");
    pg.dispose();
    const own = await PaliGemma.load(MODEL, { device: "webgpu", gpu: await testDevice() });
    expect(own.backendInfo).toMatchObject({ name: "webgpu", reason: 'device: "webgpu" was asked for' });
    own.dispose();
  });
});

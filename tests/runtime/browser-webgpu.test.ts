// Headless Chromium: the browser's own WebGPU (Dawn in the GPU process) runs the
// project kernel on SwiftShader, in a page served from the loopback interface.
import { afterAll, beforeAll, expect, it } from "vitest";
import type { Browser } from "puppeteer-core";
import { type FileServer, launchChromium, serveFiles } from "../harness/browser.js";
import { expectRmsNorm, rmsNormCase } from "./rms-norm-case.js";
import type { KernelRun } from "./rms-norm-run.js";

let server: FileServer;
let browser: Browser;

beforeAll(async () => {
  [server, browser] = await Promise.all([serveFiles("."), launchChromium({ webgpu: true })]);
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

it("runs shaders/rms-norm.wgsl on SwiftShader in Chromium", async () => {
  const [page] = await browser.pages();
  await page.goto(`${server.origin}/tests/runtime/browser/webgpu.html`);
  const c = rmsNormCase();
  const run = (await page.evaluate(
    `import("/tests/runtime/rms-norm-run.js").then((m) => m.runOnNavigatorGpu(${JSON.stringify(c)}))`,
  )) as KernelRun;
  expect(run.adapter).toContain("swiftshader");
  await expectRmsNorm(run.y, c, "Chromium");
});

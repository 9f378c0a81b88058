// The WASM backend's threads in headless Chromium (the sources, served by Vite): a page
// served with COOP/COEP is crossOriginIsolated and runs 2 threads (Web Workers on one shared
// memory) on Chromium's relaxed-SIMD build, equal to 1 thread and to a plain JS dot
// product; the same page without those headers has no SharedArrayBuffer and runs on 1
// thread, saying why.
import { afterAll, beforeAll, expect, it } from "vitest";
import type { Browser } from "puppeteer-core";
import { createServer, type ViteDevServer } from "vite";
import { ISOLATION_HEADERS, launchChromium } from "../harness/browser.js";

let isolated: ViteDevServer;
let plain: ViteDevServer;
let browser: Browser;

async function serve(headers: Record<string, string>): Promise<ViteDevServer> {
  const server = await createServer({
    configFile: false, root: ".", logLevel: "error", server: { host: "127.0.0.1", port: 0, headers }, optimizeDeps: { noDiscovery: true, include: [] },
  });
  return server.listen();
}
const origin = (s: ViteDevServer) => `http://127.0.0.1:${(s.httpServer!.address() as { port: number }).port}`;

beforeAll(async () => {
  [isolated, plain, browser] = await Promise.all([serve(ISOLATION_HEADERS), serve({}), launchChromium()]);
});

afterAll(async () => {
  await browser?.close();
  await Promise.all([isolated?.close(), plain?.close()]);
});

interface Run {
  isolated: boolean;
  backends: { threads: number; build: string; note: string | null }[];
  maxError: number;
  equal: boolean;
}

async function runAt(server: ViteDevServer): Promise<Run> {
  const page = await browser.newPage();
  await page.goto(`${origin(server)}/tests/runtime/browser/webgpu.html`);
  const run = (await page.evaluate(
    `import("/tests/runtime/browser/threads.js").then(async (m) => ({ isolated: crossOriginIsolated, ...(await m.runThreads()) }))`,
  )) as Run;
  await page.close();
  console.log(`browser threads: isolated ${run.isolated}, ${JSON.stringify(run.backends)}`);
  return run;
}

it("a crossOriginIsolated page runs 2 threads on the relaxed-SIMD build, equal to 1 thread", async () => {
  const run = await runAt(isolated);
  expect(run.isolated).toBe(true);
  expect(run.backends).toEqual([
    { threads: 1, build: "cpu-relaxed", note: null },
    { threads: 2, build: "cpu-mt-relaxed", note: null },
  ]);
  expect(run.equal).toBe(true);
  expect(run.maxError).toBeLessThan(1e-4);
});

it("a page that is not isolated falls back to 1 thread and says why", async () => {
  const run = await runAt(plain);
  expect(run.isolated).toBe(false);
  expect(run.backends[1].threads).toBe(1);
  expect(run.backends[1].note).toMatch(/^1 thread of 2 asked: .*crossOriginIsolated/);
  expect(run.equal).toBe(true);
  expect(run.maxError).toBeLessThan(1e-4);
});

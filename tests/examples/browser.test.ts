// examples/browser in headless Chromium, served by Vite with the example's own config:
// detect and segment on the bundled demo model and its example image, then caption a
// picked image, in the page's Web Worker (WASM); then answer on WebGPU (SwiftShader),
// reading every result from the DOM and comparing it with the API in this process.
// Screenshots go to tests/out/ for the test log.
import { mkdirSync, readFileSync } from "node:fs";
import puppeteer, { type Browser, type ElementHandle, type Page } from "puppeteer-core";
import { createServer, type ViteDevServer } from "vite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CHROMIUM, WEBGPU_FLAGS } from "../harness/browser.js";
import { nodeWasmReference, onNodeWasm, SHAPES } from "./reference.js";

// A JPEG, so the worker's codec (jSquash fetching its own .wasm) is exercised too.
const PICKED = "tests/fixtures/image/sub420.jpg";

let server: ViteDevServer;
let browser: Browser;
let origin: string;

beforeAll(async () => {
  server = await createServer({ configFile: "examples/browser/vite.config.mjs", server: { port: 0 } });
  await server.listen();
  origin = `http://127.0.0.1:${(server.httpServer!.address() as { port: number }).port}`;
  browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox", ...WEBGPU_FLAGS] });
  mkdirSync("tests/out", { recursive: true });
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

const text = (page: Page, id: string) => page.$eval(`#${id}`, (e) => e.textContent ?? "");

async function open(query: string): Promise<Page> {
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(`${origin}/examples/browser/${query}`);
  await page.waitForFunction(() => ["ready", "error", "failed"].includes(document.body.dataset.state!), { timeout: 60_000 });
  expect(await text(page, "error")).toBe("");
  expect(errors).toEqual([]);
  return page;
}

/** Chooses the task, fills in the text, presses Run and waits for the answer. */
async function run(page: Page, task: string, input: string, maxTokens: number): Promise<void> {
  await page.select("#task", task);
  await page.$eval("#text", (e, v) => ((e as HTMLInputElement).value = v), input);
  await page.$eval("#max-tokens", (e, v) => ((e as HTMLInputElement).value = v), String(maxTokens));
  await page.click("#run");
  await page.waitForFunction(() => ["done", "error"].includes(document.body.dataset.state!), { timeout: 90_000 });
  expect(await text(page, "error")).toBe("");
}

/** The results list as the page shows it: each label, box and whether it has a mask. */
const results = (page: Page) =>
  page.$$eval("#results li", (lis) =>
    lis.map((li) => ({ label: li.dataset.label, box: JSON.parse(li.dataset.box!), mask: li.textContent!.endsWith(", with mask") })),
  );

describe("examples/browser in Chromium", () => {
  it("detects and segments on the demo image, then captions a picked one, on WASM in the worker", async () => {
    const api = onNodeWasm(async (pg, image) => ({ detect: await pg.detect(image, SHAPES), segment: await pg.segment(image, "star") }));
    const reference = nodeWasmReference("caption en", 16, PICKED);
    const page = await open("?device=wasm");
    // The example's server sends COOP/COEP: the page is isolated and the WASM backend runs on every core.
    expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
    const cores = Math.min(8, await page.evaluate(() => navigator.hardwareConcurrency));
    expect(await text(page, "status")).toMatch(new RegExp(`^model loaded on wasm, ${cores} threads? as f16 in \\d+ ms$`));
    expect(await page.$eval("#progress", (e) => (e as HTMLProgressElement).value)).toBe(1);
    expect(await text(page, "note")).toContain("the bundled demo model, a ~1.6M-parameter PaliGemma trained only on synthetic scenes");
    expect(await text(page, "note")).toContain("?model=google/paligemma-3b-mix-224");
    await page.waitForFunction(() => (document.getElementById("view") as HTMLCanvasElement).width > 0);
    expect(await page.$eval("#view", (c) => [(c as HTMLCanvasElement).width, (c as HTMLCanvasElement).height])).toEqual([112, 112]); // shapes.png

    for (const [task, labels] of [["detect", SHAPES.join(" ; ")], ["segment", "star"]] as const) {
      await run(page, task, labels, 64);
      const want = (await api)[task].map((f) => ({ label: f.label, box: f.box, mask: task === "segment" }));
      expect(await results(page)).toEqual(want);
      expect(await text(page, "output")).toBe(want.length ? "" : "nothing found");
      expect(await text(page, "timings")).toMatch(new RegExp(`^${task} on wasm: done in \\d+ ms`));
      await page.screenshot({ path: `tests/out/browser-example-${task}.png` });
    }

    await ((await page.$("#file")) as ElementHandle<HTMLInputElement>).uploadFile(PICKED);
    await page.waitForFunction(() => (document.getElementById("view") as HTMLCanvasElement).width === 160);
    expect(await page.$eval("#view", (c) => [(c as HTMLCanvasElement).width, (c as HTMLCanvasElement).height])).toEqual([160, 120]);
    await run(page, "caption", "", 16);
    expect(await text(page, "output")).toBe((await reference).text);
    expect(await text(page, "timings")).toMatch(/^caption on wasm: first text after \d+ ms, done in \d+ ms/);
    await page.screenshot({ path: "tests/out/browser-example-wasm.png" });
  });

  it("runs on WebGPU when asked (auto would skip SwiftShader), answers with Node's tokens, and the page keeps drawing meanwhile", async () => {
    // Two tokens: the prefill and one cached decode step; SwiftShader takes seconds per step.
    const reference = nodeWasmReference("answer en how many stars?", 2);
    const page = await open("?device=webgpu");
    expect(await text(page, "status")).toMatch(/^model loaded on webgpu as f16 in \d+ ms$/);
    await page.select("#task", "answer");
    await page.$eval("#text", (e) => ((e as HTMLInputElement).value = "how many stars?"));
    await page.$eval("#max-tokens", (e) => ((e as HTMLInputElement).value = "2"));
    await page.click("#run");
    // While the worker computes, the page's own thread still renders frames.
    const frameMs = await page.evaluate(async () => {
      const t0 = performance.now();
      for (let i = 0; i < 5; i++) await new Promise(requestAnimationFrame);
      return { ms: performance.now() - t0, state: document.body.dataset.state };
    });
    expect(frameMs.state).toBe("running");
    expect(frameMs.ms).toBeLessThan(1000);
    await page.waitForFunction(() => ["done", "error"].includes(document.body.dataset.state!), { timeout: 90_000 });
    expect(await text(page, "error")).toBe("");
    expect(await text(page, "output")).toBe((await reference).text);
    expect(await text(page, "timings")).toMatch(/^answer on webgpu:/);
    await page.screenshot({ path: "tests/out/browser-example-webgpu.png" });
    // The screenshot is a real PNG of the page.
    expect(readFileSync("tests/out/browser-example-webgpu.png").subarray(1, 4).toString()).toBe("PNG");
  });

  it("a model that does not load disables Run; a bad label is an error that leaves the model usable", async () => {
    const broken = await browser.newPage();
    await broken.goto(`${origin}/examples/browser/?model=/no/such/model/&device=wasm`);
    await broken.waitForFunction(() => document.body.dataset.state === "failed", { timeout: 60_000 });
    expect(await text(broken, "status")).toBe("the model did not load");
    expect(await text(broken, "error")).toMatch(/^LOAD_FAILED: tokenizer\.json not found in http:/);
    expect(await broken.$eval("#run", (b) => (b as HTMLButtonElement).disabled)).toBe(true);

    const page = await open("?device=wasm&dtype=q4");
    await page.select("#task", "detect");
    await page.$eval("#text", (e) => ((e as HTMLInputElement).value = " ; "));
    await page.click("#run");
    await page.waitForFunction(() => document.body.dataset.state === "error");
    expect(await text(page, "error")).toBe('detect needs what to look for, e.g. "star ; cross"');
    expect(await text(page, "status")).toMatch(/^model loaded on wasm, \d+ threads? as q4 in \d+ ms$/); // ?dtype= reaches the load
    expect(await page.$eval("#run", (b) => (b as HTMLButtonElement).disabled)).toBe(false);
    await run(page, "caption", "", 4);
    expect((await text(page, "output")).length).toBeGreaterThan(0);
  });
});

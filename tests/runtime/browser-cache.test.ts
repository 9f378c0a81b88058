// The browser's download cache (the origin private file system) in headless Chromium,
// through the built SDK (dist/index.js): two tabs loading one hub model at once share
// the download through a Web Lock and leave exactly the served bytes; PaliGemma.cache
// lists, checks and deletes it there, and refuses to delete while another tab holds a
// file's lock.
import { createHash } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import type { Browser, Page } from "puppeteer-core";
import { afterAll, beforeAll, expect, test } from "vitest";
import { launchChromium } from "../harness/browser.js";
import { hubServer, type HubServer } from "../harness/hub-server.js";
import { DEMO_MODEL } from "../examples/reference.js";

const FILES = ["config.json", "model.safetensors", "tokenizer.json"].map((name) => ({ name, size: statSync(join(DEMO_MODEL, name)).size }));
const SHA = createHash("sha256").update(readFileSync(join(DEMO_MODEL, "model.safetensors"))).digest("hex");

let hub: HubServer;
let browser: Browser;
beforeAll(async () => {
  hub = await hubServer(DEMO_MODEL, "test/demo", { slow: true });
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await hub?.close();
});

async function tab(): Promise<Page> {
  const page = await browser.newPage();
  await page.goto(hub.endpoint + "/");
  await page.waitForFunction(() => "sdk" in window);
  return page;
}

/** In the page: loads test/demo from the page's origin on WASM; returns its greedy caption's token ids. */
const loadInPage = (page: Page) =>
  page.evaluate(async () => {
    const { PaliGemma } = (window as unknown as { sdk: typeof import("../../src/index.js") }).sdk;
    const pg = await PaliGemma.load("test/demo", { device: "wasm", endpoint: location.origin });
    const image = { width: 8, height: 8, data: new Uint8ClampedArray(8 * 8 * 4).fill(200) };
    const { tokenIds } = await pg.generate(image, "caption en", { maxNewTokens: 4 });
    pg.dispose();
    return Array.from(tokenIds as Int32Array);
  });

/** In the page: a PaliGemma.cache call, with a thrown error as { name, code, message }. */
const cacheCall = (page: Page, method: "list" | "has" | "delete", ...args: unknown[]) =>
  page.evaluate(
    async (method, args) => {
      const { PaliGemma } = (window as unknown as { sdk: typeof import("../../src/index.js") }).sdk;
      try {
        return { value: await (PaliGemma.cache[method] as (...a: unknown[]) => Promise<unknown>)(...args) };
      } catch (e) {
        const err = e as { name: string; code: string; message: string };
        return { error: { name: err.name, code: err.code, message: err.message } };
      }
    },
    method,
    args,
  );

test("two tabs loading at once share one download; PaliGemma.cache lists, checks and deletes it, respecting another tab's lock", { timeout: 120_000 }, async () => {
  const [a, b] = [await tab(), await tab()];
  hub.requests.length = 0;
  const [tokensA, tokensB] = await Promise.all([loadInPage(a), loadInPage(b)]);
  expect(tokensA).toEqual(tokensB);
  // One tab downloaded the weights; the other waited for its lock and read the cached file.
  expect(hub.requests.filter((r) => r.file === "model.safetensors")).toHaveLength(1);
  const cachedSha = await a.evaluate(async () => {
    let dir = await navigator.storage.getDirectory();
    for (const part of ["paligemma-edge", "test", "demo", "main"]) dir = await dir.getDirectoryHandle(part);
    const bytes = await (await (await dir.getFileHandle("model.safetensors")).getFile()).arrayBuffer();
    return Array.from(new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)), (x) => x.toString(16).padStart(2, "0")).join("");
  });
  expect(cachedSha).toBe(SHA);

  expect(await cacheCall(a, "list")).toEqual({
    value: [
      {
        repo: "test/demo",
        revision: "main",
        files: FILES,
        partialBytes: 0,
        size: FILES.reduce((n, f) => n + f.size, 0),
        complete: true,
        location: "paligemma-edge/test/demo/main",
      },
    ],
  });
  expect(await cacheCall(b, "has", "test/demo")).toEqual({ value: true });

  // Tab b holds the lock a download of the weights would take, until told to let go.
  await b.evaluate(() => {
    const w = window as unknown as { release: () => void; held: Promise<void> };
    w.held = new Promise<void>((held) =>
      navigator.locks.request("paligemma-edge:test/demo/main/model.safetensors", () => {
        held();
        return new Promise<void>((r) => (w.release = r));
      }),
    );
    return w.held;
  });
  const busy = await cacheCall(a, "delete", "test/demo");
  expect(busy.error).toMatchObject({ name: "CacheBusyError", code: "CACHE_BUSY" });
  expect(await cacheCall(a, "has", "test/demo")).toEqual({ value: true });

  await b.evaluate(() => (window as unknown as { release: () => void }).release());
  const removed = await cacheCall(a, "delete", "test/demo");
  expect((removed.value as { revision: string }[]).map((m) => m.revision)).toEqual(["main"]);
  expect(await cacheCall(a, "list")).toEqual({ value: [] });
  // The emptied folders went too.
  const left = await a.evaluate(async () => {
    const root = await (await navigator.storage.getDirectory()).getDirectoryHandle("paligemma-edge");
    const names: string[] = [];
    for await (const name of (root as unknown as { keys(): AsyncIterable<string> }).keys()) names.push(name);
    return names;
  });
  expect(left).toEqual([]);
});

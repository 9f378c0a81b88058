// Issue 18, item 6: load progress. A load from a folder, from a URL and from a hub (into a
// cache, then from it) reports per file its stages in order (download before read;
// quantize and upload of its tensors), `overall` counting every file's bytes once, never
// going down and ending at the sum of the file sizes, and exactly one `ready`, last. A
// download stopped by the load's signal midway resumes from its byte on the next load.
import { mkdtempSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { AbortedError, PaliGemma, type LoadProgress } from "../../src/runtime/node.js";
import { DEMO_MODEL, SHAPES_PNG } from "../examples/reference.js";
import { hubServer } from "../harness/hub-server.js";
import { fileServer, localServer, type LocalServer } from "../robustness/small-model.js";

/** The files a load of the demo model reads, and their bytes. */
const READ = ["config.json", "model.safetensors", "tokenizer.json"];
const sizeOf = (name: string) => statSync(join(DEMO_MODEL, name)).size;
const TOTAL = READ.reduce((n, f) => n + sizeOf(f), 0);
const image = new Uint8Array(readFileSync(SHAPES_PNG));

async function load(source: string, opts: Parameters<typeof PaliGemma.load>[1] = {}) {
  const events: LoadProgress[] = [];
  const pg = await PaliGemma.load(source, { device: "wasm", ...opts, onProgress: (p) => events.push(p) });
  try {
    return { events, tokens: Array.from((await pg.generate(image, "caption en", { maxNewTokens: 8 })).tokenIds) };
  } finally {
    pg.dispose();
  }
}

/** What every load's events must show. */
function expectWellFormed(events: LoadProgress[]) {
  expect(events.filter((e) => e.stage === "ready")).toHaveLength(1);
  expect(events.at(-1)).toEqual({ stage: "ready", loaded: TOTAL, total: TOTAL, overall: { loaded: TOTAL, total: TOTAL } });
  events.forEach((e, i) => {
    if (i > 0) expect(e.overall.loaded, `event ${i}`).toBeGreaterThanOrEqual(events[i - 1].overall.loaded);
    // A total, once given, is the true one.
    if (e.overall.total !== undefined) expect(e.overall.total, `event ${i}`).toBe(TOTAL);
  });
  for (const file of new Set(events.map((e) => e.file).filter((f) => f !== undefined))) {
    const mine = events.filter((e) => e.file === file);
    expect(READ, file).toContain(file);
    // Per stage: loaded grows and ends at its total.
    for (const stage of new Set(mine.map((e) => e.stage))) {
      const of = mine.filter((e) => e.stage === stage);
      of.forEach((e, i) => i === 0 || expect(e.loaded).toBeGreaterThanOrEqual(of[i - 1].loaded));
      expect(of.at(-1)!.loaded, `${file} ${stage}`).toBe(of.at(-1)!.total);
    }
    expect(mine.filter((e) => e.stage === "read").at(-1)!.loaded).toBe(sizeOf(file!));
    // Downloaded first, then read.
    const lastDownload = mine.map((e) => e.stage === "download").lastIndexOf(true);
    expect(lastDownload).toBeLessThan(mine.findIndex((e) => e.stage === "read"));
  }
}

const stagesOf = (events: LoadProgress[], file: string) => [...new Set(events.filter((e) => e.file === file).map((e) => e.stage))];

let folderTokens: number[];

describe("load progress", () => {
  test("from a folder: totals known from the first event, read then upload, one ready", async () => {
    const { events, tokens } = await load(DEMO_MODEL);
    folderTokens = tokens;
    expectWellFormed(events);
    expect(events.every((e) => e.overall.total === TOTAL)).toBe(true);
    expect(stagesOf(events, "model.safetensors")).toEqual(["read", "upload"]);
    expect(stagesOf(events, "tokenizer.json")).toEqual(["read"]);
    expect(events.some((e) => e.stage === "download")).toBe(false);
  });

  test("dtype q8 on a float checkpoint reports quantize before upload", async () => {
    const { events } = await load(DEMO_MODEL, { dtype: "q8" });
    expectWellFormed(events);
    const weights = events.filter((e) => e.file === "model.safetensors");
    expect(stagesOf(events, "model.safetensors").sort()).toEqual(["quantize", "read", "upload"]);
    // Quantized bytes are a part of the uploaded ones, each quantized before it is uploaded
    // (the embeddings, first in the file, are uploaded as they are).
    const lastQuantize = weights.map((e) => e.stage === "quantize").lastIndexOf(true);
    expect(weights.slice(lastQuantize).some((e) => e.stage === "upload")).toBe(true);
    const quantize = weights.filter((e) => e.stage === "quantize").at(-1)!;
    const upload = weights.filter((e) => e.stage === "upload").at(-1)!;
    expect(quantize.total).toBeGreaterThan(0);
    expect(quantize.total).toBeLessThan(upload.total!);
  });

  describe("from local servers", () => {
    let files: LocalServer;
    beforeAll(async () => {
      files = await fileServer(Object.fromEntries(READ.map((f) => [f, new Uint8Array(readFileSync(join(DEMO_MODEL, f)))])));
    });
    afterAll(() => files.close());

    test("a URL: sizes arrive with each response, the total once all are known", async () => {
      const { events, tokens } = await load(`${files.origin}/model/`);
      expectWellFormed(events);
      expect(tokens).toEqual(folderTokens);
      expect(events[0].overall.total).toBeUndefined(); // nothing is asked before it is needed
      expect(events.some((e) => e.stage === "download")).toBe(false);
    });

    test("a server that sends no Content-Length: each file's size is what was read, the total at the end", async () => {
      const chunked = await localServer((req, res) => {
        const name = new URL(req.url!, "http://x").pathname.replace(/^\/model\//, "");
        if (!READ.includes(name)) return void res.writeHead(404).end();
        res.writeHead(200); // no Content-Length: the body is chunked
        res.end(readFileSync(join(DEMO_MODEL, name)));
      });
      try {
        const { events, tokens } = await load(`${chunked.origin}/model/`);
        expectWellFormed(events);
        expect(tokens).toEqual(folderTokens);
        expect(events.filter((e) => e.stage === "read" && e.total === undefined).length).toBeGreaterThan(0);
      } finally {
        await chunked.close();
      }
    });

    test("a hub download: download before read per file; from the cache, totals up front and no download", async () => {
      const hub = await hubServer(DEMO_MODEL, "test/demo");
      try {
        const cache = mkdtempSync(join(tmpdir(), "pg-progress-"));
        const first = await load("test/demo", { endpoint: hub.endpoint, cache });
        expectWellFormed(first.events);
        for (const f of READ) expect(stagesOf(first.events, f).slice(0, 2), f).toEqual(["download", "read"]);
        const again = await load("test/demo", { endpoint: hub.endpoint, cache });
        expectWellFormed(again.events);
        expect(again.events.every((e) => e.overall.total === TOTAL)).toBe(true);
        expect(again.events.some((e) => e.stage === "download")).toBe(false);
        expect(again.tokens).toEqual(folderTokens);
      } finally {
        await hub.close();
      }
    });

    test("a download aborted midway resumes from its byte on the next load", { timeout: 30_000 }, async () => {
      const hub = await hubServer(DEMO_MODEL, "test/demo", { slow: true });
      try {
        const cache = mkdtempSync(join(tmpdir(), "pg-progress-abort-"));
        const stop = new AbortController();
        const seen: LoadProgress[] = [];
        const error = await PaliGemma.load("test/demo", {
          device: "wasm",
          endpoint: hub.endpoint,
          cache,
          signal: stop.signal,
          onProgress: (p) => {
            seen.push(p);
            if (p.stage === "download" && p.file === "model.safetensors" && p.loaded >= 1 << 20) stop.abort();
          },
        }).catch((e) => e);
        expect(error).toBeInstanceOf(AbortedError);
        expect(seen.some((e) => e.stage === "ready")).toBe(false);
        const partial = statSync(join(cache, "test", "demo", "main", "model.safetensors.partial")).size;
        expect(partial).toBeGreaterThanOrEqual(1 << 20);
        expect(partial).toBeLessThan(sizeOf("model.safetensors"));

        hub.requests.length = 0;
        const { events, tokens } = await load("test/demo", { endpoint: hub.endpoint, cache });
        expect(hub.requests.filter((r) => r.file === "model.safetensors")).toEqual([{ file: "model.safetensors", range: `bytes=${partial}-` }]);
        expect(events.find((e) => e.file === "model.safetensors")).toMatchObject({ stage: "download", loaded: partial, total: sizeOf("model.safetensors") });
        expectWellFormed(events);
        expect(tokens).toEqual(folderTokens);
      } finally {
        await hub.close();
      }
    });
  });
});

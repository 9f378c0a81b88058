// Issue 18, item 7: PaliGemma.cache lists, checks and deletes what hub loads downloaded,
// here in a folder cache filled by real loads from a local hub. A delete never runs
// while a download holds a file's lock (this process's, or another live process's),
// and takes over the lock of a process that died. Deno runs the same folder cache (without
// --allow-sys: its locks name no host rather than prompt for it).
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { CacheBusyError, InputError, LoadError, PaliGemma } from "../../src/runtime/node.js";
import { DEMO_MODEL } from "../examples/reference.js";
import { runDeno } from "../harness/deno.js";
import { hubServer, type HubServer } from "../harness/hub-server.js";

const FILES = ["config.json", "model.safetensors", "tokenizer.json"].map((name) => ({ name, size: statSync(join(DEMO_MODEL, name)).size }));
const BYTES = FILES.reduce((n, f) => n + f.size, 0);

let hub: HubServer;
let cache: string;
const load = async (revision: string, opts: { signal?: AbortSignal } = {}) =>
  (await PaliGemma.load("test/demo", { device: "wasm", endpoint: hub.endpoint, cache, revision, ...opts })).dispose();

beforeAll(async () => {
  hub = await hubServer(DEMO_MODEL, "test/demo");
  cache = mkdtempSync(join(tmpdir(), "pg-cache-manager-"));
  await load("main");
  await load("v1.0");
});
afterAll(() => hub.close());

describe("PaliGemma.cache", () => {
  test("list: each repository and revision with its files, bytes and folder", async () => {
    const entry = (revision: string) => ({
      repo: "test/demo",
      revision,
      files: FILES,
      partialBytes: 0,
      size: BYTES,
      complete: true,
      location: join(cache, "test", "demo", revision),
    });
    expect(await PaliGemma.cache.list({ cache })).toEqual([entry("main"), entry("v1.0")]);
  });

  test("has: a revision cached whole, not one never loaded nor one missing a file", async () => {
    expect(await PaliGemma.cache.has("test/demo", { cache })).toBe(true);
    expect(await PaliGemma.cache.has("test/demo", { cache, revision: "v1.0" })).toBe(true);
    expect(await PaliGemma.cache.has("test/demo", { cache, revision: "v2" })).toBe(false);
    expect(await PaliGemma.cache.has("test/other", { cache })).toBe(false);
    const copy = mkdtempSync(join(tmpdir(), "pg-cache-copy-"));
    await PaliGemma.load("test/demo", { device: "wasm", endpoint: hub.endpoint, cache: copy }).then((pg) => pg.dispose());
    // A file of the wrong size is as good as missing (a load would download it again).
    writeFileSync(join(copy, "test", "demo", "main", "tokenizer.json"), "{}");
    expect(await PaliGemma.cache.has("test/demo", { cache: copy })).toBe(false);
    expect((await PaliGemma.cache.list({ cache: copy }))[0].complete).toBe(false);
  });

  test("delete one revision: only its files and folder go", async () => {
    const removed = await PaliGemma.cache.delete("test/demo", { cache, revision: "v1.0" });
    expect(removed.map((m) => [m.repo, m.revision, m.size])).toEqual([["test/demo", "v1.0", BYTES]]);
    expect(existsSync(join(cache, "test", "demo", "v1.0"))).toBe(false);
    expect((await PaliGemma.cache.list({ cache })).map((m) => m.revision)).toEqual(["main"]);
    expect(await PaliGemma.cache.delete("test/demo", { cache, revision: "v1.0" })).toEqual([]);
  });

  test("a download in progress in this process: delete refuses, deleting nothing; once stopped it deletes", { timeout: 30_000 }, async () => {
    const slow = await hubServer(DEMO_MODEL, "test/demo", { slow: true });
    const own = mkdtempSync(join(tmpdir(), "pg-cache-busy-"));
    try {
      const stop = new AbortController();
      let downloading!: () => void;
      const started = new Promise<void>((r) => (downloading = r));
      const loading = PaliGemma.load("test/demo", {
        device: "wasm",
        endpoint: slow.endpoint,
        cache: own,
        signal: stop.signal,
        onProgress: (p) => p.stage === "download" && p.file === "model.safetensors" && p.loaded > 0 && downloading(),
      }).catch((e) => e);
      await started;
      const [listed] = await PaliGemma.cache.list({ cache: own });
      expect(listed.partialBytes).toBeGreaterThan(0);
      expect(listed.complete).toBe(false);
      const e = await PaliGemma.cache.delete("test/demo", { cache: own }).catch((err) => err);
      expect(e).toBeInstanceOf(CacheBusyError);
      expect(e.code).toBe("CACHE_BUSY");
      expect(e.message).toContain("model.safetensors of test/demo (revision main) is being downloaded into");
      expect(existsSync(join(own, "test", "demo", "main", "config.json"))).toBe(true);
      stop.abort();
      await loading;
      expect((await PaliGemma.cache.delete("test/demo", { cache: own })).map((m) => m.revision)).toEqual(["main"]);
      expect(readdirSync(own)).toEqual([]);
    } finally {
      await slow.close();
    }
  });

  test("another live process's lock is respected; a dead process's is taken over", async () => {
    const folder = join(cache, "test", "demo", "main");
    const child = spawn(process.execPath, ["-e", "setTimeout(() => {}, 30000)"]);
    try {
      writeFileSync(join(folder, "model.safetensors.lock"), `${child.pid} ${hostname()}`);
      expect(await PaliGemma.cache.delete("test/demo", { cache }).catch((e) => e)).toBeInstanceOf(CacheBusyError);
      expect(readFileSync(join(folder, "model.safetensors")).length).toBe(FILES[1].size);
    } finally {
      child.kill();
      await new Promise((r) => child.once("exit", r));
    }
    // The process is gone: its lock is stale.
    expect((await PaliGemma.cache.delete("test/demo", { cache })).map((m) => m.revision)).toEqual(["main"]);
    expect(readdirSync(cache)).toEqual([]);
    expect(await PaliGemma.cache.list({ cache })).toEqual([]);
  });

  test("repository ids and revisions are checked before anything is touched", async () => {
    await expect(PaliGemma.cache.delete("../etc", { cache })).rejects.toThrow(LoadError);
    await expect(PaliGemma.cache.delete("test/demo", { cache, revision: ".." })).rejects.toThrow(/is not a branch, tag or commit name/);
    const noList = { where: "a cache without list()", readMeta: async () => undefined } as never;
    await expect(PaliGemma.cache.list({ cache: noList })).rejects.toThrow(InputError);
  });

  test("Deno: a load fills the folder cache, and list / has / delete work there as in Node", { timeout: 60_000 }, async () => {
    if (!existsSync("dist/node.js")) throw new Error("no dist/node.js: run npm run build first");
    const folder = mkdtempSync(join(tmpdir(), "pg-cache-deno-"));
    const out = await runDeno("tests/runtime/deno/cache.js", {
      input: JSON.stringify({ cache: folder, endpoint: hub.endpoint }),
      flags: ["--allow-read", `--allow-write=${folder}`, "--allow-net=127.0.0.1", "--allow-env"],
    });
    const run = JSON.parse(out);
    expect(run.listed).toEqual([
      { repo: "test/demo", revision: "main", files: FILES, partialBytes: 0, size: BYTES, complete: true, location: join(folder, "test", "demo", "main") },
    ]);
    expect([run.has, run.removed, run.after]).toEqual([true, ["main"], []]);
    expect(readdirSync(folder)).toEqual([]);
  });
});

// Issue 16, item 3 (and the cut-off body of item 4): a server that never answers, or
// stops sending mid-body, ends the load in a LoadError naming the file and the byte it
// stalled at, after `idleTimeoutMs` without a byte; a hub download into a cache resumes
// from there next time; `signal` aborts a load. Each test has its own time limit, so a
// regression to a hang fails that test alone.
import { createHash } from "node:crypto";
import { mkdtempSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import { AbortedError, LoadError, type PaliGemmaError } from "../../src/errors.js";
import { PaliGemmaForConditionalGeneration } from "../../src/model/paligemma.js";
import type { FetchOptions } from "../../src/weights/files.js";
import { ReferenceBackend } from "../reference/backend.js";
import { folderOf, localServer, type LocalServer, modelFiles, weights } from "./small-model.js";

const files = modelFiles();
const LIMIT = { timeout: 10_000 };

async function loadError(source: string, opts: FetchOptions): Promise<PaliGemmaError> {
  const e = await PaliGemmaForConditionalGeneration.load(source, { backend: new ReferenceBackend(), ...opts }).then(
    (m) => void m.dispose(),
    (err: PaliGemmaError) => err,
  );
  if (!e) throw new Error("the model loaded");
  return e;
}

interface Misbehaviour {
  /** This file's response stops after this many body bytes and the connection stays open. */
  stallAfter?: number;
  /** This file's response stops after this many body bytes and the connection is destroyed. */
  cutAfter?: number;
  /** This file never gets response headers. */
  silent?: string;
}

/**
 * Serves the model at `/model/<file>` (a plain URL source) and as hub repository test/tiny
 * (`/test/tiny/resolve/main/<file>`, sha256 ETags for .safetensors, Range), misbehaving
 * on model.safetensors' first response.
 */
function server(m: Misbehaviour): Promise<LocalServer & { ranges: (string | undefined)[] }> {
  const ranges: (string | undefined)[] = [];
  let first = true;
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const path = decodeURIComponent(new URL(req.url!, "http://x").pathname);
    const name = path.replace(/^\/model\/|^\/test\/tiny\/resolve\/main\//, "");
    if (name === m.silent) return; // headers never come
    const body = files[name];
    if (!body) return void res.writeHead(404, { "x-error-code": "EntryNotFound" }).end();
    const lfs = name.endsWith(".safetensors");
    const start = Number(/^bytes=(\d+)-$/.exec(req.headers.range ?? "")?.[1] ?? 0);
    if (lfs) ranges.push(req.headers.range);
    const headers: Record<string, string | number> = { "content-length": body.length - start, etag: `"${lfs ? createHash("sha256").update(body).digest("hex") : "small"}"` };
    if (start > 0) headers["content-range"] = `bytes ${start}-${body.length - 1}/${body.length}`;
    res.writeHead(start > 0 ? 206 : 200, headers);
    const misbehave = lfs && first;
    if (lfs) first = false;
    const stop = misbehave ? (m.stallAfter ?? m.cutAfter) : undefined;
    if (stop === undefined) return void res.end(body.subarray(start));
    res.write(body.subarray(start, start + stop), () => {
      if (m.cutAfter !== undefined) setTimeout(() => res.socket!.destroy(), 100);
    });
  };
  return localServer(handle).then((s) => Object.assign(s, { ranges }));
}

let running: LocalServer | undefined;
const start = async (m: Misbehaviour) => (running = await server(m));
afterEach(async () => {
  await running?.close();
  running = undefined;
});

const expectLoadError = (e: PaliGemmaError, fragment: string) => {
  expect(e).toBeInstanceOf(LoadError);
  expect(e.code).toBe("LOAD_FAILED");
  expect(e.message).toContain(fragment);
};

describe("URL sources", () => {
  test("a body that stops mid-file fails after the idle timeout, naming the file and byte", LIMIT, async () => {
    const s = await start({ stallAfter: 1000 });
    const e = await loadError(`${s.origin}/model/`, { idleTimeoutMs: 300 });
    expectLoadError(e, `the download of ${s.origin}/model/model.safetensors broke off at byte 1000 of ${weights.length} (no bytes arrived for 0.3 s)`);
  });

  test("a server that never sends headers fails after the idle timeout", LIMIT, async () => {
    const s = await start({ silent: "config.json" });
    const e = await loadError(`${s.origin}/model/`, { idleTimeoutMs: 300 });
    expectLoadError(e, `${s.origin}/model/config.json sent no response for 0.3 s (the idleTimeoutMs option)`);
  });
});

describe("hub sources", () => {
  test("a stalled download into the cache fails naming the byte, and the next load resumes from it", LIMIT, async () => {
    const s = await start({ stallAfter: 1000 });
    const cache = mkdtempSync(join(tmpdir(), "pg-robust-stall-"));
    const opts = { endpoint: s.origin, cache, idleTimeoutMs: 300 };
    const e = await loadError("hf://test/tiny", opts);
    expectLoadError(e, `the download of model.safetensors from ${s.origin}/test/tiny/resolve/main/model.safetensors broke off at byte 1000 of ${weights.length}`);
    expect(e.message).toContain("(no bytes arrived for 0.3 s); loading again resumes from there");
    const model = await PaliGemmaForConditionalGeneration.load("hf://test/tiny", { backend: new ReferenceBackend(), ...opts });
    model.dispose();
    expect(s.ranges).toEqual([undefined, "bytes=1000-"]);
  });

  test.each([
    ["stalls", { stallAfter: 1000 }, "(no bytes arrived for 0.3 s)"],
    ["is cut off", { cutAfter: 1000 }, ""],
  ])("without a cache, a body that %s is a LoadError naming the byte", LIMIT, async (_what, m, why) => {
    const s = await start(m);
    const e = await loadError("hf://test/tiny", { endpoint: s.origin, cache: false, idleTimeoutMs: 300 });
    expectLoadError(e, `the download of model.safetensors from ${s.origin}/test/tiny/resolve/main/model.safetensors broke off at byte 1000 of ${weights.length} ${why}`);
  });

  test("a hub that never sends headers fails after the idle timeout", LIMIT, async () => {
    const s = await start({ silent: "model.safetensors" });
    const e = await loadError("hf://test/tiny", { endpoint: s.origin, cache: false, idleTimeoutMs: 300 });
    expectLoadError(e, `${s.origin}/test/tiny/resolve/main/model.safetensors sent no response for 0.3 s`);
  });
});

describe("signal", () => {
  test.each(["url", "hub"])("aborting a load waiting on a stalled %s server ends it with an AbortedError", LIMIT, async (kind) => {
    const s = await start({ stallAfter: 1000 });
    const source = kind === "url" ? `${s.origin}/model/` : "hf://test/tiny";
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 300);
    const e = await loadError(source, { endpoint: s.origin, cache: false, idleTimeoutMs: Number.POSITIVE_INFINITY, signal: controller.signal });
    expect(e).toBeInstanceOf(AbortedError);
    expect(e.code).toBe("ABORTED");
    expect(e.message).toBe("loading was aborted by its AbortSignal");
  });

  test("a signal already aborted stops a folder load before it reads", LIMIT, async () => {
    const e = await loadError(folderOf(files), { signal: AbortSignal.abort() });
    expect(e).toBeInstanceOf(AbortedError);
    expect(e.code).toBe("ABORTED");
  });

  test("bad idleTimeoutMs and signal options are InputErrors", async () => {
    for (const [opts, fragment] of [
      [{ idleTimeoutMs: 0 }, "idleTimeoutMs must be a number of milliseconds above 0 (Infinity: wait forever), got 0"],
      [{ idleTimeoutMs: "30" }, 'got "30"'],
      [{ signal: {} }, "signal must be an AbortSignal"],
    ] as const) {
      const e = await loadError(folderOf(files), opts as unknown as FetchOptions);
      expect(e.code).toBe("INVALID_INPUT");
      expect(e.message).toContain(fragment);
    }
  });
});

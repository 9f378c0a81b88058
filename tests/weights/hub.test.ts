// Loading from the Hugging Face hub, against a local server that answers as the hub
// does (`/<repo>/resolve/<revision>/<file>`, Range, ETag = sha256 of the weights,
// X-Error-Code on a missing file, 401 without the right token) and serves the tiny-pg1
// checkpoint: the logits equal a load from the folder (exactly: the same bytes reach the
// same graph), downloads resume, the cache serves later loads, and every corruption is
// caught.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import puppeteer from "puppeteer-core";
import { createServer as createViteServer } from "vite";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from "vitest";
import { AuthError, LoadError } from "../../src/errors.js";
import { PaliGemmaForConditionalGeneration } from "../../src/model/paligemma.js";
import { defaultCacheFolder, folderCache } from "../../src/runtime/fs-cache.js";
import type { LoadProgress } from "../../src/weights/progress.js";
import { type FetchOptions, resolveSource } from "../../src/weights/files.js";
import { hubFiles } from "../../src/weights/hub.js";
import { Sha256 } from "../../src/weights/sha256.js";
import { FIXTURES, readTensors } from "../harness/fixtures.js";
import { rng } from "../harness/random.js";
import { ReferenceBackend } from "../reference/backend.js";

const FOLDER = `${FIXTURES}tiny-pg1`;
const files: Record<string, Uint8Array> = {
  "config.json": new Uint8Array(readFileSync(join(FOLDER, "config.json"))),
  "model.safetensors": new Uint8Array(readFileSync(join(FOLDER, "model.safetensors"))),
};
const WEIGHTS = files["model.safetensors"];
const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
/** The bytes a `corrupt` server sends. */
function corrupted(b: Uint8Array): Uint8Array {
  const out = b.slice();
  out[out.length >> 1] ^= 0x20;
  return out;
}
const golden = readTensors(`${FIXTURES}tiny-pg1/golden.safetensors`);

async function logitsOf(source: string, opts: FetchOptions = {}): Promise<Float32Array> {
  const model = await PaliGemmaForConditionalGeneration.load(source, { backend: new ReferenceBackend(), ...opts });
  try {
    const inputIds = golden.get("input_ids")!;
    const pixelValues = golden.get("pixel_values")!.data as Float32Array;
    return (await model.forward({ inputIds: inputIds.data as Int32Array, pixelValues, batch: inputIds.shape[0] })).logits;
  } finally {
    model.dispose();
  }
}
const expected = logitsOf(FOLDER);

interface Seen {
  /** Which server answered: the hub, or the storage it redirects LFS files to. */
  host: "hub" | "storage";
  method: string;
  file: string;
  range?: string;
  ifRange?: string;
  auth?: string;
  status: number;
}

interface Behaviour {
  /** Bearer token the hub demands (401 without it). */
  token?: string;
  /** The first response for model.safetensors stops after this many body bytes (the socket is destroyed). */
  cutAfter?: number;
  /** Answer every Range request with the whole file (200). */
  ignoreRange?: boolean;
  /** Flip one byte of model.safetensors in every response, keeping its announced sha256. */
  corrupt?: boolean;
  /**
   * Redirect LFS files to storage on another origin, as huggingface.co does: the hub's 302
   * carries X-Linked-ETag (the sha256) and X-Linked-Size; storage's ETag is its own tag.
   */
  storage?: boolean;
}

/** A hub-like server for repository test/tiny, revision main (and its storage server). */
async function hub(behaviour: Behaviour = {}) {
  const seen: Seen[] = [];
  let cut = behaviour.cutAfter;
  const listen = async (host: Seen["host"]) => {
    const server = createServer((req: IncomingMessage, res) => {
      // Cross-origin, as huggingface.co is to a web page: the headers the hub exposes.
      res.setHeader("access-control-allow-origin", "*");
      res.setHeader("access-control-expose-headers", "etag, content-range, x-linked-etag, x-linked-size, x-error-code");
      if (req.method === "OPTIONS") {
        res.writeHead(204, { "access-control-allow-headers": "range, if-range, authorization" }).end();
        return;
      }
      const prefix = host === "hub" ? "/test/tiny/resolve/main/" : "/blobs/";
      const file = decodeURIComponent(req.url!.slice(prefix.length));
      const log: Seen = {
        host,
        method: req.method!,
        file,
        range: req.headers.range,
        ifRange: req.headers["if-range"] as string | undefined,
        auth: req.headers.authorization,
        status: 0,
      };
      seen.push(log);
      const send = (status: number, headers: Record<string, string | number>) => {
        log.status = status;
        res.writeHead(status, headers).end();
      };
      if (host === "hub" && behaviour.token && req.headers.authorization !== `Bearer ${behaviour.token}`) {
        return send(401, { "x-error-code": "GatedRepo" });
      }
      let body = files[file];
      if (!req.url!.startsWith(prefix) || !body) return send(404, { "x-error-code": "EntryNotFound" });
      const lfs = file.endsWith(".safetensors");
      // The hub: an LFS file's ETag is its sha256; a small file's is its git blob id.
      const hubTag = lfs ? sha256(body) : createHash("sha1").update(`blob ${body.length}\0`).update(body).digest("hex");
      const linked: Record<string, string | number> = lfs ? { "x-linked-etag": `"${hubTag}"`, "x-linked-size": body.length } : {};
      if (host === "hub" && lfs && behaviour.storage) {
        return send(302, { ...linked, etag: `"${hubTag}"`, location: `${origins.storage}/blobs/${file}` });
      }
      const etag = host === "hub" ? `"${hubTag}"` : `"storage-${hubTag.slice(0, 8)}"`;
      if (lfs && behaviour.corrupt) body = corrupted(body);
      const size = body.length;
      let start = 0;
      const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? "");
      const ifRangeOk = !req.headers["if-range"] || req.headers["if-range"] === etag;
      if (range && !behaviour.ignoreRange && ifRangeOk && Number(range[1]) < size) start = Number(range[1]);
      const part = body.subarray(start);
      log.status = start > 0 ? 206 : 200;
      res.writeHead(log.status, {
        ...(host === "hub" ? linked : {}),
        etag,
        "accept-ranges": "bytes",
        "content-length": part.length,
        ...(start > 0 ? { "content-range": `bytes ${start}-${size - 1}/${size}` } : {}),
      });
      if (lfs && cut !== undefined) {
        const n = cut;
        cut = undefined;
        // A pause before the break, as on a real connection: Chromium drops bytes still in
        // flight when the connection fails.
        res.write(part.subarray(0, n), () => setTimeout(() => res.socket!.destroy(), 500));
        return;
      }
      res.end(part);
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const close = () => new Promise<void>((r) => server.close(() => r()));
    return { origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close };
  };
  const servers = { hub: await listen("hub"), storage: await listen("storage") };
  const origins = { hub: servers.hub.origin, storage: servers.storage.origin };
  return {
    endpoint: origins.hub,
    seen,
    /** Requests that received model.safetensors' bytes (not the hub's redirects). */
    weightGets: () => seen.filter((s) => s.file === "model.safetensors" && s.status !== 302),
    close: () => Promise.all([servers.hub.close(), servers.storage.close()]),
  };
}

let cacheDir: string;
let server: Awaited<ReturnType<typeof hub>> | undefined;
const repoDir = () => join(cacheDir, "test", "tiny", "main");
const savedToken = process.env.HF_TOKEN;
beforeAll(() => void delete process.env.HF_TOKEN);
afterAll(() => void (savedToken === undefined ? delete process.env.HF_TOKEN : (process.env.HF_TOKEN = savedToken)));
beforeEach(() => void (cacheDir = mkdtempSync(join(tmpdir(), "pg-hub-"))));
afterEach(async () => {
  await server?.close();
  server = undefined;
  rmSync(cacheDir, { recursive: true, force: true });
});
const start = async (b?: Behaviour) => (server = await hub(b));

describe("SHA-256", () => {
  test("equals crypto.subtle on random data fed in random chunks", async () => {
    const rand = rng(5);
    for (const n of [0, 1, 55, 56, 63, 64, 65, 119, 120, 127, 128, 1000, 65_537, (1 << 20) + 3]) {
      const data = Uint8Array.from({ length: n }, () => (rand() * 256) | 0);
      const want = Buffer.from(await crypto.subtle.digest("SHA-256", data)).toString("hex");
      const h = new Sha256();
      for (let at = 0; at < n; ) {
        const k = 1 + Math.floor(rand() * 200);
        h.update(data.subarray(at, (at += k)));
      }
      expect(h.hex(), `${n} bytes`).toBe(want);
    }
  });
});

describe("hub repositories load as their folder does", () => {
  test("hf://test/tiny gives the folder's logits; a second load is served from the cache without a request", async () => {
    const { endpoint, seen } = await start();
    const events: LoadProgress[] = [];
    expect(await logitsOf("hf://test/tiny", { endpoint, cache: cacheDir, onProgress: (p) => events.push(p) })).toEqual(await expected);
    expect(seen.map((s) => `${s.method} ${s.file} ${s.status}`)).toEqual([
      "GET config.json 200",
      "GET generation_config.json 404",
      "GET model.safetensors.index.json 404",
      "GET model.safetensors 200",
    ]);
    expect(seen.every((s) => s.auth === undefined)).toBe(true);
    // Download progress from 0 to the full size, then the loader's own reading of the cached file.
    const weights = events.filter((e) => e.file === "model.safetensors");
    expect(weights[0]).toMatchObject({ stage: "download", file: "model.safetensors", loaded: 0, total: WEIGHTS.length });
    const downloaded = weights.findIndex((e) => e.loaded === WEIGHTS.length);
    expect(weights.slice(0, downloaded + 1).every((e, i, a) => i === 0 || e.loaded > a[i - 1].loaded)).toBe(true);
    expect(weights[downloaded].stage).toBe("download");
    expect(weights.filter((e) => e.stage === "read").at(-1)).toMatchObject({ stage: "read", file: "model.safetensors", loaded: WEIGHTS.length, total: WEIGHTS.length });

    // Layout: <repo>/<revision>/<file>, metadata beside it, the hub's "no such file" remembered.
    expect(readdirSync(repoDir()).sort()).toEqual([
      "config.json", "config.json.meta.json", "generation_config.json.meta.json",
      "model.safetensors", "model.safetensors.index.json.meta.json", "model.safetensors.meta.json",
    ]);
    expect(new Uint8Array(readFileSync(join(repoDir(), "model.safetensors")))).toEqual(WEIGHTS);
    expect(JSON.parse(readFileSync(join(repoDir(), "model.safetensors.meta.json"), "utf8"))).toEqual({
      size: WEIGHTS.length, etag: sha256(WEIGHTS), sha256: sha256(WEIGHTS),
    });
    expect(JSON.parse(readFileSync(join(repoDir(), "generation_config.json.meta.json"), "utf8"))).toEqual({ absent: true });

    expect(await logitsOf("hf://test/tiny", { endpoint, cache: cacheDir })).toEqual(await expected);
    expect(seen).toHaveLength(4);
  });

  test("without a cache the files stream through, checked as they pass", async () => {
    const { endpoint } = await start();
    expect(await logitsOf("hf://test/tiny", { endpoint, cache: false })).toEqual(await expected);
    await server!.close();
    const { endpoint: bad } = await start({ corrupt: true });
    await expect(logitsOf("hf://test/tiny", { endpoint: bad, cache: false })).rejects.toThrow(
      new RegExp(`model\\.safetensors from .* is corrupt: its sha256 is [0-9a-f]{64} but the server announced ${sha256(WEIGHTS)}`),
    );
  });

  test("Node's default cache folder is $XDG_CACHE_HOME/paligemma-edge, else ~/.cache/paligemma-edge", async () => {
    const saved = process.env.XDG_CACHE_HOME;
    try {
      delete process.env.XDG_CACHE_HOME;
      expect(defaultCacheFolder()).toBe(join(homedir(), ".cache", "paligemma-edge"));
      process.env.XDG_CACHE_HOME = cacheDir;
      expect(defaultCacheFolder()).toBe(join(cacheDir, "paligemma-edge"));
      const { endpoint } = await start();
      expect(await logitsOf("hf://test/tiny", { endpoint })).toEqual(await expected);
      expect(statSync(join(cacheDir, "paligemma-edge", "test", "tiny", "main", "model.safetensors")).size).toBe(WEIGHTS.length);
    } finally {
      if (saved === undefined) delete process.env.XDG_CACHE_HOME;
      else process.env.XDG_CACHE_HOME = saved;
    }
  });
});

describe("sources: a repository id is the hub unless such a folder exists", () => {
  test("owner/name, hf://, and local folders", () => {
    const opts = { endpoint: "http://127.0.0.1:9", cache: false } as const;
    expect(resolveSource("google/paligemma-3b-mix-224", opts).where).toBe("http://127.0.0.1:9/google/paligemma-3b-mix-224 (revision main)");
    expect(resolveSource("google/paligemma-3b-mix-224").where).toBe("https://huggingface.co/google/paligemma-3b-mix-224 (revision main)");
    const cwd = process.cwd();
    try {
      process.chdir(cacheDir);
      mkdirSync(join("owner", "name"), { recursive: true });
      expect(resolveSource("owner/name", opts).where).toBe("owner/name");
      expect(resolveSource("hf://owner/name", { ...opts, revision: "v2" }).where).toBe("http://127.0.0.1:9/owner/name (revision v2)");
      for (const path of ["./owner/name", "/owner/name", "~/owner/name", "owner/name/x", ".owner/name"]) {
        expect(resolveSource(path, opts).where, path).toBe(path);
      }
    } finally {
      process.chdir(cwd);
    }
  });

  test("repository ids and file names cannot climb out of the cache", async () => {
    expect(() => hubFiles("test/..", { cache: cacheDir })).toThrow(LoadError);
    const repo = hubFiles("test/tiny", { endpoint: "http://127.0.0.1:9", cache: cacheDir });
    for (const name of ["../x", "a/../../x", "/etc/passwd", "a\\..\\x", "a//b"]) {
      await expect(repo.open(name), name).rejects.toThrow(/is not a file name inside the model/);
    }
    expect(readdirSync(cacheDir)).toEqual([]);
  });
});

describe("interrupted downloads resume", () => {
  test("a broken-off download keeps its .partial; the next load asks for the rest with Range", async () => {
    const { endpoint, weightGets } = await start({ cutAfter: 300_000 });
    const opts = { endpoint, cache: cacheDir };
    const error = await logitsOf("hf://test/tiny", opts).catch((e) => e);
    expect(error).toBeInstanceOf(LoadError);
    const partial = statSync(join(repoDir(), "model.safetensors.partial")).size;
    expect(partial).toBeGreaterThan(0);
    expect(partial).toBeLessThanOrEqual(300_000);
    expect(error.message).toMatch(`broke off at byte ${partial} of ${WEIGHTS.length}`);
    expect(error.message).toMatch("loading again resumes from there");
    expect(existsSync(join(repoDir(), "model.safetensors"))).toBe(false);

    const events: LoadProgress[] = [];
    expect(await logitsOf("hf://test/tiny", { ...opts, onProgress: (p) => events.push(p) })).toEqual(await expected);
    expect(weightGets().map((s) => [s.range, s.ifRange, s.status])).toEqual([
      [undefined, undefined, 200],
      [`bytes=${partial}-`, `"${sha256(WEIGHTS)}"`, 206],
    ]);
    expect(events.find((e) => e.file === "model.safetensors")).toMatchObject({ stage: "download", file: "model.safetensors", loaded: partial, total: WEIGHTS.length });
    expect(existsSync(join(repoDir(), "model.safetensors.partial"))).toBe(false);
    expect(new Uint8Array(readFileSync(join(repoDir(), "model.safetensors")))).toEqual(WEIGHTS);
  });

  test("a server that ignores Range sends the whole file, and the download starts over", async () => {
    const { endpoint, weightGets } = await start({ cutAfter: 200_000, ignoreRange: true });
    const opts = { endpoint, cache: cacheDir };
    await expect(logitsOf("hf://test/tiny", opts)).rejects.toThrow(/broke off/);
    const partial = statSync(join(repoDir(), "model.safetensors.partial")).size;
    expect(await logitsOf("hf://test/tiny", opts)).toEqual(await expected);
    expect(weightGets().map((s) => [s.range, s.status])).toEqual([[undefined, 200], [`bytes=${partial}-`, 200]]);
    expect(new Uint8Array(readFileSync(join(repoDir(), "model.safetensors")))).toEqual(WEIGHTS);
  });
});

describe("corruption is caught, deleted and downloaded again", () => {
  test("a cached file whose size disagrees with its metadata", async () => {
    const { endpoint, weightGets } = await start();
    const opts = { endpoint, cache: cacheDir };
    await logitsOf("hf://test/tiny", opts);
    writeFileSync(join(repoDir(), "model.safetensors"), WEIGHTS.subarray(0, 1000));
    expect(await logitsOf("hf://test/tiny", opts)).toEqual(await expected);
    expect(weightGets().map((s) => [s.range, s.status])).toEqual([[undefined, 200], [undefined, 200]]);
    expect(new Uint8Array(readFileSync(join(repoDir(), "model.safetensors")))).toEqual(WEIGHTS);
  });

  test("a damaged .partial fails the sha256 when resumed, and one fresh download replaces it", async () => {
    const { endpoint, weightGets } = await start({ cutAfter: 300_000 });
    const opts = { endpoint, cache: cacheDir };
    await expect(logitsOf("hf://test/tiny", opts)).rejects.toThrow(/broke off/);
    const path = join(repoDir(), "model.safetensors.partial");
    const bytes = readFileSync(path);
    bytes[100] ^= 1;
    writeFileSync(path, bytes);
    expect(await logitsOf("hf://test/tiny", opts)).toEqual(await expected);
    expect(weightGets().map((s) => [s.range, s.status])).toEqual([[undefined, 200], [`bytes=${bytes.length}-`, 206], [undefined, 200]]);
    expect(new Uint8Array(readFileSync(join(repoDir(), "model.safetensors")))).toEqual(WEIGHTS);
  });

  test("bytes that never match the announced sha256: a clear error, and nothing kept", async () => {
    const { endpoint, weightGets } = await start({ corrupt: true });
    await expect(logitsOf("hf://test/tiny", { endpoint, cache: cacheDir })).rejects.toThrow(
      new RegExp(`model\\.safetensors from ${endpoint}/test/tiny/resolve/main/model\\.safetensors is corrupt: its sha256 is [0-9a-f]{64} but the server announced ${sha256(WEIGHTS)}\\. The download was deleted`),
    );
    expect(weightGets()).toHaveLength(2);
    expect(readdirSync(repoDir()).filter((f) => f.startsWith("model.safetensors"))).toEqual(["model.safetensors.index.json.meta.json"]);
  });
});

describe("LFS files redirected to storage, as on huggingface.co", () => {
  test("the hub's X-Linked-ETag is the checksum, and the token stays with the hub", async () => {
    const { endpoint, seen } = await start({ storage: true, token: "hf_secret" });
    const opts = { endpoint, cache: cacheDir, token: "hf_secret" };
    expect(await logitsOf("hf://test/tiny", opts)).toEqual(await expected);
    expect(seen.filter((s) => s.file === "model.safetensors").map((s) => [s.host, s.status, s.auth])).toEqual([
      ["hub", 302, "Bearer hf_secret"],
      ["storage", 200, undefined],
    ]);
    expect(JSON.parse(readFileSync(join(repoDir(), "model.safetensors.meta.json"), "utf8"))).toEqual({
      size: WEIGHTS.length, etag: `storage-${sha256(WEIGHTS).slice(0, 8)}`, sha256: sha256(WEIGHTS),
    });

    // Storage's ETag is no checksum; the hub's X-Linked-ETag on the redirect is.
    await server!.close();
    rmSync(cacheDir, { recursive: true, force: true });
    const { endpoint: bad } = await start({ storage: true, corrupt: true });
    await expect(logitsOf("hf://test/tiny", { endpoint: bad, cache: cacheDir })).rejects.toThrow(
      `its sha256 is ${sha256(corrupted(WEIGHTS))} but the server announced ${sha256(WEIGHTS)}`,
    );
  });

  test("a broken-off download resumes from storage, with storage's ETag as If-Range", async () => {
    const { endpoint, weightGets } = await start({ storage: true, cutAfter: 300_000 });
    const opts = { endpoint, cache: cacheDir };
    await expect(logitsOf("hf://test/tiny", opts)).rejects.toThrow(/broke off/);
    const partial = statSync(join(repoDir(), "model.safetensors.partial")).size;
    expect(await logitsOf("hf://test/tiny", opts)).toEqual(await expected);
    expect(weightGets().map((s) => [s.host, s.range, s.ifRange, s.status])).toEqual([
      ["storage", undefined, undefined, 200],
      ["storage", `bytes=${partial}-`, `"storage-${sha256(WEIGHTS).slice(0, 8)}"`, 206],
    ]);
  });
});

describe("gated repositories", () => {
  test("401 is an AuthError that says what to do; the token as an option or HF_TOKEN opens the repository", async () => {
    const { endpoint, seen } = await start({ token: "hf_secret" });
    const opts = { endpoint, cache: cacheDir };
    const error = await logitsOf("hf://test/tiny", opts).catch((e) => e);
    expect(error).toBeInstanceOf(AuthError);
    expect(error).toBeInstanceOf(LoadError);
    expect(error.code).toBe("AUTH_REQUIRED");
    expect(error.message).toBe(
      `${endpoint}/test/tiny refused config.json (HTTP 401): the repository is gated or private (or does not exist). ` +
        `Accept its license at ${endpoint}/test/tiny while logged in, then pass an access token of that account ` +
        "(option token, or the HF_TOKEN environment variable in Node/Deno).",
    );
    await expect(logitsOf("hf://test/tiny", { ...opts, token: "hf_wrong" })).rejects.toThrow(/the access token was not accepted/);

    expect(await logitsOf("hf://test/tiny", { ...opts, token: "hf_secret" })).toEqual(await expected);
    expect(seen.at(-1)).toMatchObject({ file: "model.safetensors", auth: "Bearer hf_secret", status: 200 });

    rmSync(cacheDir, { recursive: true, force: true });
    process.env.HF_TOKEN = "hf_secret";
    try {
      expect(await logitsOf("test/tiny", opts)).toEqual(await expected);
    } finally {
      delete process.env.HF_TOKEN;
    }
    expect(seen.at(-1)).toMatchObject({ file: "model.safetensors", auth: "Bearer hf_secret", status: 200 });
  });
});

describe("concurrent loads", () => {
  test("two loads of one model in a process share its download", async () => {
    const { endpoint, weightGets } = await start();
    const opts = { endpoint, cache: cacheDir };
    const [a, b] = await Promise.all([logitsOf("hf://test/tiny", opts), logitsOf("hf://test/tiny", opts)]);
    expect(a).toEqual(await expected);
    expect(b).toEqual(await expected);
    expect(weightGets()).toHaveLength(1);
  });
});

describe("a ModelCache can be any implementation", () => {
  test("folderCache(dir) passed as an object behaves as the folder option", async () => {
    const { endpoint } = await start();
    const repo = hubFiles("test/tiny", { endpoint, cache: folderCache(cacheDir) });
    const config = await repo.open("config.json");
    expect(config?.size).toBe(files["config.json"].length);
    expect(new Uint8Array(await new Response(config!.stream()).arrayBuffer())).toEqual(files["config.json"]);
    expect(await repo.open("tokenizer.json")).toBeUndefined();
  });
});

describe("in Chromium", () => {
  // The page imports src/ through Vite's dev server; the hub is another origin, as huggingface.co is.
  const page = String.raw`async (endpoint) => {
    const { hubFiles } = await import("/src/weights/hub.ts");
    const hex = async (bytes) =>
      Array.from(new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)), (b) => b.toString(16).padStart(2, "0")).join("");
    const read = async (file) => new Uint8Array(await new Response(file.stream()).arrayBuffer());
    const root = await navigator.storage.getDirectory();
    await root.removeEntry("paligemma-edge", { recursive: true }).catch(() => {});
    const open = () => hubFiles("test/tiny", { endpoint }).open("model.safetensors");
    const first = await open().then(() => "loaded", (e) => e.message);
    let dir = root;
    for (const name of ["paligemma-edge", "test", "tiny", "main"]) dir = await dir.getDirectoryHandle(name);
    const partial = (await (await dir.getFileHandle("model.safetensors.partial")).getFile()).size;
    const resumed = await read(await open());
    const cached = await read(await open());
    const names = [];
    for await (const name of dir.keys()) names.push(name);
    return { first, partial, resumed: [resumed.length, await hex(resumed)], cached: [cached.length, await hex(cached)], names: names.sort() };
  }`;

  test("the origin private file system keeps a broken-off download, resumes it from storage, and serves it again", async () => {
    const vite = await createViteServer({ root: process.cwd(), server: { host: "127.0.0.1", port: 0 }, logLevel: "error" });
    const browser = await puppeteer.launch({ executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium", args: ["--no-sandbox", "--headless=new"] });
    try {
      await vite.listen();
      const { port } = vite.httpServer!.address() as AddressInfo;
      const { endpoint, weightGets } = await start({ cutAfter: 300_000, storage: true });
      const tab = await browser.newPage();
      await tab.goto(`http://127.0.0.1:${port}/package.json`);
      const got = (await tab.evaluate(`(${page})(${JSON.stringify(endpoint)})`)) as {
        first: string; partial: number; resumed: [number, string]; cached: [number, string]; names: string[];
      };
      expect(got.partial, JSON.stringify(got)).toBeGreaterThan(0);
      expect(got.first).toMatch(`broke off at byte ${got.partial} of ${WEIGHTS.length}`);
      expect(got.resumed).toEqual([WEIGHTS.length, sha256(WEIGHTS)]);
      expect(got.cached).toEqual(got.resumed);
      expect(got.names).toEqual(["model.safetensors", "model.safetensors.meta.json"]);
      // The browser follows the hub's redirect itself, so only storage's headers are seen.
      expect(weightGets().map((s) => [s.host, s.range, s.ifRange, s.status])).toEqual([
        ["storage", undefined, undefined, 200],
        ["storage", `bytes=${got.partial}-`, `"storage-${sha256(WEIGHTS).slice(0, 8)}"`, 206],
      ]);
    } finally {
      await browser.close();
      await vite.close();
    }
  });
});

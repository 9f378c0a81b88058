// A model on the Hugging Face hub (or a mirror with its URL layout) as ModelFiles:
// `${endpoint}/${repo}/resolve/${revision}/${file}`, downloaded into a cache and served
// from there, so the checkpoint loader and the tokenizer read a local file either way.
//
// - A file is downloaded whole into `<file>.partial`, checked, then made the cached file;
//   it is served only after its size (X-Linked-Size / Content-Range / Content-Length)
//   and, where the hub gives one, its sha256 matched: the ETag of an LFS file, which the
//   hub sends as X-Linked-ETag on its redirect to storage. Browsers hide that redirect,
//   so there only the size is checked.
// - A download that broke off keeps its `.partial`; the next load resumes it with
//   `Range: bytes=N-` (a server that answers 200 instead restarts it).
// - A cached file whose size disagrees with its metadata is deleted and downloaded again.
// - Later loads make no request at all: files, and the hub's "no such file" answers
//   for optional files, are served from the cache. A branch is therefore cached as it
//   was when first downloaded; pin `revision` to a commit, or clear the cache, to move.
//   Keys are `<repo>/<revision>/<file>` whatever the endpoint: a mirror serves the same files.
// Without a cache (workerd, or `cache: false`) bodies stream straight through, checked
// as they pass.
import { AuthError, LoadError, PaliGemmaError } from "../errors.js";
import { opfsCache } from "./browser-cache.js";
import type { CacheMeta, ModelCache } from "./cache.js";
import { checkFileName } from "./file-names.js";
import type { FetchOptions, ModelFile, ModelFiles } from "./files.js";
import { trackerOf } from "./progress.js";
import { createSha256, type StreamingSha256 } from "./sha256.js";
import { checkAborted, patience, patientBody, patientFetch } from "./stalls.js";

const HUB_ENDPOINT = "https://huggingface.co";

/** What a runtime with a file system and an environment adds (src/runtime/node.ts). */
export interface HubRuntime {
  /** A cache in `folder`, or in the default folder. */
  folderCache(folder?: string): ModelCache;
  /** An environment variable, undefined when unset (HF_TOKEN). */
  env(name: string): string | undefined;
}

let runtime: HubRuntime | undefined;

export function setHubRuntime(r: HubRuntime): void {
  runtime = r;
}

/** How often a load waiting for another process's download looks again. */
const LOCK_POLL_MS = 100;

/** Downloads under way in this process, by cache and key. */
const inFlight = new Map<string, Promise<boolean>>();

/** The hub's rule for repository ids (huggingface_hub's validate_repo_id). */
const REPO_ID = /^(?:\w(?:[\w.-]*\w)?\/)?\w(?:[\w.-]*\w)?$/;

export function checkRepoId(repoId: string): void {
  if (typeof repoId !== "string" || !REPO_ID.test(repoId) || /--|\.\./.test(repoId) || repoId.length > 96) {
    throw new LoadError(
      `${JSON.stringify(repoId)} is not a Hugging Face repository id: expected "owner/name" of letters, digits, "-", "_" and ".", ` +
        'not starting or ending with "-" or ".", without "--" or "..", at most 96 characters',
    );
  }
}

/** A branch or tag name by git's rules (git check-ref-format), which commit ids meet too. */
export function checkRevision(revision: string): void {
  const bad = /[\x00-\x20\x7f~^:?*[\\]|\.\.|@\{|\/\/|^\/|\/$|\.$|\.lock(?:\/|$)|(?:^|\/)\./;
  if (typeof revision !== "string" || revision === "" || revision === "@" || bad.test(revision)) {
    throw new LoadError(
      `revision ${JSON.stringify(revision)} is not a branch, tag or commit name: expected a git ref name ` +
        '(no "..", spaces, control characters, "~^:?*[\\", no part starting with "." or ending with ".lock")',
    );
  }
}

/** What a response says about the whole file. */
interface Announced {
  /** First byte of the body: the Content-Range start of a 206, else 0. */
  start: number;
  size?: number;
  /** The ETag of whoever sent the bytes, sent back as If-Range when resuming. */
  etag?: string;
  sha256?: string;
}

/** A file's response, and the hub's own headers when it redirected to storage. */
interface Fetched {
  res: Response;
  /** The redirect that carried X-Linked-ETag / X-Linked-Size. */
  linked?: Headers;
  /** The endpoint itself answered (no redirect): its ETag is the hub's. */
  direct: boolean;
}

function announced({ res, linked, direct }: Fetched, url: string): Announced {
  const h = res.headers;
  const hub = linked ?? h;
  const count = (v: string | null) => (v !== null && /^\d+$/.test(v) ? Number(v) : undefined);
  const tag = (v: string | null) => v?.replace(/^W\//, "").replace(/"/g, "") || undefined;
  // A compressed body's Content-Length is not the file's size.
  const encoded = (h.get("content-encoding") ?? "identity") !== "identity";
  let start = 0;
  let size = count(hub.get("x-linked-size"));
  if (res.status === 206) {
    const range = /^bytes (\d+)-\d+\/(\d+)$/.exec(h.get("content-range") ?? "");
    if (!range) throw new LoadError(`${url} answered a range request without a usable Content-Range`);
    start = Number(range[1]);
    size ??= Number(range[2]);
  } else if (!encoded) {
    size ??= count(h.get("content-length"));
  }
  // The hub's ETag of an LFS file is its sha256 (X-Linked-ETag on its redirect to storage);
  // other ETags (git blob ids of small files, a CDN's tags) only identify a version.
  const etag = tag(h.get("etag"));
  const hubTag = tag(hub.get("x-linked-etag")) ?? (direct ? etag : undefined);
  const sha256 = hubTag && /^[0-9a-f]{64}$/i.test(hubTag) ? hubTag.toLowerCase() : undefined;
  return { start, size, etag, sha256 };
}

type Got = { res: Response; info: Announced; absent?: undefined } | { absent: "known" | "maybe" };

/** What is wrong with `received` bytes hashing to `hash`, undefined when they are the file announced. */
function mismatch(expected: Announced, received: number, hash: StreamingSha256 | undefined): string | undefined {
  if (expected.size !== undefined && received !== expected.size) {
    return `${received} bytes arrived but the server announced ${expected.size}`;
  }
  const got = hash?.hex();
  if (got !== expected.sha256) return `its sha256 is ${got} but the server announced ${expected.sha256}`;
  return undefined;
}

/** Reads `stream` to its end, handing each chunk to `each`. */
async function drain(stream: ReadableStream<Uint8Array>, each: (chunk: Uint8Array) => Promise<void> | void): Promise<void> {
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    await each(value);
  }
}

export function pickCache(option: FetchOptions["cache"]): ModelCache | undefined {
  if (option === false) return undefined;
  if (typeof option === "object") return option;
  if (runtime) return runtime.folderCache(option);
  if (option !== undefined) {
    throw new LoadError(`cache "${option}" is a folder, but this runtime has no file system adapter: pass a ModelCache, or false`);
  }
  return opfsCache();
}

/**
 * The files of `repoId` ("owner/name") at `revision` on the hub. The token is
 * `opts.token`, else HF_TOKEN where the runtime has an environment.
 */
export function hubFiles(repoId: string, opts: FetchOptions = {}): ModelFiles {
  checkRepoId(repoId);
  const endpoint = (opts.endpoint ?? HUB_ENDPOINT).replace(/\/+$/, "");
  const revision = opts.revision ?? "main";
  checkRevision(revision);
  const token = opts.token || runtime?.env("HF_TOKEN") || undefined;
  const cache = pickCache(opts.cache);
  const doFetch = opts.fetch ?? fetch;
  const p = patience(opts);
  const where = `${endpoint}/${repoId} (revision ${revision})`;

  /**
   * GET `url`, following redirects by hand where the runtime shows them (Node, Deno, workers):
   * the hub's own redirect to storage carries the file's sha256 and size, which storage's
   * answer lacks, and the token goes to the hub only (storage URLs are signed).
   */
  async function fetchFile(url: string, headers: Record<string, string>): Promise<Fetched> {
    let at = new URL(url);
    let linked: Headers | undefined;
    for (let hop = 0; hop < 10; hop++) {
      const here = at;
      const res = await patientFetch(p, String(here), (signal) => doFetch(here, { headers, redirect: "manual", signal }));
      // A browser hides redirects: follow blind (it drops the token on a cross-origin hop itself).
      if (res.type === "opaqueredirect") {
        return { res: await patientFetch(p, String(here), (signal) => doFetch(here, { headers, signal })), linked, direct: false };
      }
      const location = res.headers.get("location");
      if (res.status < 300 || res.status >= 400 || !location) return { res, linked, direct: hop === 0 };
      await res.body?.cancel();
      if (res.headers.has("x-linked-etag") || res.headers.has("x-linked-size")) linked = res.headers;
      const next = new URL(location, at);
      if (next.origin !== at.origin) {
        const { authorization: _, ...rest } = headers;
        headers = rest;
      }
      at = next;
    }
    throw new LoadError(`${url} redirects more than 10 times`);
  }

  /** The response for `name` from byte `offset` on, or whether the repository surely has no such file. */
  async function get(name: string, url: string, offset: number, etag?: string): Promise<Got> {
    // identity: a compressed body could neither be resumed nor checked against the file's size
    // (browsers ignore it; the check in announced() covers them).
    const headers: Record<string, string> = { "accept-encoding": "identity" };
    if (token) headers.authorization = `Bearer ${token}`;
    if (offset > 0) {
      headers.range = `bytes=${offset}-`;
      if (etag) headers["if-range"] = `"${etag}"`;
    }
    let fetched: Fetched;
    try {
      fetched = await fetchFile(url, headers);
    } catch (e) {
      if (e instanceof PaliGemmaError) throw e;
      throw new LoadError(`could not fetch ${url}: ${(e as Error).message}`);
    }
    const { res } = fetched;
    if (res.status === 401 || res.status === 403) {
      await res.body?.cancel();
      throw new AuthError(
        `${endpoint}/${repoId} refused ${name} (HTTP ${res.status}): ` +
          (token ? "the access token was not accepted for this repository. " : "the repository is gated or private (or does not exist). ") +
          `Accept its license at ${endpoint}/${repoId} while logged in, then pass an access token of that account ` +
          "(option token, or the HF_TOKEN environment variable in Node/Deno).",
      );
    }
    if (res.status === 404) {
      await res.body?.cancel();
      const code = res.headers.get("x-error-code");
      if (code === "RepoNotFound") throw new LoadError(`repository ${repoId} not found on ${endpoint}`);
      if (code === "RevisionNotFound") throw new LoadError(`${repoId} on ${endpoint} has no revision "${revision}"`);
      // Only the hub's explicit "no such file" is remembered: a bare 404 may be a proxy's hiccup.
      return { absent: code === "EntryNotFound" ? "known" : "maybe" };
    }
    if ((res.status !== 200 && res.status !== 206) || !res.body) {
      await res.body?.cancel();
      throw new LoadError(`could not fetch ${url}: HTTP ${res.status}`);
    }
    return { res, info: announced(fetched, url) };
  }

  const tracker = trackerOf(opts).tracker;
  const progress = (file: string, loaded: number, total: number | undefined) => tracker.download(file, loaded, total);

  /** Downloads `name` into the cache; false when the repository has no such file. */
  async function download(cache: ModelCache, name: string, url: string, key: string): Promise<boolean> {
    for (let attempt = 1; ; attempt++) {
      const meta = await cache.readMeta(key);
      const known = meta && !("absent" in meta) ? meta : undefined;
      const partial = known && (await cache.openPartial(key));
      let offset = partial && known.size !== undefined && partial.size! < known.size ? partial.size! : 0;

      let got = await get(name, url, offset, known?.etag);
      if (got.absent === undefined && offset > 0) {
        const { res, info } = got;
        const resumes = res.status === 206 && info.start === offset && info.size === known!.size && (!info.etag || info.etag === known!.etag);
        if (!resumes) {
          // 200: the server ignored Range (or If-Range saw a new version): this body is the whole file.
          if (res.status !== 200) {
            await res.body!.cancel();
            got = await get(name, url, 0);
          }
          offset = 0;
        }
      }
      if (got.absent !== undefined) {
        if (got.absent === "known") await cache.writeMeta(key, { absent: true });
        return false;
      }
      const { res, info } = got;
      const expected: CacheMeta = { size: info.size, etag: info.etag, sha256: info.sha256 };
      await cache.writeMeta(key, expected);

      const hash = info.sha256 ? createSha256() : undefined;
      if (hash && offset > 0) await drain(partial!.stream(), (chunk) => void hash.update(chunk));
      const writer = (await cache.append(key, offset)).getWriter();
      let loaded = offset;
      progress(name, loaded, info.size);
      try {
        // A stall or a break becomes the message below, which says where the next load resumes.
        await drain(patientBody(res.body!, p, (_at, why) => new Error(why)), async (chunk) => {
          hash?.update(chunk);
          await writer.write(chunk).catch((e: Error) => {
            throw new LoadError(`could not write ${name} to ${cache.where}: ${e.message} (a full disk or storage quota?)`);
          });
          loaded += chunk.length;
          progress(name, loaded, info.size);
        });
      } catch (e) {
        await writer.close().catch(() => {});
        if (e instanceof PaliGemmaError) throw e;
        throw new LoadError(
          `the download of ${name} from ${url} broke off at byte ${loaded}${info.size === undefined ? "" : ` of ${info.size}`} ` +
            `(${(e as Error).message}); loading again resumes from there`,
        );
      }
      await writer.close();

      const problem = mismatch(info, loaded, hash);
      if (problem) {
        await cache.delete(key);
        // Once more from scratch: the bytes at fault may have been an old partial download's.
        if (attempt < 2) continue;
        throw new LoadError(`${name} from ${url} is corrupt: ${problem}. The download was deleted from ${cache.where}`);
      }
      await cache.commit(key);
      if (info.size === undefined) await cache.writeMeta(key, { ...expected, size: loaded });
      return true;
    }
  }

  /** The cached file, "absent" when the hub said there is none, undefined when it must be downloaded. */
  async function fromCache(cache: ModelCache, key: string): Promise<ModelFile | "absent" | undefined> {
    const meta = await cache.readMeta(key);
    if (meta && "absent" in meta) return "absent";
    const cached = meta && (await cache.open(key));
    // A file whose size disagrees with its metadata is downloaded again; the commit replaces it.
    return cached && (meta.size === undefined || cached.size === meta.size) ? cached : undefined;
  }

  /**
   * Runs `work` holding the cache's lock on `key`, so two processes never write one file.
   * While another process holds it, waits as long as its `.partial` keeps growing.
   */
  async function locked<T>(cache: ModelCache, name: string, key: string, work: () => Promise<T>): Promise<T> {
    let release = await cache.lock?.(key);
    if (!cache.lock) return work();
    let seen = -1;
    let since = Date.now();
    while (!release) {
      checkAborted(p.signal);
      const size = (await cache.openPartial(key))?.size ?? 0;
      if (size !== seen) {
        seen = size;
        since = Date.now();
      } else if (Date.now() - since > p.idleTimeoutMs) {
        throw new LoadError(
          `${name} is being downloaded into ${cache.where} by another process, which has written nothing for ${p.idleTimeoutMs / 1000} s ` +
            "(the idleTimeoutMs option); load again once it has finished or stopped",
        );
      }
      await new Promise((r) => setTimeout(r, LOCK_POLL_MS));
      release = await cache.lock(key);
    }
    try {
      return await work();
    } finally {
      await release();
    }
  }

  /** Without a cache (progress: the loader's reading of it): the body as it arrives, failing at its end if it was not the file announced. */
  async function stream(name: string, url: string): Promise<ModelFile | undefined> {
    const got = await get(name, url, 0);
    if (got.absent !== undefined) return undefined;
    const { res, info } = got;
    const hash = info.sha256 ? createSha256() : undefined;
    let loaded = 0;
    let checked = false;
    const verify = () => {
      checked = true;
      const problem = mismatch(info, loaded, hash);
      if (problem) throw new LoadError(`${name} from ${url} is corrupt: ${problem}`);
    };
    const check = new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, out) {
        hash?.update(chunk);
        loaded += chunk.length;
        // Checked with the last chunk, before handing it on: a reader that stops once it has
        // what it needs (the safetensors reader does) never waits for the end of the stream.
        if (info.size !== undefined && loaded >= info.size) verify();
        out.enqueue(chunk);
      },
      flush() {
        if (!checked) verify();
      },
    });
    const body = patientBody(
      res.body!,
      p,
      (at, why) =>
        new LoadError(`the download of ${name} from ${url} broke off at byte ${at}${info.size === undefined ? "" : ` of ${info.size}`} (${why})`),
    );
    return { size: info.size, stream: () => body.pipeThrough(check) };
  }

  const keyOf = (name: string) => cacheKey(repoId, revision, name);

  return {
    where,
    async open(name) {
      checkFileName(name, where);
      const url = `${endpoint}/${repoId}/resolve/${encodeURIComponent(revision)}/${name.split("/").map(encodeURIComponent).join("/")}`;
      if (!cache) return stream(name, url);
      const key = keyOf(name);
      const found = await fromCache(cache, key);
      if (found) return found === "absent" ? undefined : found;
      // Two loads of one model in this process share its downloads rather than both writing the .partial.
      const id = `${cache.where}\n${key}`;
      let downloading = inFlight.get(id);
      if (!downloading) {
        downloading = locked(cache, name, key, async () => {
          // Another process may have downloaded it while this one waited for the lock.
          const now = await fromCache(cache, key);
          return now ? now !== "absent" : download(cache, name, url, key);
        }).finally(() => inFlight.delete(id));
        inFlight.set(id, downloading);
      }
      if (!(await downloading)) return undefined;
      const file = await cache.open(key);
      if (!file) throw new LoadError(`${name} vanished from ${cache.where} right after its download`);
      return file;
    },
    // Only what the cache holds: anything else would cost a request per file.
    async size(name) {
      if (!cache) return undefined;
      const found = await fromCache(cache, keyOf(checkFileName(name, where)));
      return found === "absent" ? null : found?.size;
    },
  };
}

/** A file's key in a ModelCache: `<owner>/<name>/<revision>/<file>` (the revision encoded: a branch may hold "/"). */
export function cacheKey(repoId: string, revision: string, name: string): string {
  return `${repoId}/${encodeURIComponent(revision)}/${name}`;
}

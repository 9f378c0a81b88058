// PaliGemma.cache: what the hub download cache holds, and deleting it. The cache is the
// one hub loads use (cache.ts): a folder in Node/Deno, the origin private file system in
// browsers, or a ModelCache / folder given as `cache`. Entries are grouped by
// repository and revision from their keys, `<owner>/<name>/<revision>/<file>`.
//
// A file another process (or tab, or this process) is downloading holds its cache's
// lock: deleting an entry takes the lock of every file in it first, and while any is
// held deletes nothing and throws a CacheBusyError. A load that is reading an already
// cached file takes no lock: on Linux and macOS it keeps reading the deleted file; in
// browsers its next read fails.
import { CacheBusyError, InputError } from "../errors.js";
import type { CachedKey, ModelCache } from "./cache.js";
import type { FetchOptions } from "./files.js";
import { cacheKey, checkRepoId, checkRevision, pickCache } from "./hub.js";

export interface CacheOptions {
  /** The cache: a folder (Node, Deno), a ModelCache, or the default one of hub loads. */
  cache?: string | ModelCache;
}

export interface CachedModel {
  /** "owner/name". */
  repo: string;
  /** The branch, tag or commit it was loaded at. */
  revision: string;
  /** Complete files and their bytes, by name. */
  files: { name: string; size: number }[];
  /** Bytes of unfinished downloads (a later load resumes them). */
  partialBytes: number;
  /** Bytes it takes: files and unfinished downloads. */
  size: number;
  /** Whether a load would find every file it needs here (see has()). */
  complete: boolean;
  /** Where it is: a folder path, or a path in the origin private file system. */
  location: string;
}

/** The cache to manage; undefined where the runtime has none (workerd). */
function cacheOf(opts: CacheOptions): ModelCache | undefined {
  const cache = pickCache(opts.cache as FetchOptions["cache"]);
  if (cache && !cache.list) throw new InputError(`the cache ${cache.where} cannot list its files (its ModelCache has no list())`);
  return cache;
}

type Parsed = CachedKey & { repo: string; revision: string; name: string };

/** Splits a key into repository, revision and file name; undefined for what no hub load wrote. */
function parseKey(key: string): Omit<Parsed, keyof CachedKey> | undefined {
  const [owner, name, revision, ...file] = key.split("/");
  if (!file.length) return undefined;
  try {
    return { repo: `${owner}/${name}`, revision: decodeURIComponent(revision), name: file.join("/") };
  } catch {
    return undefined;
  }
}

/** Every key of `repo` (at `revision`, or every revision). */
async function keysOf(cache: ModelCache, repo?: string, revision?: string): Promise<Parsed[]> {
  const out: Parsed[] = [];
  for (const k of await cache.list!()) {
    const at = parseKey(k.key);
    if (at && (repo === undefined || at.repo === repo) && (revision === undefined || at.revision === revision)) out.push({ ...k, ...at });
  }
  return out;
}

/** Whether the complete file `name` is cached and has the size recorded with it. */
async function holds(cache: ModelCache, repo: string, revision: string, name: string): Promise<boolean> {
  const key = cacheKey(repo, revision, name);
  const meta = await cache.readMeta(key);
  const file = meta && !("absent" in meta) && (await cache.open(key));
  return !!file && (meta.size === undefined || file.size === meta.size);
}

/** The shard names of a cached index, or undefined when it is not a readable index. */
async function shardsOf(cache: ModelCache, repo: string, revision: string): Promise<string[] | undefined> {
  const file = await cache.open(cacheKey(repo, revision, "model.safetensors.index.json"));
  if (!file) return undefined;
  try {
    const map = (JSON.parse(await new Response(file.stream()).text()) as { weight_map?: Record<string, unknown> }).weight_map;
    const names = Object.values(map ?? {});
    return names.length && names.every((n) => typeof n === "string") ? [...new Set(names as string[])] : undefined;
  } catch {
    return undefined;
  }
}

async function complete(cache: ModelCache, repo: string, revision: string): Promise<boolean> {
  const shards = (await holds(cache, repo, revision, "model.safetensors.index.json")) ? await shardsOf(cache, repo, revision) : ["model.safetensors"];
  if (!shards) return false;
  for (const name of ["config.json", "tokenizer.json", ...shards]) if (!(await holds(cache, repo, revision, name))) return false;
  return true;
}

async function list(opts: CacheOptions = {}): Promise<CachedModel[]> {
  const cache = cacheOf(opts);
  if (!cache) return [];
  const models = new Map<string, CachedModel>();
  for (const k of await keysOf(cache)) {
    const id = `${k.repo}\n${k.revision}`;
    let m = models.get(id);
    if (!m) {
      // The entry's folder: the file's path less its name.
      const location = k.path.slice(0, k.path.length - k.name.length - 1);
      models.set(id, (m = { repo: k.repo, revision: k.revision, files: [], partialBytes: 0, size: 0, complete: false, location }));
    }
    if (k.size !== undefined) m.files.push({ name: k.name, size: k.size });
    m.partialBytes += k.partial ?? 0;
    m.size += (k.size ?? 0) + (k.partial ?? 0);
  }
  const all = [...models.values()].sort((a, b) => a.repo.localeCompare(b.repo) || a.revision.localeCompare(b.revision));
  for (const m of all) {
    m.files.sort((a, b) => a.name.localeCompare(b.name));
    m.complete = await complete(cache, m.repo, m.revision);
  }
  return all;
}

/**
 * Whether `repo` at `revision` (default "main") is cached whole: config.json,
 * tokenizer.json and every weights file, each of the size recorded with it, so loading
 * it makes no download (the hub's optional files are asked for only if never answered).
 */
async function has(repo: string, opts: CacheOptions & { revision?: string } = {}): Promise<boolean> {
  checkRepoId(repo);
  const revision = opts.revision ?? "main";
  checkRevision(revision);
  const cache = cacheOf(opts);
  return cache ? complete(cache, repo, revision) : false;
}

/**
 * Deletes `repo` at `revision` from the cache, or every revision without one. Returns
 * what was deleted (empty when nothing was cached). Throws a CacheBusyError, deleting
 * nothing, while another load is downloading one of its files.
 */
async function remove(repo: string, opts: CacheOptions & { revision?: string } = {}): Promise<CachedModel[]> {
  checkRepoId(repo);
  if (opts.revision !== undefined) checkRevision(opts.revision);
  const cache = cacheOf(opts);
  if (!cache) return [];
  const removed = (await list(opts)).filter((m) => m.repo === repo && (opts.revision === undefined || m.revision === opts.revision));
  const keys = await keysOf(cache, repo, opts.revision);
  const releases: (() => Promise<void>)[] = [];
  try {
    for (const k of keys) {
      if (!cache.lock) break;
      const release = await cache.lock(k.key);
      if (!release) throw new CacheBusyError(`${k.name} of ${repo} (revision ${k.revision}) is being downloaded into ${cache.where}; nothing was deleted: try again once that load has finished or stopped`);
      releases.push(release);
    }
    await Promise.all(keys.map((k) => cache.delete(k.key)));
  } finally {
    await Promise.all(releases.map((r) => r()));
  }
  for (const m of removed) await cache.prune?.(cacheKey(repo, m.revision, "").slice(0, -1));
  return removed;
}

/** Lists, checks and deletes the models hub loads downloaded. */
export const modelCache = { list, has, delete: remove };

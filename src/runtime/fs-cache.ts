// The download cache as a folder on disk (Node; Deno through its node: modules):
// `<folder>/<owner>/<repo>/<revision>/<file>`, with `<file>.partial` while it downloads,
// `<file>.meta.json` holding what the server announced (size, ETag, sha256), and
// `<file>.lock` (pid and host) while a process downloads it: processes share the folder.
import { createReadStream } from "node:fs";
import { mkdir, open, readdir, readFile, rename, rm, rmdir, stat, writeFile } from "node:fs/promises";
import { homedir, hostname } from "node:os";
import process from "node:process";
import { dirname, join } from "node:path";
import { Readable } from "node:stream";
import type { CachedKey, CacheMeta, ModelCache } from "../weights/cache.js";
import type { ModelFile } from "../weights/files.js";

/** `$XDG_CACHE_HOME/paligemma-edge`, else `~/.cache/paligemma-edge`. */
export function defaultCacheFolder(): string {
  return join(process.env.XDG_CACHE_HOME || join(homedir(), ".cache"), "paligemma-edge");
}

/** A file on disk as a ModelFile (streamed, never read whole); undefined when there is none. */
export async function localFile(path: string): Promise<ModelFile | undefined> {
  const info = await stat(path).catch(() => undefined);
  if (!info?.isFile()) return undefined;
  return { size: info.size, stream: () => Readable.toWeb(createReadStream(path)) as unknown as ReadableStream<Uint8Array> };
}

/** Whether process `pid` of this host still runs (EPERM: it does, as another user). */
function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** A lock written by a process that could not read the host's name. */
const SOME_HOST = "localhost";

/**
 * This host's name, for lock files. Deno reads it only with --allow-sys=hostname, and would
 * prompt for it on a terminal: without that permission, SOME_HOST.
 */
function host(): string {
  const deno = (globalThis as { Deno?: { permissions: { querySync(d: { name: "sys"; kind: "hostname" }): { state: string } } } }).Deno;
  if (deno && deno.permissions.querySync({ name: "sys", kind: "hostname" }).state !== "granted") return SOME_HOST;
  return hostname();
}

export function folderCache(folder: string = defaultCacheFolder()): ModelCache {
  const path = (key: string) => join(folder, ...key.split("/"));
  const partial = (key: string) => `${path(key)}.partial`;
  const meta = (key: string) => `${path(key)}.meta.json`;
  const lock = (key: string) => `${path(key)}.lock`;
  return {
    where: folder,
    async readMeta(key) {
      const text = await readFile(meta(key), "utf8").catch(() => undefined);
      try {
        return text === undefined ? undefined : (JSON.parse(text) as CacheMeta);
      } catch {
        return undefined; // half-written by a process that died: as good as none
      }
    },
    async writeMeta(key, value) {
      await mkdir(dirname(path(key)), { recursive: true });
      // Written aside and renamed: another process never reads half of it.
      const aside = `${meta(key)}.${process.pid}`;
      await writeFile(aside, JSON.stringify(value));
      await rename(aside, meta(key));
    },
    open: (key) => localFile(path(key)),
    openPartial: (key) => localFile(partial(key)),
    async append(key, offset) {
      await mkdir(dirname(path(key)), { recursive: true });
      const file = await open(partial(key), offset === 0 ? "w" : "r+");
      await file.truncate(offset);
      let at = offset;
      return new WritableStream<Uint8Array>({
        async write(chunk) {
          for (let done = 0; done < chunk.length; ) {
            done += (await file.write(chunk, done, chunk.length - done, at + done)).bytesWritten;
          }
          at += chunk.length;
        },
        close: () => file.close(),
        abort: () => file.close(),
      });
    },
    commit: (key) => rename(partial(key), path(key)),
    async delete(key) {
      await Promise.all([path(key), partial(key), meta(key)].map((p) => rm(p, { force: true })));
    },
    async lock(key) {
      const me = `${process.pid} ${host()}`;
      for (;;) {
        await mkdir(dirname(path(key)), { recursive: true });
        try {
          await writeFile(lock(key), me, { flag: "wx" });
          return () => rm(lock(key), { force: true });
        } catch (e) {
          // ENOENT: a cache delete (PaliGemma.cache) pruned the folder just made; make it again.
          if ((e as NodeJS.ErrnoException).code === "ENOENT") continue;
          if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
        }
        const [pid, holder] = (await readFile(lock(key), "utf8").catch(() => "")).split(" ");
        // The lock of a process of this host that died is taken over; any other is respected.
        // SOME_HOST's too: its process ran here as far as anyone can tell.
        if ((holder !== host() && holder !== SOME_HOST) || running(Number(pid))) return undefined;
        await rm(lock(key), { force: true });
      }
    },
    async list() {
      const keys = new Map<string, CachedKey>();
      const entry = (key: string) => keys.get(key) ?? keys.set(key, { key, path: path(key) }).get(key)!;
      const walk = async (dir: string, at: string[]): Promise<void> => {
        for (const d of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
          if (d.isDirectory()) await walk(join(dir, d.name), [...at, d.name]);
          if (!d.isFile()) continue;
          const size = async () => (await stat(join(dir, d.name))).size;
          const [, name, kind] = /^(.*?)(\.partial|\.meta\.json|\.lock|\.meta\.json\.\d+)?$/.exec(d.name)!;
          const key = [...at, name].join("/");
          if (kind === ".partial") entry(key).partial = await size();
          else if (kind === ".meta.json") entry(key);
          else if (kind === undefined) entry(key).size = await size();
        }
      };
      await walk(folder, []);
      return [...keys.values()];
    },
    async prune(prefix) {
      // rmdir only removes empty folders: one another process is filling stays.
      for (let parts = prefix.split("/"); parts.length; parts.pop()) {
        if (!(await rmdir(join(folder, ...parts)).then(() => true, () => false))) return;
      }
    },
  };
}

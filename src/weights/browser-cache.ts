// The download cache in a browser: the origin private file system, laid out as the
// folder cache is (`paligemma-edge/<owner>/<repo>/<revision>/<file>`, `.partial`,
// `.meta.json`). Not the Cache API: its entries are whole responses that cannot be
// appended to, so an interrupted multi-GB download could not resume.
//
// Tabs and workers of one origin share it: a download holds a Web Lock
// (navigator.locks, `paligemma-edge:<key>`) for its file, so two never write one
// `.partial`; the others wait for it, as processes wait on a folder cache's lock file.
// Web Locks are in every browser that has createWritable, and are let go when a tab
// closes. Without them (none known) there is no lock and two tabs may download one file
// twice: createWritable's swap file keeps each write whole until close(), but their
// resumes could interleave.

import type { CachedKey, CacheMeta, ModelCache } from "./cache.js";
import type { ModelFile } from "./files.js";

const ROOT = "paligemma-edge";

const isNotFound = (e: unknown) => (e as DOMException)?.name === "NotFoundError";

/** undefined where there is no origin private file system with writable files (old Safari, workers runtimes). */
export function opfsCache(): ModelCache | undefined {
  const storage = globalThis.navigator?.storage;
  if (typeof storage?.getDirectory !== "function") return undefined;
  if (typeof FileSystemFileHandle === "undefined" || !("createWritable" in FileSystemFileHandle.prototype)) return undefined;

  /** The folder holding `key`, and the file's name in it; undefined when the folder does not exist. */
  async function folderOf(key: string, create: boolean): Promise<[FileSystemDirectoryHandle, string] | undefined> {
    const parts = [ROOT, ...key.split("/")];
    const name = parts.pop()!;
    try {
      let dir = await storage.getDirectory();
      for (const part of parts) dir = await dir.getDirectoryHandle(part, { create });
      return [dir, name];
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  async function handle(key: string, suffix: string, create: boolean): Promise<FileSystemFileHandle | undefined> {
    const at = await folderOf(key, create);
    if (!at) return undefined;
    try {
      return await at[0].getFileHandle(at[1] + suffix, { create });
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  async function readable(key: string, suffix: string): Promise<ModelFile | undefined> {
    const file = await (await handle(key, suffix, false))?.getFile();
    return file && { size: file.size, stream: () => file.stream() };
  }

  async function remove(key: string, suffix: string): Promise<void> {
    const at = await folderOf(key, false);
    await at?.[0].removeEntry(at[1] + suffix).catch((e) => {
      if (!isNotFound(e)) throw e;
    });
  }

  /** The folder `path` (parts under the root), undefined when it does not exist. */
  async function folder(parts: string[]): Promise<FileSystemDirectoryHandle | undefined> {
    try {
      let dir = await storage.getDirectory();
      for (const part of [ROOT, ...parts]) dir = await dir.getDirectoryHandle(part);
      return dir;
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  const locks = (globalThis.navigator as Navigator | undefined)?.locks;

  const cache: ModelCache = {
    where: `the origin private file system (${ROOT}/)`,
    async readMeta(key) {
      const file = await (await handle(key, ".meta.json", false))?.getFile();
      if (!file) return undefined;
      try {
        return JSON.parse(await file.text()) as CacheMeta;
      } catch {
        return undefined; // half-written: as good as none
      }
    },
    async writeMeta(key, value) {
      const w = await (await handle(key, ".meta.json", true))!.createWritable();
      await w.write(JSON.stringify(value));
      await w.close();
    },
    open: (key) => readable(key, ""),
    openPartial: (key) => readable(key, ".partial"),
    async append(key, offset) {
      // Writes land in a swap file until close(): bytes of a tab closed mid-download are lost,
      // those of a download that failed (and was closed) are kept.
      const w = await (await handle(key, ".partial", true))!.createWritable({ keepExistingData: offset > 0 });
      await w.truncate(offset);
      await w.seek(offset);
      return w;
    },
    async commit(key) {
      const at = (await folderOf(key, false))!;
      const bytes = await at[0].getFileHandle(at[1] + ".partial");
      await remove(key, "");
      // move() renames in place; it is in every browser with createWritable, not yet in TS's DOM types.
      await (bytes as FileSystemFileHandle & { move(name: string): Promise<void> }).move(at[1]);
    },
    async delete(key) {
      await Promise.all(["", ".partial", ".meta.json"].map((suffix) => remove(key, suffix)));
    },
    async list() {
      const keys = new Map<string, CachedKey>();
      const entry = (key: string) => keys.get(key) ?? keys.set(key, { key, path: `${ROOT}/${key}` }).get(key)!;
      const walk = async (dir: FileSystemDirectoryHandle, at: string[]): Promise<void> => {
        // values(): async iteration of a folder, in every browser with createWritable, not yet in TS's DOM types.
        for await (const h of (dir as unknown as { values(): AsyncIterable<FileSystemHandle> }).values()) {
          if (h.kind === "directory") {
            await walk(h as FileSystemDirectoryHandle, [...at, h.name]);
            continue;
          }
          const [, name, kind] = /^(.*?)(\.partial|\.meta\.json)?$/.exec(h.name)!;
          const key = [...at, name].join("/");
          const size = async () => (await (h as FileSystemFileHandle).getFile()).size;
          if (kind === ".partial") entry(key).partial = await size();
          else if (kind === ".meta.json") entry(key);
          else entry(key).size = await size();
        }
      };
      const root = await folder([]);
      if (root) await walk(root, []);
      return [...keys.values()];
    },
    async prune(prefix) {
      for (let parts = prefix.split("/"); parts.length; parts.pop()) {
        const parent = await folder(parts.slice(0, -1));
        // Without { recursive: true }, removeEntry refuses a folder that is not empty.
        if (!(await parent?.removeEntry(parts.at(-1)!).then(() => true, () => false))) return;
      }
    },
  };
  if (locks) {
    cache.lock = (key) =>
      new Promise((resolve, reject) => {
        // ifAvailable: the callback gets null at once while another tab holds it; the lock
        // is held until the promise the callback returns settles, which release() does.
        locks
          .request(`${ROOT}:${key}`, { ifAvailable: true }, (lock) => {
            if (!lock) return resolve(undefined);
            return new Promise<void>((release) => resolve(async () => release()));
          })
          .catch(reject);
      });
  }
  return cache;
}

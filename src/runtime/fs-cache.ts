// The download cache as a folder on disk (Node; Deno through its node: modules):
// `<folder>/<owner>/<repo>/<revision>/<file>`, with `<file>.partial` while it downloads
// and `<file>.meta.json` holding what the server announced (size, ETag, sha256).
import { createReadStream } from "node:fs";
import { mkdir, open, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { Readable } from "node:stream";
import type { CacheMeta, ModelCache } from "../weights/cache.js";
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

export function folderCache(folder: string = defaultCacheFolder()): ModelCache {
  const path = (key: string) => join(folder, ...key.split("/"));
  const partial = (key: string) => `${path(key)}.partial`;
  const meta = (key: string) => `${path(key)}.meta.json`;
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
      await writeFile(meta(key), JSON.stringify(value));
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
  };
}

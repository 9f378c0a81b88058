// Where downloaded model files are kept between loads. hub.ts drives it; a runtime
// provides it: a folder on disk in Node/Deno (src/runtime/fs-cache.ts), the origin
// private file system in browsers (browser-cache.ts).
//
// A key is a relative path, `<owner>/<repo>/<revision>/<file>`, already checked to
// hold no `.`/`..` segments. Each key may have three things: the complete file, an
// unfinished download (`<file>.partial`), and the metadata recorded with them; and,
// while one process downloads it, that process's lock.
import type { ModelFile } from "./files.js";

export type CacheMeta =
  | {
      /** Bytes of the complete file, as the server announced it (undefined: it did not say). */
      size?: number;
      /** The server's ETag, sent back as If-Range when resuming. */
      etag?: string;
      /** Hex SHA-256 of the content, when the server gave one (the Hugging Face hub does for LFS files). */
      sha256?: string;
    }
  /** The server said the repository has no such file (optional files are asked for on every load). */
  | { absent: true };

/** One key in a cache listing (cache management: PaliGemma.cache). */
export interface CachedKey {
  key: string;
  /** Bytes of the complete file; undefined when there is none (an unfinished download, or only the hub's "no such file"). */
  size?: number;
  /** Bytes of the unfinished download, when there is one. */
  partial?: number;
  /** Where the file is, for people: a path on disk, or one in the origin private file system. */
  path: string;
}

export interface ModelCache {
  /** Where the cache lives, for messages. */
  readonly where: string;
  readMeta(key: string): Promise<CacheMeta | undefined>;
  writeMeta(key: string, meta: CacheMeta): Promise<void>;
  /** The complete file, undefined when there is none. */
  open(key: string): Promise<ModelFile | undefined>;
  /** The unfinished download, undefined when there is none. */
  openPartial(key: string): Promise<ModelFile | undefined>;
  /**
   * A writer that continues the unfinished download at byte `offset`, first cutting off
   * anything after it (0 starts afresh). close() keeps what was written, also after a
   * failed download: that is what the next load resumes from.
   */
  append(key: string, offset: number): Promise<WritableStream<Uint8Array>>;
  /** The unfinished download is complete and verified: make it the file. */
  commit(key: string): Promise<void>;
  /** Forgets the file, the unfinished download and the metadata. */
  delete(key: string): Promise<void>;
  /**
   * Takes the download of `key` for this process: the function that gives it back, or
   * undefined while another live process holds it. Caches that processes share (a folder)
   * have one, so two loads never write one `.partial`; a cache one process owns needs none.
   */
  lock?(key: string): Promise<(() => Promise<void>) | undefined>;
  /** Every key holding anything (a file, an unfinished download, metadata); for PaliGemma.cache. */
  list?(): Promise<CachedKey[]>;
  /** Removes the folders `prefix` ("owner/repo/revision") and those above it, where a delete left them empty. */
  prune?(prefix: string): Promise<void>;
}

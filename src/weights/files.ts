// Where a model's files come from. A model is a folder of files (config.json,
// model.safetensors or shards, tokenizer.json, ...) reached through one of:
// - a URL of the folder (fetched; bodies streamed, never buffered whole),
// - a map of file name -> Blob | File | ArrayBuffer | Uint8Array | URL string,
// - a local folder path, through the opener a runtime adapter registers (Node, Deno),
// - a Hugging Face hub repository, "owner/name" or "hf://owner/name" (hub.ts).
import { LoadError, PaliGemmaError } from "../errors.js";
import type { ModelCache } from "./cache.js";
import { checkFileName } from "./file-names.js";
import { hubFiles } from "./hub.js";
import { type LoadProgress, trackerOf, type TrackedOptions, type LoadTracker } from "./progress.js";
import { abortableBody, checkAborted, patience, patientBody, patientFetch } from "./stalls.js";

export interface ModelFile {
  /** Bytes, when known up front (Content-Length, Blob.size). */
  size?: number;
  stream(): ReadableStream<Uint8Array>;
}

export interface ModelFiles {
  /** Where the files come from, for messages. */
  readonly where: string;
  /** undefined when the file does not exist. */
  open(name: string): Promise<ModelFile | undefined>;
  /**
   * The file's bytes where the source knows them without a request (a folder, Blobs, a
   * cached hub file); null when there is no such file; undefined when it cannot tell.
   * Load progress uses it for its overall total before anything is read.
   */
  size?(name: string): Promise<number | null | undefined>;
}

export type FileContent = Blob | ArrayBuffer | Uint8Array | string | URL;
export type ModelSource = string | URL | Record<string, FileContent> | ModelFiles;

/** Opens a local folder, named by path or by file: URL. */
export type PathOpener = (folder: string | URL) => ModelFiles;
let pathOpener: PathOpener | undefined;
let isFolder: ((path: string) => boolean) | undefined;

/**
 * Runtime adapters with a file system (Node, Deno) register how to open a folder, and
 * how to tell whether one exists (so a local "owner/name" folder wins over the hub).
 */
export function setPathOpener(opener: PathOpener, folderExists?: (path: string) => boolean): void {
  pathOpener = opener;
  isFolder = folderExists;
}

export interface FetchOptions extends TrackedOptions {
  /**
   * Sent as `Authorization: Bearer <token>` (gated Hugging Face repositories). For hub
   * repositories the default is the HF_TOKEN environment variable (Node, Deno).
   */
  token?: string;
  fetch?: typeof fetch;
  /** Hub repositories: the branch, tag or commit. Default "main". */
  revision?: string;
  /** Hub repositories: the hub or a mirror with its URL layout. Default https://huggingface.co. */
  endpoint?: string;
  /**
   * Hub repositories: where downloads are kept. A folder (Node, Deno; default
   * `$XDG_CACHE_HOME/paligemma-edge` or `~/.cache/paligemma-edge`), a ModelCache (default in
   * browsers: the origin private file system), or false to stream without keeping anything.
   */
  cache?: string | ModelCache | false;
  /**
   * Load progress: per file, its stage (download, read, quantize, upload) and bytes, the
   * whole load's bytes in `overall`, and one "ready" at the end (see LoadProgress).
   */
  onProgress?: (p: LoadProgress) => void;
  /** Aborting stops the load: its next read fails with an AbortedError (code ABORTED). */
  signal?: AbortSignal;
  /**
   * URL and hub files: a request that gets no response, or a body that sends no bytes, for
   * this long fails with a LoadError naming the file and the byte it stalled at (a hub
   * download into a cache resumes from there on the next load). Default 30000; Infinity waits.
   */
  idleTimeoutMs?: number;
}

/** The wrappers guarded() made, with what they were made for. */
const guards = new WeakMap<ModelFiles, { signal?: AbortSignal; tracker: LoadTracker }>();

/**
 * Every open() of `files` checks its name first, every read the caller's signal, and
 * reads are counted for load progress.
 */
function guarded(files: ModelFiles, signal: AbortSignal | undefined, tracker: LoadTracker): ModelFiles {
  const made = guards.get(files);
  if (made && made.signal === signal && made.tracker === tracker) return files;
  const wrapped: ModelFiles = {
    where: files.where,
    async open(name) {
      checkAborted(signal);
      const file = await files.open(checkFileName(name, files.where));
      if (!file) {
        tracker.absent(name);
        return undefined;
      }
      tracker.opened(name, file.size);
      return { size: file.size, stream: () => tracker.counted(name, abortableBody(file.stream(), signal)) };
    },
  };
  if (files.size) wrapped.size = async (name) => files.size!(checkFileName(name, files.where));
  guards.set(wrapped, { signal, tracker });
  // The wrapper answers for the same files: what their server said (HTML pages) carries over.
  const html = htmlAnswers.get(files);
  if (html) htmlAnswers.set(wrapped, html);
  return wrapped;
}

/** "owner/name" is a hub repository, unless it names a local folder. */
const HUB_REPO_ID = /^[\w-][\w.-]*\/[\w.-]+$/;

/**
 * Names a server answered with an HTML page, per source. A dev server's SPA fallback (vite's)
 * answers every unknown path with index.html and status 200: for an optional file that is
 * "absent", for a required one a message that says so.
 */
const htmlAnswers = new WeakMap<ModelFiles, Set<string>>();

/** The error for a file the model cannot do without. */
export function missingFile(files: ModelFiles, name: string): LoadError {
  const html = htmlAnswers.get(files)?.has(name);
  const what = name.endsWith(".json") ? "JSON" : "the file";
  return new LoadError(
    html
      ? `${name} in ${files.where} got an HTML page, not ${what}: is the URL right? (a dev server answers unknown paths with its index.html)`
      : `${name} not found in ${files.where}`,
  );
}

const isHtml = (res: Response, url: string) =>
  /^text\/html\b/i.test(res.headers.get("content-type") ?? "") && !/\.html?$/i.test(new URL(url, "http://x").pathname);

function urlFile(url: string, opts: FetchOptions, onHtml?: () => void): () => Promise<ModelFile | undefined> {
  return async () => {
    const doFetch = opts.fetch ?? fetch;
    const p = patience(opts);
    const headers = opts.token ? { Authorization: `Bearer ${opts.token}` } : undefined;
    let res: Response;
    try {
      res = await patientFetch(p, url, (signal) => doFetch(url, { headers, signal }));
    } catch (e) {
      if (e instanceof PaliGemmaError) throw e;
      throw new LoadError(`could not fetch ${url}: ${(e as Error).message}`);
    }
    if (res.status === 404) return undefined;
    if (res.status === 401 || res.status === 403) {
      throw new LoadError(
        `${url} answered ${res.status}: the repository is gated or private; pass an access token (option token, or HF_TOKEN in Node/Deno) of an account that accepted its license`,
      );
    }
    if (!res.ok || !res.body) throw new LoadError(`could not fetch ${url}: HTTP ${res.status}`);
    if (isHtml(res, url)) {
      await res.body.cancel();
      onHtml?.();
      return undefined;
    }
    const len = Number(res.headers.get("content-length"));
    const size = Number.isFinite(len) && len > 0 ? len : undefined;
    const body = patientBody(res.body, p, (at, why) => new LoadError(`the download of ${url} broke off at byte ${at}${size === undefined ? "" : ` of ${size}`} (${why})`));
    return { size, stream: () => body };
  };
}

/** A file: URL, read from disk where the runtime has a file system (Node's fetch has no file: URLs). */
function localUrlFile(url: URL): (() => Promise<ModelFile | undefined>) | undefined {
  if (url.protocol !== "file:" || !pathOpener) return undefined;
  const name = decodeURIComponent(url.pathname.slice(url.pathname.lastIndexOf("/") + 1));
  const folder = pathOpener(new URL(".", url));
  return () => folder.open(name);
}

function contentFile(name: string, content: FileContent, opts: FetchOptions, onHtml: () => void): () => Promise<ModelFile | undefined> {
  if (content instanceof URL || (typeof content === "string" && content.startsWith("file:"))) {
    const url = new URL(content);
    return localUrlFile(url) ?? urlFile(url.href, opts, onHtml);
  }
  if (typeof content === "string") return urlFile(content, opts, onHtml);
  if (content instanceof Blob) return async () => ({ size: content.size, stream: () => content.stream() });
  if (content instanceof ArrayBuffer || content instanceof Uint8Array) {
    const bytes = content instanceof Uint8Array ? content : new Uint8Array(content);
    return async () => ({ size: bytes.length, stream: () => new Blob([bytes as Uint8Array<ArrayBuffer>]).stream() });
  }
  throw new LoadError(`file ${name}: expected a Blob, File, ArrayBuffer, Uint8Array or URL`);
}

export function resolveSource(source: ModelSource, opts: FetchOptions = {}): ModelFiles {
  return guarded(sourceFiles(source, opts), patience(opts).signal, trackerOf(opts).tracker);
}

function sourceFiles(source: ModelSource, opts: FetchOptions): ModelFiles {
  if (typeof source === "object" && source !== null && "open" in source && typeof source.open === "function") {
    return source as ModelFiles;
  }
  if ((source instanceof URL ? source.protocol === "file:" : typeof source === "string" && source.startsWith("file:")) && pathOpener) {
    return pathOpener(new URL(source as string | URL));
  }
  if (source instanceof URL || (typeof source === "string" && /^https?:\/\//.test(source))) {
    const base = String(source).replace(/\/?$/, "/");
    const html = new Set<string>();
    // Each part encoded: "?", "#" or "%2e%2e" in a name cannot change which URL is fetched.
    const files: ModelFiles = {
      where: base,
      open: (name) => urlFile(base + name.split("/").map(encodeURIComponent).join("/"), opts, () => html.add(name))(),
    };
    htmlAnswers.set(files, html);
    return files;
  }
  if (typeof source === "string" && source.startsWith("hf://")) return hubFiles(source.slice("hf://".length), opts);
  if (typeof source === "string" && HUB_REPO_ID.test(source) && !isFolder?.(source)) return hubFiles(source, opts);
  if (typeof source === "string") {
    if (!pathOpener) {
      throw new LoadError(
        `"${source}" looks like a local path, but this runtime has no file system adapter: use a URL or a map of files`,
      );
    }
    return pathOpener(source);
  }
  if (typeof source === "object" && source !== null) {
    const given = source as Record<string, FileContent>;
    const html = new Set<string>();
    const files: ModelFiles = {
      where: `the given files (${Object.keys(given).join(", ")})`,
      open: async (name) => (name in given ? contentFile(name, given[name], opts, () => html.add(name))() : undefined),
      // Blobs and bytes know their size; a URL would need a request.
      size: async (name) => {
        const content = given[name];
        if (!(name in given)) return null;
        return content instanceof Blob ? content.size : content instanceof ArrayBuffer || content instanceof Uint8Array ? content.byteLength : undefined;
      },
    };
    htmlAnswers.set(files, html);
    return files;
  }
  throw new LoadError(
    `unsupported model source ${String(source)}: expected a URL, a folder path, a hub repository id or a map of files`,
  );
}

export async function readText(files: ModelFiles, name: string): Promise<string | undefined> {
  const f = await files.open(name);
  return f && new Response(f.stream()).text();
}

export async function readJson(files: ModelFiles, name: string): Promise<Record<string, unknown> | undefined> {
  const text = await readText(files, name);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch (e) {
    // A server that sent a page without saying so in its content type.
    if (/^\s*</.test(text)) throw new LoadError(`${name} in ${files.where} got an HTML page, not JSON: is the URL right?`);
    throw new LoadError(`${name} in ${files.where} is not valid JSON: ${(e as Error).message}`);
  }
}

// Load progress: the events a load reports through `onProgress`, and the tracker that
// builds them. Per file, stages run in this order, each with its own loaded/total:
//   download  a hub file arriving in the cache (a resumed download starts at its offset)
//   read      the file's bytes read by the loader (a folder, Blob, URL body or cached file)
//   quantize  weights files with dtype q8/q4 on a float checkpoint: bytes of its tensors quantized
//   upload    weights files: bytes of its tensors the backend now holds (GPU buffers, WASM memory)
// and then one `ready`, the last event of a load. `overall` counts each file's bytes
// once (as they download, or, for a file not downloaded, as they are read), so its
// loaded never goes down and ends equal to its total: the sum of the load's file sizes.
// Sizes come up front where the source knows them without a request (folders, Blobs, a
// cached hub model); from a URL or a first download, each when its response arrives,
// and `overall.total` is undefined until every file's size is known.
import type { ModelFiles } from "./files.js";

export type LoadStage = "download" | "read" | "quantize" | "upload" | "ready";

export interface LoadProgress {
  stage: LoadStage;
  /** The file this event is about ("model-00001-of-00002.safetensors"); undefined for "ready". */
  file?: string;
  /** Bytes of this file through this stage (for "ready": overall.loaded). */
  loaded: number;
  /** This file's bytes for this stage (quantize/upload: of the tensors the model uses); undefined while not known. */
  total?: number;
  /** The whole load: every file's bytes, counted once. */
  overall: { loaded: number; total?: number };
}

/** Per (file, stage), at most one event this often, beside each stage's first and last. */
const MIN_INTERVAL_MS = 100;

/** The files a checkpoint load may read before its weights (checkpoint.ts). */
const CHECKPOINT_FILES = ["config.json", "generation_config.json", "model.safetensors.index.json"];

const TRACKER = Symbol.for("paligemma-edge.progress");

interface Tracked {
  /** Bytes, undefined while not known. */
  size?: number;
  /** Bytes downloaded or read, whichever is further. */
  loaded: number;
}

export class LoadTracker {
  private readonly files = new Map<string, Tracked>();
  /** Whether the list of weights files is known (from the index, or its absence). */
  private weightsKnown = false;
  private readonly lastEvent = new Map<string, number>();
  private readonly ended = new Set<string>();
  private done = false;

  constructor(private readonly listener: ((p: LoadProgress) => void) | undefined) {}

  /**
   * Notes the files a load will read (`extra` beside the checkpoint's, and the weights
   * files the index lists) with their sizes, before reading any, where `files` can tell
   * them without a request (ModelFiles.size); the others are learned as they are opened.
   */
  async plan(files: ModelFiles, extra: string[]): Promise<void> {
    if (!this.listener) return;
    await this.expect(files, [...extra, ...CHECKPOINT_FILES]);
    const index = this.files.get("model.safetensors.index.json");
    if (!index) return this.weights(files, ["model.safetensors"]);
    if (index.size === undefined) return;
    // Read here (again by the loader: it is small) for the shard names; a broken index is
    // the loader's to report, with its own message.
    const weightMap = await readIndex(files).catch(() => undefined);
    if (weightMap) await this.weights(files, [...new Set(Object.values(weightMap))]);
  }

  /** The weights files are these: once their sizes are known, so is the overall total. */
  async weights(files: ModelFiles, shards: string[]): Promise<void> {
    if (!this.listener) return;
    await this.expect(files, shards);
    this.weightsKnown = true;
  }

  private async expect(files: ModelFiles, names: string[]): Promise<void> {
    const fresh = names.filter((n) => !this.files.has(n));
    // A size the source cannot tell (or a name it refuses) is learned, or reported, when the file is opened.
    const sizes = await Promise.all(fresh.map((n) => files.size?.(n).catch(() => undefined)));
    fresh.forEach((name, i) => {
      if (sizes[i] !== null && !this.files.has(name)) this.files.set(name, { size: sizes[i], loaded: 0 });
    });
  }

  /** `name` was opened: it exists, with `size` bytes when the source says. */
  opened(name: string, size: number | undefined): void {
    const f = this.file(name);
    if (size !== undefined) f.size = size;
  }

  /** `name` does not exist (an optional file). */
  absent(name: string): void {
    if (this.files.get(name)?.loaded === 0) this.files.delete(name);
  }

  download(name: string, loaded: number, total: number | undefined): void {
    const f = this.file(name);
    if (total !== undefined) f.size = total;
    f.loaded = Math.max(f.loaded, loaded);
    this.emit("download", name, loaded, total);
  }

  /** One reader of `name` has read `loaded` bytes. */
  read(name: string, loaded: number): void {
    const f = this.file(name);
    f.loaded = Math.max(f.loaded, loaded);
    this.emit("read", name, loaded, f.size);
  }

  /** The loader is done with `name` (it may stop before trailing bytes it does not need). */
  readDone(name: string): void {
    const f = this.file(name);
    // A file whose size no one said (a body without Content-Length) is as long as what was read.
    if (f.size === undefined) f.size = f.loaded;
    f.loaded = f.size;
    this.emit("read", name, f.size, f.size);
  }

  /** Bytes of `name`'s tensors through quantization or upload, of `total`. */
  tensors(stage: "quantize" | "upload", name: string, loaded: number, total: number): void {
    this.emit(stage, name, loaded, total);
  }

  /** The load is complete: the one "ready" event. */
  ready(): void {
    if (this.done || !this.listener) return;
    const overall = this.overall();
    this.listener({ stage: "ready", loaded: overall.loaded, total: overall.total, overall });
    this.done = true;
  }

  /** `stream` of `name`, counted as it is read. */
  counted(name: string, stream: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
    if (!this.listener) return stream;
    let n = 0;
    return stream.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform: (chunk, out) => {
          n += chunk.length;
          this.read(name, n);
          out.enqueue(chunk);
        },
        // Read to its end: its last event (rate-limited away, or with no total to tell it was the last).
        flush: () => {
          if (this.files.get(name)?.size === undefined || this.files.get(name)!.size === n) this.readDone(name);
        },
      }),
    );
  }

  private file(name: string): Tracked {
    let f = this.files.get(name);
    if (!f) this.files.set(name, (f = { loaded: 0 }));
    return f;
  }

  private overall(): { loaded: number; total?: number } {
    let loaded = 0;
    let total: number | undefined = this.weightsKnown ? 0 : undefined;
    for (const f of this.files.values()) {
      loaded += f.size === undefined ? f.loaded : Math.min(f.loaded, f.size);
      total = f.size === undefined || total === undefined ? undefined : total + f.size;
    }
    return { loaded, total };
  }

  private emit(stage: Exclude<LoadStage, "ready">, file: string, loaded: number, total: number | undefined): void {
    if (this.done || !this.listener) return;
    const key = `${stage}\n${file}`;
    if (this.ended.has(key)) return;
    const last = total !== undefined && loaded >= total;
    const now = Date.now();
    const previous = this.lastEvent.get(key);
    if (previous !== undefined && !last && now - previous < MIN_INTERVAL_MS) return;
    this.lastEvent.set(key, now);
    if (last) this.ended.add(key);
    this.listener({ stage, file, loaded, total, overall: this.overall() });
  }
}

/** The index's weight_map when it is one (tensor name -> file name), else undefined. */
async function readIndex(files: ModelFiles): Promise<Record<string, string> | undefined> {
  const f = await files.open("model.safetensors.index.json");
  const index = f && (JSON.parse(await new Response(f.stream()).text()) as { weight_map?: unknown });
  const map = index?.weight_map;
  if (typeof map !== "object" || map === null || Array.isArray(map)) return undefined;
  return Object.values(map).every((v) => typeof v === "string") ? (map as Record<string, string>) : undefined;
}

/** What a load passes down so that every part reports to one tracker. */
export interface TrackedOptions {
  onProgress?: (p: LoadProgress) => void;
  [TRACKER]?: LoadTracker;
}

/**
 * The tracker of a load: the one its caller made (`own` false), or a new one for
 * `opts.onProgress` (`own` true: this call plans it and reports ready).
 */
export function trackerOf(opts: TrackedOptions): { tracker: LoadTracker; own: boolean } {
  const given = opts[TRACKER];
  return given ? { tracker: given, own: false } : { tracker: new LoadTracker(opts.onProgress), own: true };
}

/** `opts` with `tracker` for the parts of the load they reach. */
export function withTracker<T extends object>(opts: T, tracker: LoadTracker): T & TrackedOptions {
  return { ...opts, [TRACKER]: tracker };
}

/** `opts` for a read after the load (the mask decoder): it reports nothing. */
export function untracked<T extends TrackedOptions>(opts: T): T {
  return { ...opts, onProgress: undefined, [TRACKER]: undefined };
}

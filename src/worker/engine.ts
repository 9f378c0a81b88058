// A worker engine: the model loads and runs in a Web Worker (browsers, Deno) or a Node
// worker thread, and this side gets the same typed API as PaliGemma, streaming and
// AbortSignals included, so a page keeps drawing and a server keeps serving meanwhile.
//
// Images are transferred, not copied, where they can be: an ArrayBuffer or a typed array
// that owns its whole buffer, and ImageBitmaps, are detached on this side once sent (pass
// `bytes.slice()` to keep a copy). Canvases and <img> become ImageBitmaps first; a Request
// or Response is read here; paths and URLs are sent as they are.
import { DisposedError, InputError, LoadError } from "../errors.js";
import type { ImageInput } from "../image/input.js";
import { AbortedError } from "../errors.js";
import type { GenerationOptions } from "../tasks/generate.js";
import type { PaliGemma, PaliGemmaLoadOptions } from "../paligemma.js";
import type { ModelSource } from "../weights/files.js";
import { type Method, type MessagePortLike, OPTIONS_AT, ownBuffer, type Reply, reviveError } from "./protocol.js";

/** A PaliGemma in another thread: the same tasks, streaming and dispose; `device` and `backendInfo` say where it runs, `memory` the dtype and plan it loaded with. */
export type PaliGemmaEngine = Pick<
  PaliGemma, "caption" | "answer" | "ocr" | "detect" | "segment" | "stream" | "generate" | "dispose" | "device" | "backendInfo" | "memory"
>;

/** A Web Worker (browsers, Deno) or a node:worker_threads Worker running paligemma-edge/worker. */
export type WorkerLike = MessagePortLike & {
  terminate?(): unknown;
} & (
    | { addEventListener(type: "message", listener: (event: { data: unknown }) => void): void }
    | { on(type: "message", listener: (data: unknown) => void): unknown }
  );

/** A worker this module starts itself, and whether it may keep the process alive (Node). */
export interface SpawnedWorker {
  worker: WorkerLike;
  /** Node: the worker holds the process open only while a call is pending. */
  hold?(pending: boolean): void;
}

let spawn = (): SpawnedWorker => ({
  // A literal `new Worker(new URL(...), { type: "module" })`: bundlers (vite, webpack) bundle the worker from it.
  worker: new Worker(new URL("./worker.js", import.meta.url), { type: "module" }) as unknown as WorkerLike,
});

/** Runtime adapters without Web Workers (Node) start theirs (src/runtime/node.ts). */
export function setWorkerSpawner(start: () => SpawnedWorker): void {
  spawn = start;
}

const has = (name: string): boolean => typeof (globalThis as Record<string, unknown>)[name] === "function";
const instance = (x: unknown, name: string) => has(name) && x instanceof (globalThis as unknown as Record<string, new () => unknown>)[name];

/** What the worker can receive for `image`, and the buffers that move with it. */
async function sendable(image: unknown, transfer: unknown[]): Promise<unknown> {
  if (typeof image === "string") {
    // Relative to the page, not to the worker's script.
    const base = typeof document !== "undefined" ? document.baseURI : undefined;
    return base && !/^[a-z][a-z\d+.-]+:/i.test(image) ? new URL(image, base).href : image;
  }
  if (image instanceof URL) return image.href;
  if (instance(image, "Request")) image = await fetch(image as Request);
  if (instance(image, "Response")) {
    const res = image as Response;
    if (!res.ok) throw new InputError(`the image's Response is HTTP ${res.status}`);
    image = await res.arrayBuffer();
  }
  if (instance(image, "HTMLCanvasElement") || instance(image, "OffscreenCanvas") || instance(image, "HTMLImageElement")) {
    image = await createImageBitmap(image as ImageBitmapSource);
  }
  if (instance(image, "ImageBitmap")) {
    transfer.push(image);
    return image;
  }
  if (image instanceof ArrayBuffer || ArrayBuffer.isView(image)) {
    const own = ownBuffer(image);
    if (own) transfer.push(own);
    return own ? image : (image as Uint8Array).slice();
  }
  if (image && typeof image === "object" && "data" in image && !instance(image, "Blob")) {
    // ImageData and pixel objects: the plain fields, the pixels moved.
    const { width, height, data } = image as { width: number; height: number; data: Uint8Array };
    const own = ownBuffer(data);
    if (own) transfer.push(own);
    const pixels = own ? data : data.slice();
    return "channels" in image ? { width, height, channels: (image as { channels: number }).channels, data: pixels } : { width, height, data: pixels };
  }
  return image; // a Blob (cloned cheaply), or what the worker will refuse with its own error
}

/** A model source the worker can receive. */
function sendableSource(source: ModelSource): unknown {
  if (source instanceof URL) return source.href;
  if (typeof source === "string") return source;
  if (source && typeof source === "object" && "open" in source && typeof source.open === "function") {
    throw new InputError("a ModelFiles object cannot be sent to a worker: pass a URL, a path, a hub id or a map of files");
  }
  return Object.fromEntries(Object.entries(source).map(([name, f]) => [name, f instanceof URL ? f.href : f]));
}

/** Options without what cannot cross threads: functions and signals become flags, handled on this side. */
function sendableOptions(method: Method, o: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  if (!o) return undefined;
  const { signal, onProgress, fetch: _, ...rest } = o;
  if (method === "load") {
    for (const k of ["gpu", "cache"] as const) {
      if (rest[k] !== undefined && typeof rest[k] === "object" && rest[k] !== null) {
        throw new InputError(`option ${k} cannot be sent to a worker: ${k === "cache" ? "pass a folder name or false" : "let the worker pick its own device"}`);
      }
    }
    if (o.fetch !== undefined) throw new InputError("option fetch cannot be sent to a worker");
    if (rest.maskDecoder instanceof URL) rest.maskDecoder = rest.maskDecoder.href;
    delete rest.worker;
  }
  return { ...rest, ...(signal ? { signal: true } : {}), ...(onProgress ? { onProgress: true } : {}) };
}

type Pending = {
  resolve(value: unknown): void;
  reject(error: Error): void;
  progress?(p: unknown): void;
  piece?(text: string): void;
};

/**
 * Loads `source` in a worker and returns its engine. `worker: true` starts one
 * (paligemma-edge/worker, terminated by dispose()); a Worker you made runs there.
 */
export async function createWorkerEngine(
  source: ModelSource,
  opts: PaliGemmaLoadOptions & { worker?: boolean | WorkerLike } = {},
): Promise<PaliGemmaEngine> {
  const own = opts.worker === true || opts.worker === undefined ? spawn() : undefined;
  const worker = own?.worker ?? (opts.worker as WorkerLike);
  const pending = new Map<number, Pending>();
  let nextId = 1;
  let disposed = false;
  own?.hold?.(false);

  const onReply = (message: Reply) => {
    const p = pending.get(message.id);
    if (!p) return;
    if ("progress" in message) p.progress?.(message.progress);
    else if ("piece" in message) p.piece?.(message.piece);
    else {
      pending.delete(message.id);
      if (pending.size === 0) own?.hold?.(false);
      if ("error" in message) p.reject(reviveError(message.error));
      else p.resolve(message.value);
    }
  };
  // A worker that dies (its script failed to load, it ran out of memory) fails every pending call.
  const onError = (e: unknown) => {
    const why = (e as { message?: string })?.message ?? String(e);
    for (const [id, p] of pending) {
      pending.delete(id);
      p.reject(new LoadError(`the model's worker failed: ${why}`));
    }
    own?.hold?.(false);
  };
  if ("addEventListener" in worker) {
    worker.addEventListener("message", (e) => onReply(e.data as Reply));
    (worker as unknown as EventTarget).addEventListener("error", onError);
  } else {
    worker.on("message", (data) => onReply(data as Reply));
    (worker as unknown as { on(type: "error", l: (e: Error) => void): void }).on("error", onError);
  }

  async function call(method: Method, args: unknown[], hooks: Omit<Pending, "resolve" | "reject"> = {}): Promise<unknown> {
    if (disposed) throw new DisposedError("this PaliGemma worker engine");
    const id = nextId++;
    const at = OPTIONS_AT[method];
    const o = args[at] as (Record<string, unknown> & { signal?: AbortSignal; onProgress?: (p: unknown) => void }) | undefined;
    const transfer: unknown[] = [];
    const sent = [...args];
    if (method === "load") sent[0] = sendableSource(args[0] as ModelSource);
    else if (method !== "dispose") {
      sent[0] = Array.isArray(args[0]) ? await Promise.all(args[0].map((i) => sendable(i, transfer))) : await sendable(args[0], transfer);
    }
    if (at > 0) sent[at] = sendableOptions(method, o);
    if (o?.signal?.aborted) throw new AbortedError();
    return new Promise((resolve, reject) => {
      pending.set(id, { resolve, reject, progress: o?.onProgress, ...hooks });
      if (pending.size === 1) own?.hold?.(true);
      o?.signal?.addEventListener("abort", () => worker.postMessage({ id, abort: true }), { once: true });
      worker.postMessage({ id, method, args: sent }, transfer);
    });
  }

  let loaded: Pick<PaliGemmaEngine, "device" | "backendInfo" | "memory">;
  try {
    loaded = (await call("load", [source, opts])) as typeof loaded;
  } catch (e) {
    own?.worker.terminate?.();
    throw e;
  }

  const task =
    (method: Method) =>
    (...args: unknown[]) =>
      call(method, args);

  return {
    device: loaded.device,
    memory: loaded.memory,
    backendInfo: loaded.backendInfo,
    caption: task("caption"),
    answer: task("answer"),
    ocr: task("ocr"),
    detect: task("detect"),
    segment: task("segment"),
    generate: task("generate"),
    async *stream(image: ImageInput, prompt: string, o: GenerationOptions = {}) {
      // Pieces arrive as messages; this generator hands them out in order.
      const queue: string[] = [];
      let wake: (() => void) | undefined;
      let finished = false;
      let failure: Error | undefined;
      const controller = new AbortController();
      o.signal?.addEventListener("abort", () => controller.abort(o.signal!.reason), { once: true });
      const done = call("stream", [image, prompt, { ...o, signal: controller.signal }], {
        piece: (text) => {
          queue.push(text);
          wake?.();
        },
      }).then(
        () => void (finished = true),
        (e: Error) => void ((finished = true), (failure = e)),
      );
      void done.then(() => wake?.());
      try {
        for (;;) {
          if (queue.length) yield queue.shift()!;
          else if (finished) break;
          else await new Promise<void>((r) => (wake = r));
        }
        if (failure) throw failure;
      } finally {
        // A caller that stops early (break) stops the generation in the worker too.
        if (!finished) controller.abort();
      }
    },
    dispose() {
      if (disposed) return;
      void call("dispose", []).finally(() => own?.worker.terminate?.());
      disposed = true;
    },
  } as PaliGemmaEngine;
}

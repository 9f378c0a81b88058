// The messages between a worker engine (engine.ts, the calling side) and the model's
// thread (serve.ts), and what crosses between them: images and results travel by
// transfer where they can, errors as their fields and come back as the same classes.
//
// calling side -> worker: { id, method, args } runs `method` ("load" first, then a task);
//                         { id, abort: true } aborts call `id` (its AbortSignal fired).
// worker -> calling side: { id, progress } (load), { id, piece } (stream),
//                         { id, value } (done), { id, error } (failed).
import { NoWebGPUError } from "../backends/select.js";
import { DeviceLostError, GPUOutOfMemoryError } from "../backends/webgpu/errors.js";
import * as errors from "../errors.js";
import { AbortedError } from "../errors.js";

export type Method = "load" | "caption" | "answer" | "ocr" | "detect" | "segment" | "stream" | "generate" | "dispose";

/** Where each method's options are in its arguments. */
export const OPTIONS_AT: Record<Method, number> = {
  load: 1,
  caption: 1,
  answer: 2,
  ocr: 1,
  detect: 2,
  segment: 2,
  stream: 2,
  generate: 2,
  dispose: 0,
};

export type Request = { id: number; method: Method; args: unknown[] } | { id: number; abort: true };

export type Reply =
  | { id: number; progress: unknown }
  | { id: number; piece: string }
  | { id: number; value: unknown }
  | { id: number; error: SentError };

/** A Web Worker, a Node worker_threads Worker, or the worker's own end (self, parentPort). */
export interface MessagePortLike {
  // readonly any[]: a Web Worker takes Transferable[], Node's worker_threads readonly TransferListItem[].
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  postMessage(message: unknown, transfer?: readonly any[]): void;
}

/** What a thrown error keeps across threads. */
export interface SentError {
  name: string;
  message: string;
  code?: string;
  stack?: string;
  /** Its other own fields (OutOfMemoryError's neededBytes, ...). */
  fields: Record<string, unknown>;
}

export function sendError(e: unknown): SentError {
  if (!(e instanceof Error)) return { name: "Error", message: String(e), fields: {} };
  const { name, message, stack, ...fields } = e as Error & Record<string, unknown>;
  const code = typeof fields.code === "string" ? fields.code : undefined;
  delete fields.code;
  return { name, message, code, stack, fields: JSON.parse(JSON.stringify(fields)) as Record<string, unknown> };
}

type ErrorClass = { prototype: Error };
/** By code, which a minifier leaves alone (it renames classes, differently in each bundle). */
const BY_CODE = new Map<string, ErrorClass>([
  ["INVALID_CONFIG", errors.ConfigError],
  ["INVALID_WEIGHTS", errors.WeightsError],
  ["LOAD_FAILED", errors.LoadError],
  ["AUTH_REQUIRED", errors.AuthError],
  ["INVALID_INPUT", errors.InputError],
  ["DISPOSED", errors.DisposedError],
  ["INVALID_IMAGE", errors.ImageError],
  ["IMAGE_TOO_LARGE", errors.ImageTooLargeError],
  ["UNSUPPORTED_IMAGE_FORMAT", errors.UnsupportedImageFormatError],
  ["INVALID_TOKENIZER", errors.TokenizerError],
  ["NO_WEBGPU", NoWebGPUError],
  ["DEVICE_LOST", DeviceLostError],
  ["ABORTED", AbortedError],
  ["THREAD_FAILED", errors.ThreadError],
]);

function classOf(sent: SentError): ErrorClass {
  if (sent.code === undefined) return Error;
  // Two classes share OUT_OF_MEMORY: the WASM heap's carries the sizes.
  if (sent.code === "OUT_OF_MEMORY") return "neededBytes" in sent.fields ? errors.OutOfMemoryError : GPUOutOfMemoryError;
  return BY_CODE.get(sent.code) ?? errors.PaliGemmaError;
}

/** The error as the worker threw it: same class (so instanceof and `code` work), message and fields. */
export function reviveError(sent: SentError): Error {
  const e = Object.setPrototypeOf(new Error(sent.message), classOf(sent).prototype) as Error & Record<string, unknown>;
  Object.assign(e, sent.fields, sent.code ? { code: sent.code } : {}, { name: sent.name });
  if (sent.stack) e.stack = sent.stack;
  return e;
}

/** The buffers of typed arrays and ArrayBuffers that own all of their memory: transferable without taking a neighbour's. */
export function ownBuffer(x: unknown): ArrayBuffer | undefined {
  if (x instanceof ArrayBuffer) return x;
  if (ArrayBuffer.isView(x) && x.buffer instanceof ArrayBuffer && x.byteOffset === 0 && x.byteLength === x.buffer.byteLength) {
    return x.buffer;
  }
  return undefined;
}

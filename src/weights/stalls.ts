// Reads that give up. A server that never answers, or stops sending mid-body, would
// make a load wait forever: each network request and each body read races an idle
// timer (no response, or no bytes, for `idleTimeoutMs`), and every read of any source
// races the caller's AbortSignal.
import { AbortedError, InputError, LoadError } from "../errors.js";

export const DEFAULT_IDLE_TIMEOUT_MS = 30_000;

export interface Patience {
  /** Give up after this long without a response or a byte. */
  idleTimeoutMs: number;
  signal?: AbortSignal;
}

/** The options as given, checked; defaults filled. */
export function patience(o: { idleTimeoutMs?: number; signal?: AbortSignal }): Patience {
  const idleTimeoutMs = o.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
  if (typeof idleTimeoutMs !== "number" || !(idleTimeoutMs > 0)) {
    throw new InputError(`idleTimeoutMs must be a number of milliseconds above 0 (Infinity: wait forever), got ${JSON.stringify(o.idleTimeoutMs)}`);
  }
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) throw new InputError("signal must be an AbortSignal");
  return { idleTimeoutMs, signal: o.signal };
}

const seconds = (ms: number) => `${+(ms / 1000).toFixed(3)} s`;

/** Throws an AbortedError when the load was aborted. */
export function checkAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AbortedError("loading");
}

/** Why a body stopped: carried to the caller's message ("no bytes for 30 s"). */
class Stalled extends Error {}

/**
 * Runs `start` (which gets a signal to pass to fetch) until it has a response: an abort,
 * or no response within the idle timeout, ends it.
 */
export async function patientFetch(p: Patience, url: string, start: (signal: AbortSignal) => Promise<Response>): Promise<Response> {
  checkAborted(p.signal);
  const controller = new AbortController();
  const abort = () => controller.abort();
  p.signal?.addEventListener("abort", abort);
  let timedOut = false;
  const timer = Number.isFinite(p.idleTimeoutMs)
    ? setTimeout(() => {
        timedOut = true;
        controller.abort();
      }, p.idleTimeoutMs)
    : undefined;
  try {
    return await start(controller.signal);
  } catch (e) {
    checkAborted(p.signal);
    if (timedOut) {
      throw new LoadError(`${url} sent no response for ${seconds(p.idleTimeoutMs)} (the idleTimeoutMs option); loading again retries`);
    }
    throw e;
  } finally {
    clearTimeout(timer);
    p.signal?.removeEventListener("abort", abort);
  }
}

/**
 * `body`, failing with `fail(bytesPassed, why)` when it breaks off or no bytes arrive for
 * the idle timeout, and with an AbortedError when the signal aborts.
 */
export function patientBody(
  body: ReadableStream<Uint8Array>,
  p: Patience,
  fail: (passed: number, why: string) => Error,
): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  let passed = 0;
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        let timer: ReturnType<typeof setTimeout> | undefined;
        let onAbort: (() => void) | undefined;
        const gaveUp = new Promise<never>((_, reject) => {
          if (Number.isFinite(p.idleTimeoutMs)) {
            timer = setTimeout(() => reject(new Stalled(`no bytes arrived for ${seconds(p.idleTimeoutMs)}`)), p.idleTimeoutMs);
          }
          onAbort = () => reject(new AbortedError("loading"));
          if (p.signal?.aborted) onAbort();
          p.signal?.addEventListener("abort", onAbort);
        });
        try {
          const { done, value } = await Promise.race([reader.read(), gaveUp]);
          if (done) {
            controller.close();
          } else {
            passed += value.length;
            controller.enqueue(value);
          }
        } catch (e) {
          reader.cancel().catch(() => {});
          controller.error(e instanceof AbortedError ? e : fail(passed, (e as Error).message));
        } finally {
          clearTimeout(timer);
          p.signal?.removeEventListener("abort", onAbort!);
        }
      },
      cancel: (reason) => reader.cancel(reason),
    },
    { highWaterMark: 0 },
  );
}

/** `body` (a local file, a Blob), failing with an AbortedError once the signal aborts. */
export function abortableBody(body: ReadableStream<Uint8Array>, signal: AbortSignal | undefined): ReadableStream<Uint8Array> {
  if (!signal) return body;
  const reader = body.getReader();
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          checkAborted(signal);
          const { done, value } = await reader.read();
          if (done) controller.close();
          else controller.enqueue(value);
        } catch (e) {
          reader.cancel().catch(() => {});
          controller.error(e);
        }
      },
      cancel: (reason) => reader.cancel(reason),
    },
    { highWaterMark: 0 },
  );
}

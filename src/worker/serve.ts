// The model's own thread: loads a PaliGemma and runs the calls a worker engine
// (engine.ts) sends, so the calling thread (a page's, a server's event loop) stays free.
// Results go back by transfer: masks and token ids are not copied.
import { PaliGemma } from "../paligemma.js";
import { InputError } from "../errors.js";
import { type Method, type MessagePortLike, OPTIONS_AT, ownBuffer, type Reply, type Request, sendError } from "./protocol.js";

/** Buffers in a result that can move instead of being copied. */
function buffersOf(value: unknown, found: ArrayBuffer[] = []): ArrayBuffer[] {
  const own = ownBuffer(value);
  if (own) {
    if (!found.includes(own)) found.push(own);
  } else if (value && typeof value === "object" && !ArrayBuffer.isView(value)) {
    for (const v of Object.values(value)) buffersOf(v, found);
  }
  return found;
}

/**
 * Serves calls arriving through `listen` and answers on `port`: `self` in a Web Worker,
 * `parentPort` in a Node worker thread.
 */
export function serveModel(port: MessagePortLike, listen: (handle: (request: Request) => void) => void): void {
  let pg: PaliGemma | undefined;
  const aborts = new Map<number, AbortController>();
  const reply = (message: Reply, transfer: ArrayBuffer[] = []) => port.postMessage(message, transfer);

  async function run(id: number, method: Method, args: unknown[], signal: AbortSignal): Promise<unknown> {
    const at = OPTIONS_AT[method];
    const o = args[at] as Record<string, unknown> | undefined;
    // The caller's signal and progress callback stay on its side; they arrive as flags.
    if (o?.signal) args[at] = { ...o, signal };
    if (method === "load") {
      const options = { ...(args[at] as object), onProgress: o?.onProgress ? (progress: unknown) => reply({ id, progress }) : undefined };
      pg?.dispose();
      pg = await PaliGemma.load(args[0] as string, options);
      return { device: pg.device, backendInfo: pg.backendInfo, memory: pg.memory };
    }
    if (!pg) throw new InputError(`${method} before the model was loaded`);
    if (method === "dispose") {
      pg.dispose();
      pg = undefined;
      return undefined;
    }
    if (method === "stream") {
      for await (const piece of pg.stream(...(args as Parameters<PaliGemma["stream"]>))) reply({ id, piece });
      return undefined;
    }
    return (pg[method] as (...a: unknown[]) => Promise<unknown>)(...args);
  }

  listen(async (request) => {
    if ("abort" in request) {
      aborts.get(request.id)?.abort();
      return;
    }
    const { id, method, args } = request;
    const controller = new AbortController();
    aborts.set(id, controller);
    try {
      const value = await run(id, method, args, controller.signal);
      reply({ id, value }, buffersOf(value));
    } catch (e) {
      reply({ id, error: sendError(e) });
    } finally {
      aborts.delete(id);
    }
  });
}

// The WASM backend's thread pool. The backend's module (cpu-mt.wasm, the kernels on an
// imported shared WebAssembly.Memory) is instantiated once on the calling thread and
// once in each of threads - 1 workers, all on the same memory, so a kernel call on any
// thread reads and writes the backend's buffers directly. An op is split into shares
// (output features of a linear, query rows of attention) and each thread runs the
// kernel on its own share; thread 0 is the caller.
//
// Per op, one barrier through a control block in the shared memory (Int32 header,
// then one row of f64 arguments per thread, then an error text):
//   the caller writes each worker's arguments, bumps GEN and notifies; each worker
//   wakes (Atomics.wait on GEN), runs exports[names[OP]](...its row), adds 1 to DONE
//   and notifies; the caller runs share 0, then waits until DONE = threads - 1.
// The atomics order every plain store before them (arguments, kernel outputs) before
// anything after them on the other side, as the JS memory model guarantees for
// sequentially consistent atomics.
//
// Failure never hangs a call: a worker catches whatever its kernel throws (a trap)
// and reports it in the block; a worker that exits, or stops answering for
// `timeoutMs`, breaks the pool. Either way the call throws a ThreadError and every
// later call does too. Workers are unref'd (Node) and ended by dispose().
import { ThreadError } from "../../errors.js";

/** What the pool needs of a worker, whatever runtime made it. */
export interface ThreadHost {
  post(message: unknown): void;
  onMessage(f: (message: unknown) => void): void;
  /** The worker died (an uncaught error, or it exited). */
  onExit(f: (why: string) => void): void;
  /** Lets the runtime exit while the worker idles (Node); called once it has started. */
  unref?(): void;
  terminate(): void;
}

/**
 * Starts a worker running `body`, a function source taking a port
 * `{ on(f), post(m), close() }`. Runtimes replace the default (Web Workers from a
 * blob URL: browsers, Deno); Node's entry installs worker_threads.
 */
export type ThreadSpawner = (body: string) => ThreadHost;

let spawner: ThreadSpawner | undefined = webThreadSpawner();
let parallelism = () => (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency ?? 1;

/** Replaces how workers are made, and how many cores there are (threads: "auto"). */
export function setThreadSpawner(s: ThreadSpawner | undefined, cores?: () => number): void {
  spawner = s;
  if (cores) parallelism = cores;
}

/** The cores "auto" may use. */
export function workerParallelism(): number {
  return parallelism();
}

function webThreadSpawner(): ThreadSpawner | undefined {
  if (typeof Worker === "undefined" || typeof Blob === "undefined" || typeof URL.createObjectURL !== "function") return undefined;
  return (body) => {
    const source = `const port = { on: (f) => { self.onmessage = (e) => f(e.data); }, post: (m) => self.postMessage(m), close: () => self.close() };
(${body})(port);`;
    const url = URL.createObjectURL(new Blob([source], { type: "text/javascript" }));
    const w = new Worker(url, { type: "module" });
    URL.revokeObjectURL(url);
    return {
      post: (m) => w.postMessage(m),
      onMessage: (f) => w.addEventListener("message", (e) => f((e as MessageEvent).data)),
      onExit: (f) => w.addEventListener("error", (e) => f((e as ErrorEvent).message || "error")),
      terminate: () => w.terminate(),
    };
  };
}

/** Why this runtime cannot run threads, or null when it can. */
export function threadsUnavailable(): string | null {
  if (typeof SharedArrayBuffer === "undefined") {
    return "SharedArrayBuffer is not available (a browser page must be crossOriginIsolated: serve it with COOP/COEP headers)";
  }
  if ((globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === false) {
    return "the page is not crossOriginIsolated (serve it with COOP: same-origin and COEP: require-corp)";
  }
  if (!spawner) return "this runtime has no workers";
  return null;
}

// Control block layout (Int32 indices, then bytes).
const GEN = 0;
const DONE = 1;
const ERR = 2;
const OP = 3;
const NARGS = 4;
const HEADER_BYTES = 64;
/** f64 arguments per thread. */
const MAX_ARGS = 16;
const ERROR_BYTES = 512;

export const controlBlockBytes = (threads: number) => HEADER_BYTES + threads * MAX_ARGS * 8 + ERROR_BYTES;

interface Layout {
  GEN: number;
  DONE: number;
  ERR: number;
  OP: number;
  NARGS: number;
  argsAt: number;
  maxArgs: number;
  errorAt: number;
  errorBytes: number;
}

/** A worker's life: instantiate, report ready, then serve ops until OP < 0. Runs as source text. */
function workerMain(port: { on(f: (m: unknown) => void): void; post(m: unknown): void; close(): void }): void {
  port.on(async (message) => {
    const { module, memory, index, control, names, layout } = message as {
      module: WebAssembly.Module;
      memory: WebAssembly.Memory;
      index: number;
      control: number;
      names: string[];
      layout: Layout;
    };
    let exports: Record<string, (...args: number[]) => unknown>;
    try {
      const instance = await WebAssembly.instantiate(module, {
        env: {
          memory,
          abort: () => {
            throw new Error("abort");
          },
        },
      });
      exports = instance.exports as typeof exports;
      exports.setThread(index);
    } catch (e) {
      port.post({ error: String(e) });
      return;
    }
    const L = layout;
    const head = new Int32Array(memory.buffer, control, 16);
    const args = new Float64Array(memory.buffer, control + L.argsAt + index * L.maxArgs * 8, L.maxArgs);
    const text = new Uint8Array(memory.buffer, control + L.errorAt, L.errorBytes);
    // Read before reporting ready: the first op may bump GEN as soon as every worker is.
    let gen = Atomics.load(head, L.GEN);
    port.post({ ready: true });
    for (;;) {
      Atomics.wait(head, L.GEN, gen);
      gen = Atomics.load(head, L.GEN);
      const op = head[L.OP];
      if (op < 0) break;
      try {
        exports[names[op]](...Array.from(args.subarray(0, head[L.NARGS])));
      } catch (e) {
        if (Atomics.compareExchange(head, L.ERR, 0, index) === 0) {
          const bytes = new TextEncoder().encode(`thread ${index}: ${names[op]}: ${e instanceof Error ? e.message : String(e)}`);
          text.fill(0);
          text.set(bytes.subarray(0, L.errorBytes - 1));
        }
      }
      Atomics.add(head, L.DONE, 1);
      Atomics.notify(head, L.DONE);
    }
    port.close();
  });
}

export interface ThreadPoolOptions {
  /** How long a worker may take past the caller's own share before the pool counts it dead. */
  timeoutMs?: number;
}

export class ThreadPool {
  private readonly head: Int32Array;
  private readonly args: Float64Array;
  private broken: string | null = null;
  private canBlock = true;
  private readonly timeoutMs: number;

  private constructor(
    readonly size: number,
    private readonly memory: WebAssembly.Memory,
    private readonly control: number,
    private readonly names: readonly string[],
    private readonly workers: ThreadHost[],
    opts: ThreadPoolOptions,
  ) {
    this.head = new Int32Array(memory.buffer, control, 16);
    this.args = new Float64Array(memory.buffer, control + HEADER_BYTES, size * MAX_ARGS);
    this.timeoutMs = opts.timeoutMs ?? 60_000;
    for (const w of workers) {
      w.onExit((why) => (this.broken ??= `a worker thread stopped (${why})`));
      w.unref?.(); // after the last listener: adding one refs a Node worker again
    }
  }

  /**
   * `threads - 1` workers on `memory`, each instantiating `module`; `control` is
   * controlBlockBytes(threads) bytes of that memory; `names` the kernels ops may name.
   */
  static async start(
    module: WebAssembly.Module, memory: WebAssembly.Memory, control: number, threads: number, names: readonly string[],
    opts: ThreadPoolOptions = {},
  ): Promise<ThreadPool> {
    if (!spawner) throw new ThreadError(`cannot start WASM threads: ${threadsUnavailable()}`);
    const spawn = spawner;
    new Int32Array(memory.buffer, control, controlBlockBytes(threads) / 4).fill(0);
    const layout: Layout = {
      GEN, DONE, ERR, OP, NARGS, argsAt: HEADER_BYTES, maxArgs: MAX_ARGS,
      errorAt: HEADER_BYTES + threads * MAX_ARGS * 8, errorBytes: ERROR_BYTES,
    };
    const workers: ThreadHost[] = [];
    try {
      await Promise.all(
        Array.from({ length: threads - 1 }, (_, i) => {
          const w = spawn(workerMain.toString());
          workers.push(w);
          return new Promise<void>((resolve, reject) => {
            w.onMessage((m) => {
              const msg = m as { ready?: boolean; error?: string };
              if (msg.ready) resolve();
              else reject(new ThreadError(`WASM worker ${i + 1} could not start: ${msg.error}`));
            });
            w.onExit((why) => reject(new ThreadError(`WASM worker ${i + 1} could not start: ${why}`)));
            w.post({ module, memory, index: i + 1, control, names: [...names], layout });
          });
        }),
      );
    } catch (e) {
      for (const w of workers) w.terminate();
      throw e;
    }
    return new ThreadPool(threads, memory, control, names, workers, opts);
  }

  /**
   * Runs kernel `names[op]` once per thread with `argsOf(t)` (at most 16 numbers):
   * workers 1.. first, then share 0 here through `local`; returns when all are done.
   */
  run(op: number, argsOf: (t: number) => number[], local: (args: number[]) => void): void {
    if (this.broken) throw new ThreadError(`the WASM thread pool is broken: ${this.broken}`);
    const head = this.head;
    for (let t = 1; t < this.size; t++) {
      const a = argsOf(t);
      if (a.length > MAX_ARGS) throw new Error(`${this.names[op]}: ${a.length} arguments, the pool passes ${MAX_ARGS}`);
      this.args.set(a, t * MAX_ARGS);
      if (t === 1) head[NARGS] = a.length;
    }
    head[OP] = op;
    Atomics.store(head, DONE, 0);
    Atomics.add(head, GEN, 1);
    Atomics.notify(head, GEN);
    let failure: unknown;
    try {
      local(argsOf(0));
    } catch (e) {
      failure = e;
    }
    this.await(this.size - 1);
    if (failure) throw failure;
    const bad = Atomics.load(head, ERR);
    if (bad) {
      const bytes = new Uint8Array(this.memory.buffer, this.control + HEADER_BYTES + this.size * MAX_ARGS * 8, ERROR_BYTES);
      const text = new TextDecoder().decode(bytes.slice(0, bytes.indexOf(0) < 0 ? ERROR_BYTES : bytes.indexOf(0)));
      this.broken = text;
      throw new ThreadError(`a WASM worker thread failed: ${text}`);
    }
  }

  /** Waits for `n` workers: spins briefly, then sleeps in slices where this thread may block (not a browser's main thread). */
  private await(n: number): void {
    const head = this.head;
    const deadline = performance.now() + this.timeoutMs;
    for (let spins = 0; ; spins++) {
      const done = Atomics.load(head, DONE);
      if (done >= n) return;
      if (spins < 1000) continue;
      if (this.canBlock) {
        try {
          Atomics.wait(head, DONE, done, 20);
        } catch {
          this.canBlock = false;
        }
      }
      if (performance.now() > deadline) {
        this.broken = `a worker thread did not answer for ${this.timeoutMs} ms`;
        throw new ThreadError(`the WASM thread pool is broken: ${this.broken}`);
      }
    }
  }

  /** Ends every worker; the pool cannot be used after. */
  dispose(): void {
    this.broken ??= "it was disposed";
    this.head[OP] = -1;
    Atomics.add(this.head, GEN, 1);
    Atomics.notify(this.head, GEN);
    for (const w of this.workers) w.terminate();
    this.workers.length = 0;
  }
}

/** Thread t's share [lo, hi) of [0, total), in multiples of `align` (the last share takes the rest). */
export function share(total: number, threads: number, align: number, t: number): [number, number] {
  const chunk = Math.ceil(total / threads / align) * align;
  return [Math.min(total, t * chunk), Math.min(total, (t + 1) * chunk)];
}

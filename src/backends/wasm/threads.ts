// The WASM backend's thread pool. The backend's module (cpu-mt.wasm, the kernels on an
// imported shared WebAssembly.Memory) is instantiated once on the calling thread and
// once in each of threads - 1 workers, all on the same memory, so a kernel call on any
// thread reads and writes the backend's buffers directly. An op's range (output
// features of a linear, query rows of attention) is cut into chunks that threads claim
// one at a time; thread 0 is the caller, which claims too.
//
// Per op, through a control block in the shared memory (Int32 header, then one row of
// f64 arguments per thread, then an error text):
//   the caller writes each thread's arguments (its own scratch among them) and the
//   chunking, publishes TICKET = (generation << 16 | 0), bumps GEN and notifies;
//   every thread, the caller included, claims chunk c by a compareExchange of TICKET
//   from (generation, c) to (generation, c + 1), runs exports[names[OP]] on its row with
//   the chunk's [lo, hi), and adds 1 to FINISHED; the caller, once no chunk is left,
//   waits until FINISHED = CHUNKS.
// So a worker that wakes late (a busy machine, a slow core) costs nothing: the others
// take its chunks, and it finds none, or the next op's, whose generation it checks
// before it reads that op's arguments. The atomics order every plain store before them
// (arguments, kernel outputs) before anything after them on the other side, as the JS
// memory model guarantees for sequentially consistent atomics.
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
const FINISHED = 1;
const ERR = 2;
const OP = 3;
const NARGS = 4;
/** (generation & 0xffff) << 16 | next unclaimed chunk. */
const TICKET = 5;
const CHUNKS = 6;
/** Chunk c covers [c · CHUNK, min(TOTAL, (c + 1) · CHUNK)), passed as arguments LO_AT and LO_AT + 1. */
const CHUNK = 7;
const TOTAL = 8;
const LO_AT = 9;
const HEADER_BYTES = 64;
/** f64 arguments per thread. */
const MAX_ARGS = 16;
const ERROR_BYTES = 512;
/** How long an idle worker looks for the next op before it sleeps. */
const SPIN_MS = 2;

export const controlBlockBytes = (threads: number) => HEADER_BYTES + threads * MAX_ARGS * 8 + ERROR_BYTES;

interface Layout {
  GEN: number;
  FINISHED: number;
  ERR: number;
  OP: number;
  NARGS: number;
  TICKET: number;
  CHUNKS: number;
  CHUNK: number;
  TOTAL: number;
  LO_AT: number;
  argsAt: number;
  maxArgs: number;
  errorAt: number;
  errorBytes: number;
  spinMs: number;
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
      // Ops come back to back in a forward pass, with the caller's own small ops (norms,
      // rotary, sampling) between them: look for the next one for up to SPIN_MS before
      // sleeping, since waking from Atomics.wait costs tens of microseconds to a millisecond.
      const until = performance.now() + L.spinMs;
      for (let spin = 0; Atomics.load(head, L.GEN) === gen; spin++) {
        if ((spin & 1023) === 0 && performance.now() > until) break;
      }
      Atomics.wait(head, L.GEN, gen);
      gen = Atomics.load(head, L.GEN);
      const op = head[L.OP];
      if (op < 0) break;
      const tag = (gen & 0xffff) << 16;
      for (;;) {
        const t = Atomics.load(head, L.TICKET);
        if ((t & ~0xffff) !== tag || (t & 0xffff) >= head[L.CHUNKS]) break; // this op's chunks are all taken
        // Read after seeing this op's ticket, so they are this op's.
        const [name, n, chunk, total, at] = [names[head[L.OP]], head[L.NARGS], head[L.CHUNK], head[L.TOTAL], head[L.LO_AT]];
        const a = Array.from(args.subarray(0, n));
        if (Atomics.compareExchange(head, L.TICKET, t, t + 1) !== t) continue;
        const c = t & 0xffff;
        a[at] = c * chunk;
        a[at + 1] = Math.min(total, (c + 1) * chunk);
        try {
          exports[name](...a);
        } catch (e) {
          if (Atomics.compareExchange(head, L.ERR, 0, index) === 0) {
            const bytes = new TextEncoder().encode(`thread ${index}: ${name}: ${e instanceof Error ? e.message : String(e)}`);
            text.fill(0);
            text.set(bytes.subarray(0, L.errorBytes - 1));
          }
        }
        Atomics.add(head, L.FINISHED, 1);
        Atomics.notify(head, L.FINISHED);
      }
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
      GEN, FINISHED, ERR, OP, NARGS, TICKET, CHUNKS, CHUNK, TOTAL, LO_AT, argsAt: HEADER_BYTES, maxArgs: MAX_ARGS,
      errorAt: HEADER_BYTES + threads * MAX_ARGS * 8, errorBytes: ERROR_BYTES, spinMs: SPIN_MS,
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
   * Runs kernel `names[op]` over [0, total) in chunks of `chunk` (the last one shorter):
   * thread t calls it with `rowOf(t)` (at most 16 numbers), whose elements loAt and
   * loAt + 1 are replaced by each chunk's [lo, hi); here through `local`. Returns when
   * every chunk is done.
   */
  run(op: number, rowOf: (t: number) => number[], loAt: number, total: number, chunk: number, local: (args: number[]) => void): void {
    if (this.broken) throw new ThreadError(`the WASM thread pool is broken: ${this.broken}`);
    const head = this.head;
    const chunks = Math.ceil(total / chunk);
    // Below 0xffff: the caller's claims may run one past the last chunk, and must not carry into the tag.
    if (chunks >= 0xffff) throw new Error(`${this.names[op]}: ${chunks} chunks, the pool counts fewer than ${0xffff}`);
    const own = rowOf(0);
    for (let t = 1; t < this.size; t++) {
      const a = rowOf(t);
      if (a.length > MAX_ARGS) throw new Error(`${this.names[op]}: ${a.length} arguments, the pool passes ${MAX_ARGS}`);
      this.args.set(a, t * MAX_ARGS);
    }
    const gen = (head[GEN] + 1) | 0;
    head[OP] = op;
    head[NARGS] = own.length;
    head[CHUNKS] = chunks;
    head[CHUNK] = chunk;
    head[TOTAL] = total;
    head[LO_AT] = loAt;
    Atomics.store(head, FINISHED, 0);
    const tag = (gen & 0xffff) << 16;
    Atomics.store(head, TICKET, tag);
    Atomics.store(head, GEN, gen);
    Atomics.notify(head, GEN);
    let failure: unknown;
    for (;;) {
      const t = Atomics.add(head, TICKET, 1);
      const c = t & 0xffff;
      if (c >= chunks) break;
      own[loAt] = c * chunk;
      own[loAt + 1] = Math.min(total, (c + 1) * chunk);
      try {
        if (!failure) local(own);
      } catch (e) {
        failure = e;
      }
      Atomics.add(head, FINISHED, 1);
    }
    this.await(chunks);
    if (failure) throw failure;
    const bad = Atomics.load(head, ERR);
    if (bad) {
      const bytes = new Uint8Array(this.memory.buffer, this.control + HEADER_BYTES + this.size * MAX_ARGS * 8, ERROR_BYTES);
      const text = new TextDecoder().decode(bytes.slice(0, bytes.indexOf(0) < 0 ? ERROR_BYTES : bytes.indexOf(0)));
      this.broken = text;
      throw new ThreadError(`a WASM worker thread failed: ${text}`);
    }
  }

  /**
   * Waits until `n` chunks are finished: spins for up to SPIN_MS (the others are finishing
   * a chunk each, and a wake from sleep costs more than that wait), then sleeps in slices
   * where this thread may block (not a browser's main thread).
   */
  private await(n: number): void {
    const head = this.head;
    const start = performance.now();
    const deadline = start + this.timeoutMs;
    for (let spins = 0; ; spins++) {
      const done = Atomics.load(head, FINISHED);
      if (done >= n) return;
      if ((spins & 1023) !== 0 || performance.now() < start + SPIN_MS) continue;
      if (this.canBlock) {
        try {
          Atomics.wait(head, FINISHED, done, 20);
        } catch {
          this.canBlock = false;
        }
      }
      if (this.broken) throw new ThreadError(`the WASM thread pool is broken: ${this.broken}`);
      if (performance.now() > deadline) {
        this.broken = `a worker thread did not finish its chunk in ${this.timeoutMs} ms`;
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

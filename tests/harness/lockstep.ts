// A backend that runs every op on a backend under test and on the reference backend
// from the same inputs, and records how far each op's output is from the reference's:
// the layer-by-layer comparison that names the op that loses precision. Before each op
// every buffer it takes is set on the tested backend to the reference's contents, so an
// op's error is its own, not what earlier ops passed down. Ops are queued as the model
// records them and replayed (with the reads that needs) when the model reads.
import type { Backend, Buf, BufKind, Weight } from "../../src/backends/backend.js";
import type { QuantizedMatrix } from "../../src/weights/quantize.js";
import { ReferenceBackend } from "../reference/backend.js";

interface Pair {
  label: string;
  kind: BufKind;
  length: number;
  ref: Buf;
  test: Buf;
}
interface WeightPair {
  label: string;
  shape: readonly number[];
  ref: Weight;
  test: Weight;
}

/** One op's output against the reference: max |error| and the largest |reference value|. */
export interface OpError {
  op: string;
  /** The output buffer's label (the workspace names tensors: "gemma.q", ...). */
  output: string;
  maxError: number;
  maxValue: number;
}

type OpName = Exclude<keyof Backend, "name" | "memoryLimit" | "bindingLimits" | "threads" | "build" | "threadNote" | "uploadWeight" | "uploadQuantized" | "joinRows" | "alloc" | "free" | "write" | "read" | "readI32" | "submit" | "dispose">;

export class LockstepBackend implements Backend {
  readonly name: string;
  readonly errors: OpError[] = [];
  private readonly ref = new ReferenceBackend();
  private queue: { op: OpName; args: unknown[] }[] = [];

  constructor(private readonly test: Backend) {
    this.name = test.name;
  }

  uploadWeight(label: string, data: Uint16Array | Float32Array, shape: readonly number[], opts?: { precision?: "f16" | "f32" }): Weight {
    return { label, shape, ref: this.ref.uploadWeight(label, data, shape, opts), test: this.test.uploadWeight(label, data, shape, opts) } as WeightPair;
  }
  uploadQuantized(label: string, data: QuantizedMatrix, shape: readonly [number, number]): Weight {
    return { label, shape, ref: this.ref.uploadQuantized(label, data, shape), test: this.test.uploadQuantized(label, data, shape) } as WeightPair;
  }
  joinRows(label: string, parts: readonly Weight[], opts?: { interleave?: boolean }): Weight {
    const ps = parts as readonly WeightPair[];
    const [ref, test] = [this.ref.joinRows(label, ps.map((p) => p.ref), opts), this.test.joinRows(label, ps.map((p) => p.test), opts)];
    return { label, shape: ref.shape, ref, test } as WeightPair;
  }
  alloc(label: string, length: number, kind: BufKind = "f32"): Buf {
    return { label, kind, length, ref: this.ref.alloc(label, length, kind), test: this.test.alloc(label, length, kind) } as Pair;
  }
  free(buf: Buf): void {
    this.test.free((buf as Pair).test);
  }
  write(buf: Buf, data: Float32Array | Int32Array, offset?: number): void {
    this.queue.push({ op: "write" as OpName, args: [buf, data, offset] });
  }
  async read(buf: Buf, length?: number, offset?: number): Promise<Float32Array> {
    await this.replay();
    return this.ref.read((buf as Pair).ref, length, offset);
  }
  async readI32(buf: Buf, length?: number, offset?: number): Promise<Int32Array> {
    await this.replay();
    return this.ref.readI32((buf as Pair).ref, length, offset);
  }
  submit(): void {}
  dispose(): void {
    this.test.dispose();
  }

  embed = this.op("embed");
  patchify = this.op("patchify");
  linear = this.op("linear");
  layerNorm = this.op("layerNorm");
  rmsNorm = this.op("rmsNorm");
  ropeAppend = this.op("ropeAppend");
  attention = this.op("attention");
  scatterRows = this.op("scatterRows");
  gatherRows = this.op("gatherRows");
  conv2d = this.op("conv2d");
  convTranspose2d = this.op("convTranspose2d");
  softcap = this.op("softcap");
  argmax = this.op("argmax");
  sample = this.op("sample");

  /** The largest error of each op kind relative to its outputs' scale, worst first. */
  summary(): { op: string; output: string; relError: number }[] {
    const worst = new Map<string, { op: string; output: string; relError: number }>();
    for (const e of this.errors) {
      const key = `${e.op} ${e.output}`;
      const rel = e.maxError / Math.max(e.maxValue, 1e-30);
      if (!(rel <= (worst.get(key)?.relError ?? -1))) worst.set(key, { op: e.op, output: e.output, relError: rel });
    }
    return [...worst.values()].sort((a, b) => b.relError - a.relError);
  }

  private op(op: OpName) {
    return ((...args: unknown[]) => {
      this.queue.push({ op, args });
    }) as never;
  }

  private async replay(): Promise<void> {
    const queue = this.queue;
    this.queue = [];
    for (const { op, args } of queue) {
      if ((op as string) === "write") {
        const [buf, data, offset] = args as [Pair, Float32Array | Int32Array, number | undefined];
        this.ref.write(buf.ref, data, offset);
        continue;
      }
      const pairs = args.filter((a): a is Pair => typeof a === "object" && a !== null && "ref" in a && "kind" in a);
      for (const p of pairs) {
        const data = p.kind === "i32" ? await this.ref.readI32(p.ref) : await this.ref.read(p.ref);
        this.test.write(p.test, data);
      }
      // Buffers and weights, also inside options (linear's rmsNorm.weight), as each side's own.
      const pick = (a: unknown, s: "ref" | "test"): unknown => {
        if (typeof a !== "object" || a === null || ArrayBuffer.isView(a)) return a;
        if ("ref" in a && "test" in a) return (a as Pair)[s];
        return Object.fromEntries(Object.entries(a).map(([k, v]) => [k, pick(v, s)]));
      };
      const side = (s: "ref" | "test") => args.map((a) => pick(a, s));
      (this.ref[op] as (...a: unknown[]) => void)(...side("ref"));
      (this.test[op] as (...a: unknown[]) => void)(...side("test"));
      const out = pairs[0];
      if (out.kind === "f32") {
        const [want, got] = [await this.ref.read(out.ref), await this.test.read(out.test)];
        let maxError = 0;
        let maxValue = 0;
        for (let i = 0; i < want.length; i++) {
          maxError = Math.max(maxError, Math.abs(got[i] - want[i]));
          maxValue = Math.max(maxValue, Math.abs(want[i]));
        }
        this.errors.push({ op, output: out.label, maxError, maxValue });
      }
    }
  }
}

// Activation buffers, allocated on first use and reused by name: a decode step
// asks for the same names and sizes every time, so after the first step nothing is
// allocated (and the WebGPU backend's cached bind groups stay valid). A larger
// request replaces the buffer.
import type { Backend, Buf, BufKind } from "../backends/backend.js";

export class Workspace {
  private readonly bufs = new Map<string, Buf>();

  constructor(
    private readonly backend: Backend,
    private readonly label: string,
  ) {}

  get(name: string, length: number, kind: BufKind = "f32"): Buf {
    const have = this.bufs.get(name);
    if (have && have.length >= length && have.kind === kind) return have;
    if (have) this.backend.free(have);
    const buf = this.backend.alloc(`${this.label}.${name}`, Math.max(length, 1), kind);
    this.bufs.set(name, buf);
    return buf;
  }

  /** An i32 buffer holding `values`, written before the ops recorded next. */
  ints(name: string, values: Int32Array): Buf {
    const buf = this.get(name, values.length, "i32");
    this.backend.write(buf, values);
    return buf;
  }

  dispose(): void {
    for (const b of this.bufs.values()) this.backend.free(b);
    this.bufs.clear();
  }
}

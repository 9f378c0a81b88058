// Records ops into one command encoder (one compute pass between copies) until
// submit(). Each dispatch's parameters go to a 256-byte slot of one arena, and small
// writes (token ids, positions: what a decode step uploads) go into the same arena
// and are copied to their buffer in the encoder, in order with the ops; the arena is
// written with a single writeBuffer just before the submit (uploads grow down from
// UPLOAD_BYTES, slots up from it, so the used part is one range). Slots are numbered
// from 0 after every submit, so a decode step that records the same ops on the same
// buffers gets the same slots, and its bind groups, cached by (pipeline, buffers,
// slot), are found again: after the first step nothing is created.
import { type BufferPool, USAGE } from "./buffers.js";

/** minUniformBufferOffsetAlignment is at most 256 everywhere. */
const SLOT_BYTES = 256;
/** Dispatches per submit: a 3B prefill records under 1000; more simply submit early. */
const SLOTS = 1024;
/** Arena bytes for uploads per submit; larger writes go through queue.writeBuffer. */
export const UPLOAD_BYTES = 64 * 1024;
/** Bind groups kept; past this the cache is dropped (only churning shapes get there). */
const MAX_BIND_GROUPS = 16384;

export class Recorder {
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private readonly arena: GPUBuffer;
  private readonly params = new ArrayBuffer(UPLOAD_BYTES + SLOTS * SLOT_BYTES);
  private readonly bytes = new Uint8Array(this.params);
  private readonly u32 = new Uint32Array(this.params);
  private readonly f32 = new Float32Array(this.params);
  private slots = 0;
  /** Upload bytes used this submit: they sit at [UPLOAD_BYTES - uploaded, UPLOAD_BYTES). */
  private uploaded = 0;
  /** Buffers the recorded, unsubmitted work touches. */
  private readonly touched = new Set<GPUBuffer>();
  private readonly bindGroups = new Map<string, GPUBindGroup>();
  private readonly ids = new WeakMap<object, number>();
  private nextId = 1;

  /** `watch` receives each submit's validation scope (WebGPU reports errors asynchronously). */
  constructor(
    private readonly device: GPUDevice,
    pool: BufferPool,
    private readonly watch: (error: Promise<GPUError | null>) => void,
  ) {
    this.arena = pool.create("arena", UPLOAD_BYTES + SLOTS * SLOT_BYTES, USAGE.UNIFORM | USAGE.COPY_SRC | USAGE.COPY_DST);
  }

  /**
   * Records one dispatch. `buffers` bind to 1, 2, ... in order; binding 0 is the uniform
   * whose fields are `params`, typed by `format` (one letter each: u u32, f f32).
   */
  dispatch(
    pipeline: GPUComputePipeline,
    buffers: readonly GPUBuffer[],
    format: string,
    params: readonly number[],
    workgroups: readonly [number, number],
  ): void {
    if (this.slots === SLOTS) this.submit();
    const slot = this.slots++;
    const at = (UPLOAD_BYTES + slot * SLOT_BYTES) / 4;
    for (let i = 0; i < params.length; i++) {
      if (format[i] === "f") this.f32[at + i] = params[i];
      else this.u32[at + i] = params[i];
    }
    const pass = this.computePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, this.bindGroup(pipeline, buffers, slot));
    pass.dispatchWorkgroups(workgroups[0], workgroups[1]);
    for (const b of buffers) this.touched.add(b);
  }

  /**
   * Records a write of `data` (whole 4-byte values) to `dst` at byte `offset`, in order
   * with the recorded ops; false when it does not fit this submit's upload space.
   */
  upload(dst: GPUBuffer, offset: number, data: ArrayBufferView): boolean {
    const size = data.byteLength;
    if (size === 0 || this.uploaded + size > UPLOAD_BYTES) return false;
    this.uploaded += size;
    const at = UPLOAD_BYTES - this.uploaded;
    this.bytes.set(new Uint8Array(data.buffer, data.byteOffset, size), at);
    this.copy(this.arena, at, dst, offset, size);
    return true;
  }

  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, bytes: number): void {
    this.pass?.end();
    this.pass = null;
    this.commandEncoder().copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes);
    this.touched.add(src);
    this.touched.add(dst);
  }

  /** Whether recorded, unsubmitted work reads or writes `buf` (a queue write must then wait for it). */
  touches(buf: GPUBuffer): boolean {
    return this.touched.has(buf);
  }

  submit(): void {
    if (!this.encoder) return;
    this.pass?.end();
    this.pass = null;
    this.device.pushErrorScope("validation");
    const used = this.uploaded + this.slots * SLOT_BYTES;
    if (used > 0) this.device.queue.writeBuffer(this.arena, UPLOAD_BYTES - this.uploaded, this.params, UPLOAD_BYTES - this.uploaded, used);
    this.device.queue.submit([this.encoder.finish()]);
    this.watch(this.device.popErrorScope());
    this.encoder = null;
    this.slots = 0;
    this.uploaded = 0;
    this.touched.clear();
  }

  /** Called when buffers are destroyed: bind groups naming them must not be used again. */
  forgetBindGroups(): void {
    this.bindGroups.clear();
  }

  private bindGroup(pipeline: GPUComputePipeline, buffers: readonly GPUBuffer[], slot: number): GPUBindGroup {
    const key = `${this.id(pipeline)}|${buffers.map((b) => this.id(b)).join(",")}|${slot}`;
    let group = this.bindGroups.get(key);
    if (!group) {
      if (this.bindGroups.size >= MAX_BIND_GROUPS) this.bindGroups.clear();
      group = this.device.createBindGroup({
        label: `${pipeline.label}#${slot}`,
        layout: pipeline.getBindGroupLayout(0),
        entries: [
          { binding: 0, resource: { buffer: this.arena, offset: UPLOAD_BYTES + slot * SLOT_BYTES, size: SLOT_BYTES } },
          ...buffers.map((buffer, i) => ({ binding: i + 1, resource: { buffer } })),
        ],
      });
      this.bindGroups.set(key, group);
    }
    return group;
  }

  private id(o: object): number {
    let id = this.ids.get(o);
    if (id === undefined) {
      id = this.nextId++;
      this.ids.set(o, id);
    }
    return id;
  }

  private commandEncoder(): GPUCommandEncoder {
    this.encoder ??= this.device.createCommandEncoder({ label: "ops" });
    return this.encoder;
  }

  private computePass(): GPUComputePassEncoder {
    this.pass ??= this.commandEncoder().beginComputePass({ label: "ops" });
    return this.pass;
  }
}

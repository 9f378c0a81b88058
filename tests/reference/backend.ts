// The ground truth for every op of src/backends/backend.ts: plain TypeScript, eager,
// one loop nest per op written for clarity, not speed. Sums run in f64 and are
// stored as f32. Weights are rounded to f16 on upload, exactly as the real backends
// store them, so a comparison measures the kernels and not the weight format; a
// weight uploaded with precision "f32" keeps its f32 values, and like the real
// backends, only embed and the convs take it. A quantized weight is dequantized on
// upload (q · scale, exact in f32) and runs the f32 op: only linear and embed take it.
import {
  type AttentionOptions,
  type Backend,
  type Buf,
  type BufKind,
  type ConvOptions,
  type LinearOptions,
  type RopeAppendOptions,
  type SampleOptions,
  type UploadOptions,
  type Weight,
  weightLength,
} from "../../src/backends/backend.js";
import { f16ArrayToF32, f32ArrayToF16 } from "../../src/weights/f16.js";
import { dequantizeMatrix, type QuantizedMatrix } from "../../src/weights/quantize.js";

class RefBuf implements Buf {
  readonly data: Float32Array | Int32Array;
  constructor(
    readonly label: string,
    readonly length: number,
    readonly kind: BufKind,
  ) {
    this.data = kind === "f32" ? new Float32Array(length) : new Int32Array(length);
  }
}

class RefWeight implements Weight {
  constructor(
    readonly label: string,
    readonly shape: readonly number[],
    readonly data: Float32Array,
    readonly precision: "f16" | "f32" | "q8" | "q4",
  ) {}
}

const f = (b: Buf) => (b as RefBuf).data as Float32Array;
const i32 = (b: Buf) => (b as RefBuf).data as Int32Array;
const w = (x: Weight) => (x as RefWeight).data;
/** The contract lets only embed and the convs take f32 weights (and linear/embed quantized ones); refuse them elsewhere, as a backend may. */
function f16Only(op: string, ...weights: (Weight | null)[]): void {
  for (const x of weights) {
    const p = x && (x as RefWeight).precision;
    if (x && p !== "f16") throw new Error(`${op}: ${x.label} is an ${p} weight; ${op} takes f16 weights`);
  }
}
const fr = Math.fround;

export function geluTanh(x: number): number {
  return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
}

/** Rotary embedding of one head at x[o .. o + headDim), rotate-half convention, in place. */
function rotate(x: Float32Array, o: number, pos: number, headDim: number, theta: number): void {
  const half = headDim / 2;
  for (let i = 0; i < half; i++) {
    // f32 like the reference implementations: inv_freq and pos * inv_freq are f32.
    const invFreq = fr(1 / fr(theta ** ((2 * i) / headDim)));
    const angle = fr(pos * invFreq);
    const c = fr(Math.cos(angle));
    const s = fr(Math.sin(angle));
    const a = x[o + i];
    const b = x[o + i + half];
    x[o + i] = a * c - b * s;
    x[o + i + half] = b * c + a * s;
  }
}

export class ReferenceBackend implements Backend {
  readonly name = "reference";

  uploadWeight(
    label: string,
    data: Uint16Array | Float32Array,
    shape: readonly number[],
    { precision = "f16" }: UploadOptions = {},
  ): Weight {
    weightLength(label, data, shape);
    if (precision === "f32") {
      return new RefWeight(label, shape, data instanceof Uint16Array ? f16ArrayToF32(data) : Float32Array.from(data), precision);
    }
    const bits = data instanceof Uint16Array ? data : f32ArrayToF16(data);
    return new RefWeight(label, shape, f16ArrayToF32(bits), precision);
  }

  uploadQuantized(label: string, data: QuantizedMatrix, shape: readonly [number, number]): Weight {
    return new RefWeight(label, shape, dequantizeMatrix(data, shape[0], shape[1]), `q${data.bits}`);
  }

  joinRows(label: string, parts: readonly Weight[], opts: { interleave?: boolean } = {}): Weight {
    const p = parts as readonly RefWeight[];
    const K = p[0].data.length / p[0].shape[0];
    if (p.some((x) => x.precision !== p[0].precision || x.data.length / x.shape[0] !== K)) {
      throw new Error(`joinRows ${label}: parts differ in precision or row length`);
    }
    const N = p.reduce((n, x) => n + x.shape[0], 0);
    const data = new Float32Array(N * K);
    if (opts.interleave) {
      if (p.some((x) => x.shape[0] !== p[0].shape[0])) throw new Error(`joinRows ${label}: interleaved parts differ in rows`);
      p.forEach((x, j) => {
        for (let i = 0; i < x.shape[0]; i++) data.set(x.data.subarray(i * K, (i + 1) * K), (i * p.length + j) * K);
      });
    } else {
      let at = 0;
      for (const x of p) {
        data.set(x.data, at);
        at += x.data.length;
      }
    }
    return new RefWeight(label, [N, ...p[0].shape.slice(1)], data, p[0].precision);
  }

  alloc(label: string, length: number, kind: BufKind = "f32"): Buf {
    return new RefBuf(label, length, kind);
  }

  private readonly intermediates = new Map<string, Buf>();
  /** A buffer of at least `length` f32s owned by the backend, reused by name (allocated through alloc). */
  private intermediate(name: string, length: number): Buf {
    let buf = this.intermediates.get(name);
    if (!buf || buf.length < length) {
      if (buf) this.free(buf);
      buf = this.alloc(name, length);
      this.intermediates.set(name, buf);
    }
    return buf;
  }

  free(_buf?: Buf): void {}

  write(buf: Buf, data: Float32Array | Int32Array, offset = 0): void {
    (buf as RefBuf).data.set(data, offset);
  }

  async read(buf: Buf, length = buf.length, offset = 0): Promise<Float32Array> {
    return Float32Array.from(f(buf).subarray(offset, offset + length));
  }

  async readI32(buf: Buf, length = buf.length, offset = 0): Promise<Int32Array> {
    return Int32Array.from(i32(buf).subarray(offset, offset + length));
  }

  submit(): void {}
  dispose(): void {}

  embed(y: Buf, ids: Buf, table: Weight, rows: number, opts: { scale?: number; accumulate?: boolean } = {}): void {
    const [V, D] = table.shape;
    const scale = opts.scale ?? 1;
    for (let r = 0; r < rows; r++) {
      const id = i32(ids)[r];
      if (id < 0 || id >= V) throw new Error(`embed: id ${id} outside [0, ${V})`);
      for (let d = 0; d < D; d++) {
        const v = scale * w(table)[id * D + d];
        f(y)[r * D + d] = opts.accumulate ? f(y)[r * D + d] + v : v;
      }
    }
  }

  patchify(y: Buf, pixels: Buf, batch: number, channels: number, imageSize: number, patchSize: number): void {
    const G = imageSize / patchSize;
    const P = patchSize;
    const K = channels * P * P;
    for (let b = 0; b < batch; b++)
      for (let gy = 0; gy < G; gy++)
        for (let gx = 0; gx < G; gx++) {
          const row = (b * G + gy) * G + gx;
          for (let c = 0; c < channels; c++)
            for (let py = 0; py < P; py++)
              for (let px = 0; px < P; px++) {
                const src = ((b * channels + c) * imageSize + gy * P + py) * imageSize + gx * P + px;
                f(y)[row * K + (c * P + py) * P + px] = f(pixels)[src];
              }
        }
  }

  linear(y: Buf, x: Buf, weight: Weight, bias: Weight | null, rows: number, opts: LinearOptions = {}): void {
    if ((weight as RefWeight).precision === "f32") f16Only("linear", weight);
    f16Only("linear", bias);
    const N = weight.shape[0];
    const K = weight.shape.slice(1).reduce((a, b) => a * b, 1);
    const W = w(weight);
    if (opts.residual) {
      // x' = x + rms(add) into out, which is then the input.
      const { add, norm, out } = opts.residual;
      if (!opts.rmsNorm) throw new Error(`linear: residual needs rmsNorm (${weight.label})`);
      f(out).set(f(x).subarray(0, rows * K));
      this.rmsNorm(out, add, norm, rows, opts.rmsNorm.eps, { accumulate: true });
      x = out;
    }
    // The normalized x, held as the real backends hold it (RecordingBackend counts it).
    const X = opts.rmsNorm ? f(this.intermediate("linear.normed", rows * K)) : f(x);
    if (opts.rmsNorm) {
      X.set(f(x).subarray(0, rows * K));
      f16Only("linear", opts.rmsNorm.weight);
      const g = w(opts.rmsNorm.weight);
      for (let r = 0; r < rows; r++) {
        let ss = 0;
        for (let k = 0; k < K; k++) ss += X[r * K + k] ** 2;
        const inv = 1 / Math.sqrt(ss / K + opts.rmsNorm.eps);
        for (let k = 0; k < K; k++) X[r * K + k] = fr(X[r * K + k] * inv * (1 + g[k]));
      }
    }
    const Y = f(y);
    const dot = (r: number, n: number) => {
      let s = bias ? w(bias)[n] : 0;
      for (let k = 0; k < K; k++) s += X[r * K + k] * W[n * K + k];
      return opts.gelu ? geluTanh(s) : s;
    };
    const outs = opts.geglu ? N / 2 : N;
    if (opts.geglu) this.intermediate("linear.gate_up", rows * N); // the (gate, up) pairs, as the real backends hold them
    for (let r = 0; r < rows; r++)
      for (let n = 0; n < outs; n++) {
        let s = opts.geglu ? geluTanh(dot(r, 2 * n)) * dot(r, 2 * n + 1) : dot(r, n);
        if (opts.softcap && opts.softcap > 0) s = opts.softcap * Math.tanh(s / opts.softcap);
        Y[r * outs + n] = opts.accumulate ? Y[r * outs + n] + s : s;
      }
  }

  layerNorm(y: Buf, x: Buf, weight: Weight, bias: Weight, rows: number, eps: number): void {
    f16Only("layerNorm", weight, bias);
    const D = weight.shape[0];
    for (let r = 0; r < rows; r++) {
      const row = f(x).subarray(r * D, (r + 1) * D);
      let mean = 0;
      for (const v of row) mean += v;
      mean /= D;
      let v2 = 0;
      for (const v of row) v2 += (v - mean) ** 2;
      const inv = 1 / Math.sqrt(v2 / D + eps);
      for (let d = 0; d < D; d++) f(y)[r * D + d] = (row[d] - mean) * inv * w(weight)[d] + w(bias)[d];
    }
  }

  rmsNorm(y: Buf, x: Buf, weight: Weight, rows: number, eps: number, opts: { accumulate?: boolean } = {}): void {
    f16Only("rmsNorm", weight);
    const D = weight.shape[0];
    for (let r = 0; r < rows; r++) {
      let ss = 0;
      for (let d = 0; d < D; d++) ss += f(x)[r * D + d] ** 2;
      const inv = 1 / Math.sqrt(ss / D + eps);
      for (let d = 0; d < D; d++) {
        const v = f(x)[r * D + d] * inv * (1 + w(weight)[d]);
        f(y)[r * D + d] = opts.accumulate ? f(y)[r * D + d] + v : v;
      }
    }
  }

  ropeAppend(q: Buf, kCache: Buf, vCache: Buf, qkv: Buf, positions: Buf, cacheRows: Buf, rows: number, o: RopeAppendOptions): void {
    const [qw, kvw] = [o.heads * o.headDim, o.kvHeads * o.headDim];
    const width = qw + 2 * kvw;
    for (let r = 0; r < rows; r++) {
      const row = f(qkv).subarray(r * width, (r + 1) * width);
      const to = i32(cacheRows)[r] * kvw;
      f(q).set(row.subarray(0, qw), r * qw);
      f(kCache).set(row.subarray(qw, qw + kvw), to);
      f(vCache).set(row.subarray(qw + kvw), to);
      const pos = i32(positions)[r];
      for (let h = 0; h < o.heads; h++) rotate(f(q), (r * o.heads + h) * o.headDim, pos, o.headDim, o.theta);
      for (let h = 0; h < o.kvHeads; h++) rotate(f(kCache), to + h * o.headDim, pos, o.headDim, o.theta);
    }
  }

  attention(out: Buf, q: Buf, k: Buf, v: Buf, meta: Buf, rows: number, o: AttentionOptions): void {
    const { heads, kvHeads, headDim: hd } = o;
    const group = heads / kvHeads;
    for (let t = 0; t < rows; t++) {
      const [base, slot, prefix] = i32(meta).subarray(t * 3, t * 3 + 3);
      const n = Math.max(slot + 1, prefix);
      const window = o.window ?? 0;
      for (let h = 0; h < heads; h++) {
        const kh = Math.floor(h / group);
        const qo = (t * heads + h) * hd;
        const scores: number[] = [];
        for (let j = 0; j < n; j++) {
          if (!(j <= slot || j < prefix) || (window > 0 && j <= slot - window)) {
            scores.push(-Infinity);
            continue;
          }
          const ko = ((base + j) * kvHeads + kh) * hd;
          let s = 0;
          for (let d = 0; d < hd; d++) s += f(q)[qo + d] * f(k)[ko + d];
          s *= o.scale;
          if (o.softcap && o.softcap > 0) s = o.softcap * Math.tanh(s / o.softcap);
          scores.push(s);
        }
        const m = Math.max(...scores);
        const p = scores.map((s) => Math.exp(s - m));
        const z = p.reduce((a, b) => a + b, 0);
        for (let d = 0; d < hd; d++) {
          let acc = 0;
          for (let j = 0; j < n; j++) if (p[j] > 0) acc += p[j] * f(v)[((base + j) * kvHeads + kh) * hd + d];
          f(out)[qo + d] = acc / z;
        }
      }
    }
  }

  scatterRows(dst: Buf, idx: Buf, src: Buf, rows: number, width: number, scale = 1): void {
    for (let r = 0; r < rows; r++) {
      const to = i32(idx)[r];
      for (let c = 0; c < width; c++) f(dst)[to * width + c] = scale * f(src)[r * width + c];
    }
  }

  gatherRows(dst: Buf, src: Buf, idx: Buf, rows: number, width: number): void {
    for (let r = 0; r < rows; r++) {
      const from = i32(idx)[r];
      for (let c = 0; c < width; c++) f(dst)[r * width + c] = f(src)[from * width + c];
    }
  }

  softcap(x: Buf, n: number, cap: number): void {
    for (let i = 0; i < n; i++) f(x)[i] = cap * Math.tanh(f(x)[i] / cap);
  }

  argmax(ids: Buf, logits: Buf, rows: number, vocab: number): void {
    for (let r = 0; r < rows; r++) {
      let best = 0;
      for (let j = 1; j < vocab; j++) if (f(logits)[r * vocab + j] > f(logits)[r * vocab + best]) best = j;
      i32(ids)[r] = best;
    }
  }

  /**
   * Sort by probability (ties: lower id first); keep the topK; renormalise; keep the
   * smallest head whose mass reaches topP; renormalise; return the first token whose
   * cumulative mass exceeds u.
   */
  sample(ids: Buf, logits: Buf, uniforms: Buf, rows: number, vocab: number, o: SampleOptions): void {
    for (let r = 0; r < rows; r++) {
      const l = f(logits).subarray(r * vocab, (r + 1) * vocab);
      const m = Math.max(...l);
      const order = Array.from({ length: vocab }, (_, j) => j).sort((a, b) => l[b] - l[a] || a - b);
      let p = order.map((j) => Math.exp((l[j] - m) / o.temperature));
      if (o.topK > 0) p = p.slice(0, o.topK);
      let z = p.reduce((a, b) => a + b, 0);
      if (o.topP < 1) {
        let c = 0;
        let keep = 0;
        while (keep < p.length && c < o.topP * z) c += p[keep++];
        p = p.slice(0, Math.max(keep, 1));
        z = p.reduce((a, b) => a + b, 0);
      }
      const u = f(uniforms)[r] * z;
      let c = 0;
      let pick = p.length - 1;
      for (let j = 0; j < p.length; j++) {
        c += p[j];
        if (c > u) {
          pick = j;
          break;
        }
      }
      i32(ids)[r] = order[pick];
    }
  }

  conv2d(y: Buf, x: Buf, weight: Weight, bias: Weight, o: ConvOptions): void {
    const [Cout, Cin, k] = weight.shape;
    const { batch, height: H, width: W, stride: s, padding: p } = o;
    const Ho = Math.floor((H + 2 * p - k) / s) + 1;
    const Wo = Math.floor((W + 2 * p - k) / s) + 1;
    for (let b = 0; b < batch; b++)
      for (let oy = 0; oy < Ho; oy++)
        for (let ox = 0; ox < Wo; ox++)
          for (let co = 0; co < Cout; co++) {
            let acc = w(bias)[co];
            for (let ky = 0; ky < k; ky++) {
              const iy = oy * s - p + ky;
              if (iy < 0 || iy >= H) continue;
              for (let kx = 0; kx < k; kx++) {
                const ix = ox * s - p + kx;
                if (ix < 0 || ix >= W) continue;
                for (let ci = 0; ci < Cin; ci++)
                  acc += f(x)[((b * H + iy) * W + ix) * Cin + ci] * w(weight)[((co * Cin + ci) * k + ky) * k + kx];
              }
            }
            if (o.relu) acc = Math.max(0, acc);
            const at = ((b * Ho + oy) * Wo + ox) * Cout + co;
            f(y)[at] = o.accumulate ? f(y)[at] + acc : acc;
          }
  }

  convTranspose2d(y: Buf, x: Buf, weight: Weight, bias: Weight, o: ConvOptions): void {
    const [Cin, Cout, k] = weight.shape;
    const { batch, height: H, width: W, stride: s, padding: p } = o;
    const Ho = (H - 1) * s - 2 * p + k;
    const Wo = (W - 1) * s - 2 * p + k;
    for (let b = 0; b < batch; b++)
      for (let oy = 0; oy < Ho; oy++)
        for (let ox = 0; ox < Wo; ox++)
          for (let co = 0; co < Cout; co++) {
            let acc = w(bias)[co];
            // Output (oy, ox) receives input (iy, ix) through tap (ky, kx) when oy = iy*s - p + ky.
            for (let ky = 0; ky < k; ky++) {
              const ty = oy + p - ky;
              if (ty < 0 || ty % s !== 0 || ty / s >= H) continue;
              const iy = ty / s;
              for (let kx = 0; kx < k; kx++) {
                const tx = ox + p - kx;
                if (tx < 0 || tx % s !== 0 || tx / s >= W) continue;
                const ix = tx / s;
                for (let ci = 0; ci < Cin; ci++)
                  acc += f(x)[((b * H + iy) * W + ix) * Cin + ci] * w(weight)[((ci * Cout + co) * k + ky) * k + kx];
              }
            }
            if (o.relu) acc = Math.max(0, acc);
            const at = ((b * Ho + oy) * Wo + ox) * Cout + co;
            f(y)[at] = o.accumulate ? f(y)[at] + acc : acc;
          }
  }
}

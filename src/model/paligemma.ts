// PaliGemma: SigLIP sees the image, a linear projector maps its features into the
// decoder's width, they replace the `<image>` tokens of the prompt, and the Gemma
// decoder reads image + prompt with full attention (the prefix) and generates
// causally after it.
//
//   image features  f = projector(siglip(pixels))                 [B*N, D]
//   embeddings      e = √D · embed(ids), with e[<image> rows] = f   (HF scales f by
//                   1/√D before the decoder multiplies everything by √D: they cancel)
//   logits          = lmHead(rms(gemma(e)))
import type { Backend, Buf, SampleOptions, Weight } from "../backends/backend.js";
import { backendDetails, type BackendInfo, type DeviceOption, selectBackend } from "../backends/select.js";
import type { PaliGemmaConfig } from "../config.js";
import { DisposedError, InputError } from "../errors.js";
import { type Checkpoint, type CheckpointOptions, loadCheckpoint } from "../weights/checkpoint.js";
import { type FetchOptions, type ModelSource, resolveSource } from "../weights/files.js";
import { trackerOf, withTracker } from "../weights/progress.js";
import { PROJECTOR } from "../weights/names.js";
import type { GPUSource } from "../web-types.js";
import { gemmaLayers, gemmaLogits, type GemmaWeights, gemmaWeights } from "./gemma.js";
import { KVCache } from "./kv-cache.js";
import type { MemoryReport } from "./memory-plan.js";
import { siglipForward, type SiglipWeights, siglipWeights } from "./siglip.js";
import { Workspace } from "./workspace.js";

/**
 * How the decoder attends. `slidingWindow`: "none" (the default: big_vision, which
 * trained PaliGemma 2, has no sliding window) or "config": Gemma 2's `sliding_window`
 * on the layers config.json names, as transformers and Keras run PaliGemma 2. They
 * differ only once a row holds more tokens than the window (PaliGemma 2 at 896).
 */
export interface AttentionChoice {
  slidingWindow?: "none" | "config";
}

export interface ModelOptions {
  attention?: AttentionChoice;
}

export interface LoadOptions extends FetchOptions, CheckpointOptions, ModelOptions {
  device?: DeviceOption;
  /** A GPU, adapter or device to run on instead of navigator.gpu / the `webgpu` package. */
  gpu?: GPUSource;
  /** A backend built by the caller (tests, advanced use); overrides device/gpu. */
  backend?: Backend;
  /** Threads for the WASM backend: 1 (default), up to 8, or "auto" (the machine's cores, at most 8). */
  threads?: number | "auto";
}

export interface ForwardInputs {
  /** [batch, length] token ids, rows right-padded. */
  inputIds: Int32Array;
  /**
   * [batch, 3, S, S], normalised. Encoded with the prefix (the first call on a cache);
   * later calls may pass them again, as the reference's loop does: they are not re-encoded.
   */
  pixelValues?: Float32Array;
  /**
   * 1 for real tokens, then 0 for padding; [batch, length] over the new tokens, or
   * [batch, past + length] over everything fed so far (the reference's
   * `cat([attention_mask, ones])`). Default: all 1.
   */
  attentionMask?: Int32Array;
  /** Continue from this cache; without one a growing cache is created (returned as kvCache). */
  kvCache?: KVCache;
  batch?: number;
  /** "all": logits at every position (as the reference); "last": only at each row's last real token. */
  logits?: "all" | "last";
}

export interface ForwardOutput {
  /** [batch, length, vocab] for "all", [batch, 1, vocab] for "last". */
  logits: Float32Array;
  kvCache: KVCache;
}

export class PaliGemmaForConditionalGeneration {
  private readonly vision: SiglipWeights;
  private readonly projector: { w: Weight; b: Weight }; // [D, Dv], [D]
  private readonly text: GemmaWeights;
  private readonly visionWs: Workspace;
  private readonly textWs: Workspace;
  /** Per decoder layer: its sliding window, 0 for none. */
  private readonly windows: number[];
  /** Which backend runs the model and why (device: "auto" says what it skipped). */
  readonly backendInfo: BackendInfo;
  /** The dtype the weights were loaded as and why; absent for a model built from weights uploaded by hand. */
  readonly memory?: MemoryReport;
  private disposed = false;

  constructor(
    readonly config: PaliGemmaConfig,
    readonly backend: Backend,
    tensors: Map<string, Weight>,
    options: ModelOptions & { backendInfo?: BackendInfo; memory?: MemoryReport } = {},
  ) {
    this.windows = layerWindows(config, options.attention);
    this.backendInfo = options.backendInfo ?? { name: backend.name, ...backendDetails(backend), reason: "the caller passed this backend" };
    this.memory = options.memory;
    const get = (name: string) => {
      const w = tensors.get(name);
      if (!w) throw new Error(`weight ${name} was not loaded`);
      return w;
    };
    this.vision = siglipWeights(get, config.vision);
    this.projector = { w: get(`${PROJECTOR}weight`), b: get(`${PROJECTOR}bias`) };
    this.text = gemmaWeights(backend, get, config.text);
    this.visionWs = new Workspace(backend, "siglip");
    this.textWs = new Workspace(backend, "gemma");
  }

  /** Loads config.json + safetensors from a folder URL, a local path or a map of files. */
  static async load(source: ModelSource, opts: LoadOptions = {}): Promise<PaliGemmaForConditionalGeneration> {
    // PaliGemma.load passes its tracker in opts; called alone, this load reports its own progress.
    const { tracker, own } = trackerOf(opts);
    const files = resolveSource(source, withTracker(opts, tracker));
    layerWindows(undefined, opts.attention); // a bad option fails before anything loads
    const { backend, info } = opts.backend
      ? { backend: opts.backend, info: undefined }
      : await selectBackend(opts.device ?? "auto", opts.gpu, { threads: opts.threads });
    let ckpt: Checkpoint;
    try {
      if (own) await tracker.plan(files, []);
      ckpt = await loadCheckpoint(files, backend, tracker, { dtype: opts.dtype, maxMemoryBytes: opts.maxMemoryBytes });
    } catch (e) {
      if (!opts.backend) backend.dispose();
      throw e;
    }
    const model = new PaliGemmaForConditionalGeneration(ckpt.config, backend, ckpt.tensors, {
      attention: opts.attention,
      backendInfo: info,
      memory: ckpt.memory,
    });
    if (own) tracker.ready();
    return model;
  }

  /**
   * A KV cache for `batch` rows: preallocated for `maxLength` tokens per row, or without
   * maxLength one that grows on demand (doubling), as the reference's empty KVCache().
   */
  createKVCache({ batch = 1, maxLength }: { batch?: number; maxLength?: number } = {}): KVCache {
    this.assertUsable();
    if (!(Number.isInteger(batch) && batch > 0 && (maxLength === undefined || (Number.isInteger(maxLength) && maxLength > 0)))) {
      throw new InputError(`createKVCache needs positive integers, got batch ${batch}, maxLength ${maxLength}`);
    }
    return new KVCache(this.backend, this.config.text, batch, maxLength);
  }

  /** SigLIP output [B, N, Dv] and projector output [B, N, D] (before the 1/√D scaling). */
  async encodeImages(pixelValues: Float32Array, batch = 1): Promise<{ vision: Float32Array; projected: Float32Array }> {
    this.assertUsable();
    const projected = this.recordImages(pixelValues, batch);
    const N = this.config.vision.numPatches;
    return {
      vision: await this.backend.read(this.visionWs.get("out", 0), batch * N * this.config.vision.hiddenSize),
      projected: await this.backend.read(projected, batch * N * this.config.text.hiddenSize),
    };
  }

  async forward(inputs: ForwardInputs): Promise<ForwardOutput> {
    const { logits, rows, kvCache } = this.record(inputs);
    const V = this.config.text.vocabSize;
    return { logits: await this.backend.read(logits, rows * V), kvCache };
  }

  /**
   * One generation step on the device: runs the decoder and picks each row's next
   * token after its last real token (argmax, or sampling with `uniforms`, one per
   * row); only the ids come back.
   */
  async nextTokens(
    inputs: Omit<ForwardInputs, "logits">,
    sampling?: SampleOptions & { uniforms: Float32Array },
  ): Promise<{ ids: Int32Array; kvCache: KVCache }> {
    const { logits, rows, kvCache } = this.record({ ...inputs, logits: "last" });
    const V = this.config.text.vocabSize;
    const ids = this.textWs.get("next", rows, "i32");
    if (sampling) {
      const u = this.textWs.get("uniforms", rows);
      this.backend.write(u, sampling.uniforms);
      this.backend.sample(ids, logits, u, rows, V, sampling);
    } else {
      this.backend.argmax(ids, logits, rows, V);
    }
    return { ids: await this.backend.readI32(ids, rows), kvCache };
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.backend.dispose();
  }

  private assertUsable(): void {
    if (this.disposed) throw new DisposedError("the model");
  }

  /** pixels -> projector output [B*N, D] (a workspace buffer), recorded on the backend. */
  private recordImages(pixelValues: Float32Array, batch: number): Buf {
    const { vision: vc, text: tc } = this.config;
    const n = batch * 3 * vc.imageSize * vc.imageSize;
    if (pixelValues.length !== n) {
      throw new InputError(`pixelValues has ${pixelValues.length} values; expected [${batch}, 3, ${vc.imageSize}, ${vc.imageSize}] = ${n}`);
    }
    const pixels = this.visionWs.get("pixels", n);
    this.backend.write(pixels, pixelValues);
    const features = siglipForward(this.backend, this.visionWs, this.vision, vc, pixels, batch);
    const projected = this.visionWs.get("projected", batch * vc.numPatches * tc.hiddenSize);
    this.backend.linear(projected, features, this.projector.w, this.projector.b, batch * vc.numPatches);
    return projected;
  }

  /**
   * Records the whole forward (not submitted: the caller's read submits it with what it
   * records next, so a decode step is one submit); returns the logits buffer and how many rows it holds.
   */
  private record(inputs: ForwardInputs): { logits: Buf; rows: number; kvCache: KVCache } {
    this.assertUsable();
    const c = this.config;
    const { inputIds } = inputs;
    const B = inputs.batch ?? 1;
    if (!(inputIds instanceof Int32Array)) throw new InputError("inputIds must be an Int32Array");
    if (!Number.isInteger(B) || B < 1 || inputIds.length === 0 || inputIds.length % B !== 0) {
      throw new InputError(`inputIds has ${inputIds.length} ids, not a non-empty multiple of batch ${B}`);
    }
    const L = inputIds.length / B;
    for (const id of inputIds) {
      if (!(id >= 0 && id < c.text.vocabSize)) throw new InputError(`token id ${id} is outside the vocabulary [0, ${c.text.vocabSize})`);
    }
    const cache = inputs.kvCache ?? this.createKVCache({ batch: B });
    cache.assertUsable();
    if (cache.batch !== B) throw new InputError(`the KV cache holds ${cache.batch} rows but inputs have ${B}`);
    const lengths = newTokenLengths(inputs.attentionMask, cache, B, L);
    cache.reserve(Math.max(...Array.from(cache.lengths, (n) => n + L)));
    const prefill = cache.isEmpty;
    // The reference's loop passes pixel_values on every step, where they merge into no
    // <image> token; so do they here: only the prefix encodes the image.
    const pixelValues = prefill ? inputs.pixelValues : undefined;

    // Token placement: 1-indexed positions, cache rows, and the prefix-LM mask per query.
    const T = B * L;
    const positions = new Int32Array(T);
    const cacheRows = new Int32Array(T);
    const meta = new Int32Array(T * 3);
    for (let b = 0; b < B; b++) {
      const prefix = prefill ? lengths[b] : cache.prefix[b];
      for (let i = 0; i < L; i++) {
        const t = b * L + i;
        const slot = cache.lengths[b] + i;
        positions[t] = slot + 1;
        cacheRows[t] = b * cache.capacity + slot;
        meta.set([b * cache.capacity, slot, prefix], t * 3);
      }
    }

    const ws = this.textWs;
    const D = c.text.hiddenSize;
    const h = ws.get("h", T * D); // [T, D]
    this.backend.embed(h, ws.ints("ids", inputIds), this.text.embed, T, { scale: Math.sqrt(D) });

    const imageRows: number[] = [];
    for (let b = 0; b < B; b++) {
      let count = 0;
      for (let i = 0; i < lengths[b]; i++) {
        if (inputIds[b * L + i] === c.imageTokenId) {
          imageRows.push(b * L + i);
          count++;
        }
      }
      if (pixelValues && count !== c.vision.numPatches) {
        throw new InputError(`row ${b} has ${count} <image> tokens; the model expects ${c.vision.numPatches} per image`);
      }
      if (!prefill && count > 0) throw new InputError(`row ${b} has <image> tokens after the prefix: the image goes in the first call on a KV cache`);
      if (!pixelValues && count > 0) throw new InputError(`row ${b} has <image> tokens but no pixelValues were given`);
    }
    if (pixelValues) {
      const projected = this.recordImages(pixelValues, B);
      this.backend.scatterRows(h, ws.ints("imageRows", Int32Array.from(imageRows)), projected, imageRows.length, D);
    }

    const hidden = gemmaLayers(this.backend, ws, this.text, c.text, h, T, {
      positions: ws.ints("positions", positions),
      cacheRows: ws.ints("cacheRows", cacheRows),
      meta: ws.ints("meta", meta),
    }, cache, this.windows);

    const last = inputs.logits === "last";
    const R = last ? B : T;
    const rows = last
      ? Int32Array.from(lengths, (n, b) => b * L + Math.max(n - 1, 0))
      : Int32Array.from({ length: T }, (_, t) => t);
    const inOrder = rows.every((r, i) => r === i); // decode, and logits "all": no gather
    const logits = gemmaLogits(this.backend, ws, this.text, c.text, hidden, inOrder ? null : ws.ints("logitRows", rows), R);

    for (let b = 0; b < B; b++) {
      if (prefill) cache.prefix[b] = lengths[b];
      cache.lengths[b] += lengths[b];
    }
    cache.columns += L;
    return { logits, rows: R, kvCache: cache };
  }
}

/** The sliding window of each decoder layer (0: none) for this attention choice. */
function layerWindows(config: PaliGemmaConfig | undefined, choice: AttentionChoice = {}): number[] {
  const mode = choice.slidingWindow ?? "none";
  if (mode !== "none" && mode !== "config") {
    throw new InputError(`attention.slidingWindow must be "none" or "config", got ${JSON.stringify(mode)}`);
  }
  if (!config) return [];
  const t = config.text;
  return t.slidingLayers.map((sliding) => (mode === "config" && sliding ? t.slidingWindow : 0));
}

/**
 * Each row's count of real (unpadded) new tokens, from an attention mask over the new
 * tokens [B, L] or, as the reference's decode loop passes it, over past + new
 * [B, columns + L]; then the past part must be the cache's: as many 1s per row as
 * the row has stored tokens.
 */
function newTokenLengths(attentionMask: Int32Array | undefined, cache: KVCache, B: number, L: number): Int32Array {
  const lengths = new Int32Array(B);
  if (!attentionMask) return lengths.fill(L);
  const width = attentionMask.length / B;
  const past = cache.columns;
  if (attentionMask.length !== B * L && attentionMask.length !== B * (past + L)) {
    throw new InputError(
      `attentionMask has ${attentionMask.length} values; expected [${B}, ${L}] (the new tokens) or [${B}, ${past + L}] (past + new, as the reference passes it)`,
    );
  }
  for (let b = 0; b < B; b++) {
    const row = attentionMask.subarray(b * width, (b + 1) * width);
    const ones = row.subarray(0, width - L).reduce((n, m) => n + (m !== 0 ? 1 : 0), 0);
    if (width > L && ones !== cache.lengths[b]) {
      throw new InputError(`attentionMask row ${b} marks ${ones} past tokens but the KV cache holds ${cache.lengths[b]} for that row`);
    }
    const fresh = row.subarray(width - L);
    const n = fresh.indexOf(0) === -1 ? L : fresh.indexOf(0);
    if (fresh.subarray(n).some((m) => m !== 0)) throw new InputError(`attentionMask row ${b} has a 1 after a 0 among the new tokens: rows must be right-padded`);
    lengths[b] = n;
  }
  return lengths;
}

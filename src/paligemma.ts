// The SDK's face: load a checkpoint folder (weights, tokenizer, optional mask
// decoder), then caption / answer / ocr / detect / segment an image, or generate and
// stream from any prompt. Prompts are the ones PaliGemma was trained with.
import { type BackendInfo, type DeviceOption } from "./backends/select.js";
import { DisposedError, InputError, LoadError } from "./errors.js";
import { toRGBImage, type ImageInput } from "./image/input.js";
import { type ImageLimits, maxImagePixels, type RawImage } from "./image/raw-image.js";
import { CODES_PER_MASK, loadMaskDecoder, type MaskDecoder } from "./model/mask-decoder.js";
import { type ModelOptions, PaliGemmaForConditionalGeneration } from "./model/paligemma.js";
import { parsePreprocessorConfig } from "./image/preprocessor-config.js";
import { PaliGemmaProcessor } from "./processor.js";
import { parseDetections, type Detection } from "./tasks/detect.js";
import { generateTokens, type GenerationOptions, stopTokenSet } from "./tasks/generate.js";
import { prompts } from "./tasks/prompts.js";
import { parseSegments } from "./tasks/segment.js";
import { stripLocationTokens } from "./tasks/text.js";
import { loadTokenizer, type Tokenizer } from "./tokenizer/index.js";
import type { MemoryReport } from "./model/memory-plan.js";
import type { CheckpointOptions } from "./weights/checkpoint.js";
import { type FetchOptions, type FileContent, missingFile, type ModelSource, resolveSource, readJson, readText } from "./weights/files.js";
import { modelCache } from "./weights/cache-manager.js";
import { trackerOf, untracked, withTracker } from "./weights/progress.js";
import type { GPUSource } from "./web-types.js";
import { createWorkerEngine, type PaliGemmaEngine, type WorkerLike } from "./worker/engine.js";

export interface PaliGemmaLoadOptions extends FetchOptions, CheckpointOptions, ModelOptions, ImageLimits {
  /**
   * "auto" (default): WebGPU on a hardware adapter, else WASM (a software adapter such as
   * SwiftShader is slower than WASM: "webgpu" still takes it). `backendInfo` says which ran.
   */
  device?: DeviceOption;
  gpu?: GPUSource;
  /** Threads for the WASM backend: 1 (default), up to 8, or "auto" (the machine's cores, at most 8). */
  threads?: number | "auto";
  /** The segmentation mask decoder (big_vision's vae-oid.npz); default: vae-oid.npz in the model folder. */
  maskDecoder?: FileContent;
  /**
   * Run the model in a worker (a Web Worker; a worker thread in Node): true starts one,
   * or pass a Worker running paligemma-edge/worker. load then gives a PaliGemmaEngine.
   */
  worker?: boolean | WorkerLike;
}

export interface Timings {
  /** Image decoding, resizing and tokenization. */
  preprocessMs: number;
  /** Vision encoder + decoder over the prompt, up to the first new token. */
  prefillMs: number;
  decodeMs: number;
  newTokens: number;
}

export interface GenerateResult {
  /** Decoded text, with <locNNNN>/<segNNN> tokens removed and the stop token excluded. */
  text: string;
  /** Every generated id, location/segment tokens and the stop token included. */
  tokenIds: Int32Array;
  timings: Timings;
}

export interface Segmentation extends Detection {
  /** Full-image mask in [0, 1], row-major [height][width]. */
  mask: { width: number; height: number; data: Float32Array };
}

export type { Detection };

type Many<T> = T | T[];

export class PaliGemma {
  private maskDecoder?: Promise<MaskDecoder>;
  private disposed = false;

  private constructor(
    readonly model: PaliGemmaForConditionalGeneration,
    readonly tokenizer: Tokenizer,
    /** Images + prompts -> model inputs, with the checkpoint's preprocessor_config.json applied. */
    readonly processor: PaliGemmaProcessor,
    private readonly maskDecoderSource: () => Promise<Uint8Array | undefined>,
    private readonly limits: ImageLimits,
  ) {}

  /**
   * The hub download cache: `list()` what it holds (repo, revision, files, bytes, where),
   * `has(repo, { revision })` whether a load would download nothing, `delete(repo, { revision })`.
   * Each takes `cache` (a folder or ModelCache) to manage another than the default.
   */
  static readonly cache = modelCache;

  /** The device the model runs on. */
  get device(): string {
    return this.model.backend.name;
  }

  static load(source: ModelSource, opts: PaliGemmaLoadOptions & { worker: true | WorkerLike }): Promise<PaliGemmaEngine>;
  static load(source: ModelSource, opts?: PaliGemmaLoadOptions & { worker?: false }): Promise<PaliGemma>;
  static async load(source: ModelSource, opts: PaliGemmaLoadOptions = {}): Promise<PaliGemma | PaliGemmaEngine> {
    if (opts.worker) return createWorkerEngine(source, opts);
    const limits = { maxImagePixels: maxImagePixels(opts) }; // a bad limit fails before anything loads
    const { tracker } = trackerOf(opts);
    const tracked = withTracker(opts, tracker);
    const files = resolveSource(source, tracked);
    await tracker.plan(files, ["tokenizer.json", "preprocessor_config.json"]);
    const tokenizerJson = await readText(files, "tokenizer.json");
    if (tokenizerJson === undefined) throw missingFile(files, "tokenizer.json");
    const tokenizer = await loadTokenizer(tokenizerJson);
    const model = await PaliGemmaForConditionalGeneration.load(files, tracked);
    const v = model.config.vision;
    let normalization;
    try {
      normalization = parsePreprocessorConfig(await readJson(files, "preprocessor_config.json"), v.imageSize);
    } catch (e) {
      model.dispose();
      tokenizer.dispose();
      throw e;
    }
    const processor = PaliGemmaProcessor(tokenizer, { numImageTokens: v.numPatches, imageSize: v.imageSize, normalization, ...limits });
    // Read at the first segment(), long after load: the load's signal and progress no longer apply.
    const later = { ...untracked(opts), signal: undefined };
    const maskSource = async () => {
      if (opts.maskDecoder !== undefined) {
        const f = await resolveSource({ "vae-oid.npz": opts.maskDecoder }, later).open("vae-oid.npz");
        return f && new Uint8Array(await new Response(f.stream()).arrayBuffer());
      }
      const f = await resolveSource(source, later).open("vae-oid.npz");
      return f && new Uint8Array(await new Response(f.stream()).arrayBuffer());
    };
    tracker.ready();
    return new PaliGemma(model, tokenizer, processor, maskSource, limits);
  }

  /** Which backend runs the model, on which adapter, and why it was chosen. */
  get backendInfo(): BackendInfo {
    return this.model.backendInfo;
  }

  /** The weights' dtype (f16, q8, q4) and the memory plan that chose it: bytes of weights, KV cache, activations. */
  get memory(): MemoryReport {
    return this.model.memory!;
  }

  /** A short caption ("caption en"), or a longer description ("describe en"). */
  caption(image: ImageInput, o?: { lang?: string; length?: "short" | "long" } & GenerationOptions): Promise<{ text: string }>;
  caption(image: ImageInput[], o?: { lang?: string; length?: "short" | "long" } & GenerationOptions): Promise<{ text: string }[]>;
  async caption(image: Many<ImageInput>, o: { lang?: string; length?: "short" | "long" } & GenerationOptions = {}) {
    return this.textTask(image, prompts.caption(o), o);
  }

  answer(image: ImageInput, question: string, o?: { lang?: string } & GenerationOptions): Promise<{ text: string }>;
  answer(image: ImageInput[], question: Many<string>, o?: { lang?: string } & GenerationOptions): Promise<{ text: string }[]>;
  async answer(image: Many<ImageInput>, question: Many<string>, o: { lang?: string } & GenerationOptions = {}) {
    const asked = (Array.isArray(question) ? question : [question]).map((q) => prompts.answer(q, o));
    return this.textTask(image, Array.isArray(question) ? asked : asked[0], o);
  }

  ocr(image: ImageInput, o?: GenerationOptions): Promise<{ text: string }>;
  ocr(image: ImageInput[], o?: GenerationOptions): Promise<{ text: string }[]>;
  async ocr(image: Many<ImageInput>, o: GenerationOptions = {}) {
    return this.textTask(image, prompts.ocr(), o);
  }

  /** Boxes for each label, in the image's pixels. */
  async detect(image: ImageInput, labels: Many<string>, o: GenerationOptions = {}): Promise<Detection[]> {
    const prompt = prompts.detect(labels);
    const [rgb] = await this.images(image);
    const [r] = await this.run([rgb], [prompt], o);
    return parseDetections(this.tokenizer.decode(r.tokenIds), rgb.width, rgb.height);
  }

  /** A box and a full-image mask for each instance of the label. */
  async segment(image: ImageInput, label: Many<string>, o: GenerationOptions = {}): Promise<Segmentation[]> {
    const prompt = prompts.segment(label);
    const [rgb] = await this.images(image);
    const [r] = await this.run([rgb], [prompt], o);
    const found = parseSegments(this.tokenizer.decode(r.tokenIds), rgb.width, rgb.height);
    if (found.length === 0) return [];
    const decoder = await this.loadMaskDecoder();
    const codes = new Int32Array(found.length * CODES_PER_MASK);
    found.forEach((s, i) => codes.set(s.codes, i * CODES_PER_MASK));
    const masks64 = await decoder.decode(codes);
    const boxes = new Int32Array(found.length * 4);
    found.forEach((s, i) => boxes.set([s.box.x0, s.box.y0, s.box.x1, s.box.y1], i * 4));
    const pasted = await decoder.paste(masks64, boxes, rgb.width, rgb.height);
    const n = rgb.width * rgb.height;
    return found.map((s, i) => ({
      label: s.label,
      box: s.box,
      mask: { width: rgb.width, height: rgb.height, data: pasted.slice(i * n, (i + 1) * n) },
    }));
  }

  /** Text pieces as they decode (one prompt, one image). */
  async *stream(image: ImageInput, prompt: string, o: GenerationOptions = {}): AsyncGenerator<string> {
    this.assertUsable();
    const [rgb] = await this.images(image);
    const inputs = await this.processor({ text: [prompt], images: [rgb] });
    const ids: number[] = [];
    let shown = "";
    for await (const step of generateTokens(this.model, inputs, o)) {
      if (step[0] < 0 || this.stops(o).has(step[0])) break;
      ids.push(step[0]);
      const text = stripLocationTokens(this.tokenizer.decode(ids));
      // A byte-fallback character may be half decoded: wait for the rest of it.
      if (text.endsWith("\uFFFD") || text.length <= shown.length) continue;
      yield text.slice(shown.length);
      shown = text;
    }
    // Whatever was held back stays as decoded: bytes that never formed a character.
    const text = stripLocationTokens(this.tokenizer.decode(ids));
    if (text.length > shown.length) yield text.slice(shown.length);
  }

  /** Any prompt; arrays of images and/or prompts run as one right-padded batch. */
  generate(image: ImageInput, prompt: string, o?: GenerationOptions): Promise<GenerateResult>;
  generate(image: Many<ImageInput>, prompt: Many<string>, o?: GenerationOptions): Promise<GenerateResult[]>;
  async generate(image: Many<ImageInput>, prompt: Many<string>, o: GenerationOptions = {}) {
    const batched = Array.isArray(image) || Array.isArray(prompt);
    const [images, prompts] = broadcast(await this.images(image), Array.isArray(prompt) ? prompt : [prompt]);
    const out = await this.run(images, prompts, o);
    return batched ? out : out[0];
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.model.dispose();
    this.tokenizer.dispose();
    void this.maskDecoder?.then((d) => d.dispose()).catch(() => {});
  }

  private assertUsable(): void {
    if (this.disposed) throw new DisposedError("this PaliGemma");
  }

  private stops(o: GenerationOptions): Set<number> {
    return stopTokenSet(o, this.model.config.eosTokenIds, this.model.config.text.vocabSize);
  }

  private async images(image: Many<ImageInput>): Promise<RawImage[]> {
    this.assertUsable();
    const list = Array.isArray(image) ? image : [image];
    if (list.length === 0) throw new InputError("no image given");
    return Promise.all(list.map((i) => toRGBImage(i, this.limits)));
  }

  private async textTask(image: Many<ImageInput>, prompt: Many<string>, o: GenerationOptions) {
    const batched = Array.isArray(image) || Array.isArray(prompt);
    const [images, prompts] = broadcast(await this.images(image), Array.isArray(prompt) ? prompt : [prompt]);
    const out = (await this.run(images, prompts, o)).map((r) => ({ text: r.text }));
    return batched ? out : out[0];
  }

  private async run(images: RawImage[], prompts: string[], o: GenerationOptions): Promise<GenerateResult[]> {
    this.assertUsable();
    const t0 = performance.now();
    const inputs = await this.processor({ text: prompts, images });
    const t1 = performance.now();
    const stop = this.stops(o);
    const rows: number[][] = prompts.map(() => []);
    let firstAt = t1;
    let steps = 0;
    for await (const ids of generateTokens(this.model, inputs, o)) {
      if (steps++ === 0) firstAt = performance.now();
      ids.forEach((id, b) => id >= 0 && rows[b].push(id));
    }
    const t2 = performance.now();
    return rows.map((ids) => ({
      text: stripLocationTokens(this.tokenizer.decode(ids.filter((id) => !stop.has(id)))),
      tokenIds: Int32Array.from(ids),
      timings: { preprocessMs: t1 - t0, prefillMs: firstAt - t1, decodeMs: t2 - firstAt, newTokens: ids.length },
    }));
  }

  private loadMaskDecoder(): Promise<MaskDecoder> {
    this.maskDecoder ??= this.maskDecoderSource().then((bytes) => {
      if (!bytes) {
        throw new LoadError(
          "segment() needs PaliGemma's mask decoder: put big_vision's vae-oid.npz in the model folder or pass { maskDecoder } to PaliGemma.load",
        );
      }
      return loadMaskDecoder(bytes, { backend: this.model.backend });
    });
    return this.maskDecoder;
  }
}

function broadcast<A, B>(a: A[], b: B[]): [A[], B[]] {
  if (a.length === b.length) return [a, b];
  if (a.length === 1) return [b.map(() => a[0]), b];
  if (b.length === 1) return [a, a.map(() => b[0])];
  throw new InputError(`${a.length} images but ${b.length} prompts: give one of each per row, or one to share`);
}

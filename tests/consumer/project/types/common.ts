// Calls a consumer writes, type-checked under every tsconfig here (Node-only, DOM,
// Deno, bundler). Correct calls must compile; each @ts-expect-error marks a wrong call
// that must not (an unused @ts-expect-error is itself an error).
import {
  createWorkerEngine,
  PaliGemma,
  PaliGemmaError,
  prompts,
  type CachedModel,
  type Detection,
  type GenerateResult,
  type ImageInput,
  type LoadProgress,
  type PaliGemmaEngine,
  type Segmentation,
} from "paligemma-edge";
import { demoImage, demoModel, demoShapes } from "paligemma-edge/demo";

const stages: LoadProgress["stage"][] = [];
const pg: PaliGemma = await PaliGemma.load(demoModel, {
  device: "wasm",
  onProgress: (p) => stages.push(p.stage) && p.overall.loaded <= (p.overall.total ?? Infinity),
});
const cached: CachedModel[] = await PaliGemma.cache.list();
const sizes: number[] = cached.map((m) => m.size);
const has: boolean = await PaliGemma.cache.has("google/paligemma-3b-mix-224", { revision: "main" });
await PaliGemma.cache.delete("google/paligemma-3b-mix-224", { revision: "main" });
// @ts-expect-error delete needs the repository
await PaliGemma.cache.delete();
const bytes = new Uint8Array(8);
const pixels = { width: 2, height: 1, data: new Uint8Array(8) };

const one: { text: string } = await pg.caption(bytes);
const many: { text: string }[] = await pg.caption([bytes, pixels]);
// @ts-expect-error a batch of images gives one result per image
const notOne: { text: string } = await pg.caption([bytes, bytes]);
await pg.caption(demoImage, { lang: "fr", length: "long", maxNewTokens: 8 });
await pg.caption("photo.jpg"); // a path (Node, Deno) or URL
await pg.caption(new URL("https://example.com/photo.jpg"));
await pg.caption(new ArrayBuffer(8));
const answers: { text: string }[] = await pg.answer([bytes, bytes], ["how many stars?", "what colour?"]);
const boxes: Detection[] = await pg.detect(bytes, [...demoShapes]);
const masks: Segmentation[] = await pg.segment(bytes, "star");
const result: GenerateResult = await pg.generate(bytes, prompts.detect(["star"]), { temperature: 0.5, seed: 1 });
const rows: GenerateResult[] = await pg.generate([bytes, bytes], "caption en");
for await (const piece of pg.stream(bytes, "caption en", { signal: AbortSignal.timeout(1000) })) piece.toUpperCase();

// @ts-expect-error a number is not an image
await pg.caption(42);
// @ts-expect-error nor is an object without pixels
await pg.caption({ width: 1, height: 1 });
// @ts-expect-error detect needs labels
await pg.detect(bytes);
// @ts-expect-error captions are short or long
await pg.caption(bytes, { length: "medium" });
// @ts-expect-error there is no such device
await PaliGemma.load(demoModel, { device: "cuda" });
// @ts-expect-error a model source is not a number
await PaliGemma.load(7);

const engine: PaliGemmaEngine = await PaliGemma.load(demoModel, { worker: true });
const fromEngine: { text: string }[] = await engine.caption([bytes, bytes]);
const device: string = engine.device;
const engine2: PaliGemmaEngine = await createWorkerEngine(demoModel, { device: "auto" });
// @ts-expect-error an engine has no in-process model
engine.model;
engine.dispose();

try {
  await pg.caption(bytes);
} catch (e) {
  if (e instanceof PaliGemmaError) e.code.toLowerCase();
}
const image: ImageInput = bytes;
pg.dispose();
export { answers, boxes, device, engine2, fromEngine, image, many, masks, notOne, one, result, rows };

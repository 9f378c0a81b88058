// models/demo-shapes, the trained demo model, scored through the public API on each
// device against held-out scenes it never saw (tests/fixtures/demo-shapes, written by
// tools/train-demo/fixtures.py): caption exact match, detection mean IoU (a box counts
// only with the right label), segmentation mask IoU, counting accuracy. Objects are
// compared in the answer's reading order; a missing or extra object scores 0. Captions
// and counts run as one batch per device (a batch row equals the call alone: tests/api);
// detect and segment take one image. Both devices must give the same answers.
//
// TARGET is what issue 6 asks of the model, and the tests hold the shipped weights to it.
// They reach it with no margin to spare (32 of 40 captions and counts; models/demo-shapes/
// README.md), so any change in the SDK's numerics or a re-export that flips one answer fails.
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { PaliGemma, type Box } from "../../src/index.js";
import { testDevice } from "../harness/webgpu.js";

const MODEL = new URL("../../models/demo-shapes/", import.meta.url).pathname;
const DIR = new URL("../fixtures/demo-shapes/", import.meta.url);

interface Expected {
  label: string;
  box: [number, number, number, number];
  mask?: string;
}
interface Scene {
  seed: number;
  image: string;
  caption: { prompt: string; answer: string };
  detect: { prompt: string; objects: Expected[] };
  segment: { prompt: string; objects: Expected[] };
  count: { prompt: string; answer: string };
}

const { size, scenes } = JSON.parse(readFileSync(new URL("scenes.json", DIR), "utf8")) as { size: number; scenes: Scene[] };
const image = (s: Scene) => new Uint8Array(readFileSync(new URL(s.image, DIR)));
const labelsOf = (prompt: string) => prompt.split(" ").slice(1).join(" ").split(" ; ");

function boxIoU(a: Box, [x0, y0, x1, y1]: Expected["box"]): number {
  const iw = Math.max(0, Math.min(a.x1, x1) - Math.max(a.x0, x0));
  const ih = Math.max(0, Math.min(a.y1, y1) - Math.max(a.y0, y0));
  const union = (a.x1 - a.x0) * (a.y1 - a.y0) + (x1 - x0) * (y1 - y0) - iw * ih;
  return union > 0 ? (iw * ih) / union : 0;
}

function maskIoU(predicted: Float32Array, packed: string): number {
  const bits = Buffer.from(packed, "base64");
  let inter = 0;
  let union = 0;
  for (let i = 0; i < predicted.length; i++) {
    const want = (bits[i >> 3] >> (7 - (i & 7))) & 1;
    const have = predicted[i] > 0.5 ? 1 : 0;
    inter += want & have;
    union += want | have;
  }
  return union ? inter / union : 0;
}

/** Per expected object, its score against the prediction at the same place in reading order; extras score 0. */
function scoreObjects<P extends { label: string }>(want: Expected[], have: P[], score: (p: P, e: Expected) => number): number[] {
  const out = want.map((e, i) => (have[i] && have[i].label === e.label ? score(have[i], e) : 0));
  for (let i = want.length; i < have.length; i++) out.push(0);
  return out;
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

type Score = "caption" | "detect" | "segment" | "count";
const TARGET: Record<Score, number> = { caption: 0.8, detect: 0.7, segment: 0.6, count: 0.8 };

/** Every device's answers, in the order the tests ask; the last test compares them. */
const answers = new Map<string, string[]>();

function report(device: string, score: Score, value: number, detail: string) {
  console.log(`${device}: ${score} ${value.toFixed(3)} (${detail}); issue 6 target ${TARGET[score]}`);
  expect(value).toBeGreaterThanOrEqual(TARGET[score]);
}

const devices = [
  { name: "wasm", load: () => PaliGemma.load(MODEL, { device: "wasm" }) },
  { name: "webgpu", load: async () => PaliGemma.load(MODEL, { device: "webgpu", gpu: await testDevice() }) },
];

describe.each(devices)("demo-shapes on $name, $0 held-out scenes".replace("$0", String(scenes.length)), ({ name, load }) => {
  let pg: PaliGemma;
  const said: string[] = [];
  beforeAll(async () => {
    pg = await load();
    answers.set(name, said);
  });
  afterAll(() => pg?.dispose());

  test("the fixtures are the model's world", () => {
    expect(size).toBe(112);
    expect(scenes.length).toBeGreaterThanOrEqual(40);
  });

  // SwiftShader runs WGSL on the CPU: a few minutes for the 40 scenes' four tasks.
  const slow = { timeout: 300_000 };

  test("caption exact match", slow, async () => {
    const captions = await pg.caption(scenes.map(image));
    said.push(...captions.map((c) => c.text));
    const exact = captions.filter((c, i) => c.text === scenes[i].caption.answer).length;
    report(name, "caption", exact / scenes.length, `${exact}/${scenes.length} exact`);
  });

  test("detection mean IoU with correct labels", slow, async () => {
    const ious: number[] = [];
    for (const s of scenes) {
      const found = await pg.detect(image(s), labelsOf(s.detect.prompt));
      said.push(JSON.stringify(found));
      ious.push(...scoreObjects(s.detect.objects, found, (p, e) => boxIoU(p.box, e.box)));
    }
    report(name, "detect", mean(ious), `${ious.length} objects`);
  });

  test("segmentation mask IoU", slow, async () => {
    const ious: number[] = [];
    for (const s of scenes) {
      const found = await pg.segment(image(s), labelsOf(s.segment.prompt), { maxNewTokens: 100 });
      said.push(JSON.stringify(found.map(({ label, box }) => ({ label, box }))));
      ious.push(...scoreObjects(s.segment.objects, found, (p, e) => maskIoU(p.mask.data, e.mask!)));
    }
    report(name, "segment", mean(ious), `${ious.length} objects`);
  });

  test("counting accuracy", slow, async () => {
    const questions = scenes.map((s) => s.count.prompt.replace(/^answer en /, ""));
    const counts = await pg.answer(scenes.map(image), questions);
    said.push(...counts.map((c) => c.text));
    const right = counts.filter((a, i) => a.text === scenes[i].count.answer).length;
    report(name, "count", right / scenes.length, `${right}/${scenes.length} right`);
  });
});

test("WASM and WebGPU give the same answers", () => {
  expect(answers.get("webgpu")).toEqual(answers.get("wasm"));
  expect(answers.get("wasm")?.length).toBe(4 * scenes.length);
});

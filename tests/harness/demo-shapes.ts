// Scoring models/demo-shapes, the trained demo model, through the public API against
// the held-out scenes it never saw (tests/fixtures/demo-shapes, written by
// tools/train-demo/fixtures.py): caption exact match, detection mean IoU (a box counts
// only with the right label), segmentation mask IoU, counting accuracy. Objects are
// compared in the answer's reading order; a missing or extra object scores 0. Captions
// and counts run as one batch (a batch row equals the call alone: tests/api); detect and
// segment take one image. Shared by tests/demo-model/ (f16 on each device, q8 and q4).
import { readFileSync } from "node:fs";
import type { Box, PaliGemma } from "../../src/index.js";

export const DEMO_MODEL = new URL("../../models/demo-shapes/", import.meta.url).pathname;
const DIR = new URL("../fixtures/demo-shapes/", import.meta.url);

interface Expected {
  label: string;
  box: [number, number, number, number];
  mask?: string;
}
export interface Scene {
  seed: number;
  image: string;
  caption: { prompt: string; answer: string };
  detect: { prompt: string; objects: Expected[] };
  segment: { prompt: string; objects: Expected[] };
  count: { prompt: string; answer: string };
}

export const { size: sceneSize, scenes } = JSON.parse(readFileSync(new URL("scenes.json", DIR), "utf8")) as { size: number; scenes: Scene[] };
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

export type DemoTask = "caption" | "detect" | "segment" | "count";
export const DEMO_TASKS: DemoTask[] = ["caption", "detect", "segment", "count"];

/** What issue 6 asks of the model. The shipped weights reach it with no margin (models/demo-shapes/README.md). */
export const DEMO_TARGET: Record<DemoTask, number> = { caption: 0.8, detect: 0.7, segment: 0.6, count: 0.8 };

export interface DemoScore {
  value: number;
  /** How it was counted: "32/40 exact", "65 objects". */
  detail: string;
  /** The model's answers, one per scene in order, to compare devices and dtypes. */
  answers: string[];
}

/** Scores one task on `among` (default: every scene). */
export const scoreDemo: Record<DemoTask, (pg: PaliGemma, among?: Scene[]) => Promise<DemoScore>> = {
  async caption(pg, among = scenes) {
    const captions = await pg.caption(among.map(image));
    const exact = captions.filter((c, i) => c.text === among[i].caption.answer).length;
    return { value: exact / among.length, detail: `${exact}/${among.length} exact`, answers: captions.map((c) => c.text) };
  },
  async detect(pg, among = scenes) {
    const ious: number[] = [];
    const answers: string[] = [];
    for (const s of among) {
      const found = await pg.detect(image(s), labelsOf(s.detect.prompt));
      answers.push(JSON.stringify(found));
      ious.push(...scoreObjects(s.detect.objects, found, (p, e) => boxIoU(p.box, e.box)));
    }
    return { value: mean(ious), detail: `${ious.length} objects`, answers };
  },
  async segment(pg, among = scenes) {
    const ious: number[] = [];
    const answers: string[] = [];
    for (const s of among) {
      const found = await pg.segment(image(s), labelsOf(s.segment.prompt), { maxNewTokens: 100 });
      answers.push(JSON.stringify(found.map(({ label, box }) => ({ label, box }))));
      ious.push(...scoreObjects(s.segment.objects, found, (p, e) => maskIoU(p.mask.data, e.mask!)));
    }
    return { value: mean(ious), detail: `${ious.length} objects`, answers };
  },
  async count(pg, among = scenes) {
    const questions = among.map((s) => s.count.prompt.replace(/^answer en /, ""));
    const counts = await pg.answer(among.map(image), questions);
    const right = counts.filter((a, i) => a.text === among[i].count.answer).length;
    return { value: right / among.length, detail: `${right}/${among.length} right`, answers: counts.map((c) => c.text) };
  },
};

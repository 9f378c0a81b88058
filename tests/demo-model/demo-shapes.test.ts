// models/demo-shapes, the trained demo model, scored through the public API against
// held-out scenes it never saw (the scoring: tests/harness/demo-shapes.ts). WASM answers
// all of them and is held to the targets; WebGPU answers every fourth scene and must give
// WASM's answers there, word for word and box for box.
//
// DEMO_TARGET is what issue 6 asks of the model, and the tests hold the shipped weights to it.
// They reach it with no margin to spare (32 of 40 captions and counts; models/demo-shapes/
// README.md), so any change in the SDK's numerics or a re-export that flips one answer fails.
//
// Why WebGPU gets a quarter: SwiftShader runs WGSL on the CPU at some milliseconds per
// dispatch whatever its size, so the demo model decodes ~100x slower there than on WASM
// (all 40 scenes took 5 minutes, 40% of the suite); the same answers on a quarter of the
// scenes still catch a kernel that differs, and WASM carries the score.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { PaliGemma } from "../../src/index.js";
import { DEMO_MODEL, DEMO_TARGET, DEMO_TASKS, type DemoTask, sceneSize, scenes, scoreDemo } from "../harness/demo-shapes.js";
import { testDevice } from "../harness/webgpu.js";

/** Every device's answers, task by task, in its scenes' order; the last test compares them. */
const answers = new Map<string, Partial<Record<DemoTask, string[]>>>();
const quarter = scenes.filter((_, i) => i % 4 === 0);

const titles: Record<DemoTask, string> = {
  caption: "caption exact match",
  detect: "detection mean IoU with correct labels",
  segment: "segmentation mask IoU",
  count: "counting accuracy",
};

test("the fixtures are the model's world", () => {
  expect(sceneSize).toBe(112);
  expect(scenes.length).toBeGreaterThanOrEqual(40);
});

describe(`demo-shapes on wasm, ${scenes.length} held-out scenes`, () => {
  let pg: PaliGemma;
  const said: Partial<Record<DemoTask, string[]>> = {};
  beforeAll(async () => {
    pg = await PaliGemma.load(DEMO_MODEL, { device: "wasm" });
    answers.set("wasm", said);
  });
  afterAll(() => pg?.dispose());

  for (const task of DEMO_TASKS) {
    test(titles[task], async () => {
      const { value, detail, answers } = await scoreDemo[task](pg);
      said[task] = answers;
      console.log(`wasm: ${task} ${value.toFixed(3)} (${detail}); issue 6 target ${DEMO_TARGET[task]}`);
      expect(value).toBeGreaterThanOrEqual(DEMO_TARGET[task]);
    });
  }
});

describe(`demo-shapes on webgpu, every fourth scene (${quarter.length})`, () => {
  let pg: PaliGemma;
  const said: Partial<Record<DemoTask, string[]>> = {};
  beforeAll(async () => {
    pg = await PaliGemma.load(DEMO_MODEL, { device: "webgpu", gpu: await testDevice() });
    answers.set("webgpu", said);
  });
  afterAll(() => pg?.dispose());

  // Segmentation on a quarter of the scenes took 45 s on a 2-core sandbox, on one twice
  // as slow as another.
  const slow = { timeout: 300_000 };

  for (const task of DEMO_TASKS) {
    test(titles[task], slow, async () => {
      const { value, detail, answers } = await scoreDemo[task](pg, quarter);
      said[task] = answers;
      console.log(`webgpu: ${task} ${value.toFixed(3)} (${detail}) on every fourth scene`);
      expect(answers).toHaveLength(quarter.length);
    });
  }
});

test("WebGPU gives WASM's answers on the scenes both answered", () => {
  for (const task of DEMO_TASKS) {
    const wasm = answers.get("wasm")?.[task];
    expect(wasm, task).toHaveLength(scenes.length);
    expect(answers.get("webgpu")?.[task], task).toEqual(wasm!.filter((_, i) => i % 4 === 0));
  }
});

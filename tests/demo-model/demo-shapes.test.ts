// models/demo-shapes, the trained demo model, scored through the public API on each
// device against held-out scenes it never saw (the scoring: tests/harness/demo-shapes.ts).
// Both devices must give the same answers.
//
// DEMO_TARGET is what issue 6 asks of the model, and the tests hold the shipped weights to it.
// They reach it with no margin to spare (32 of 40 captions and counts; models/demo-shapes/
// README.md), so any change in the SDK's numerics or a re-export that flips one answer fails.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { PaliGemma } from "../../src/index.js";
import { DEMO_MODEL, DEMO_TARGET, DEMO_TASKS, type DemoTask, sceneSize, scenes, scoreDemo } from "../harness/demo-shapes.js";
import { testDevice } from "../harness/webgpu.js";

/** Every device's answers, in the order the tests ask; the last test compares them. */
const answers = new Map<string, string[]>();

const devices = [
  { name: "wasm", load: () => PaliGemma.load(DEMO_MODEL, { device: "wasm" }) },
  { name: "webgpu", load: async () => PaliGemma.load(DEMO_MODEL, { device: "webgpu", gpu: await testDevice() }) },
];

const titles: Record<DemoTask, string> = {
  caption: "caption exact match",
  detect: "detection mean IoU with correct labels",
  segment: "segmentation mask IoU",
  count: "counting accuracy",
};

describe.each(devices)("demo-shapes on $name, $0 held-out scenes".replace("$0", String(scenes.length)), ({ name, load }) => {
  let pg: PaliGemma;
  const said: string[] = [];
  beforeAll(async () => {
    pg = await load();
    answers.set(name, said);
  });
  afterAll(() => pg?.dispose());

  test("the fixtures are the model's world", () => {
    expect(sceneSize).toBe(112);
    expect(scenes.length).toBeGreaterThanOrEqual(40);
  });

  // SwiftShader runs WGSL on the CPU: a few minutes for the 40 scenes' four tasks, and
  // segmentation alone took 142 s on one 2-core sandbox and over 300 s on a slower one.
  const slow = { timeout: 600_000 };

  for (const task of DEMO_TASKS) {
    test(titles[task], slow, async () => {
      const { value, detail, answers } = await scoreDemo[task](pg);
      said.push(...answers);
      console.log(`${name}: ${task} ${value.toFixed(3)} (${detail}); issue 6 target ${DEMO_TARGET[task]}`);
      expect(value).toBeGreaterThanOrEqual(DEMO_TARGET[task]);
    });
  }
});

test("WASM and WebGPU give the same answers", () => {
  expect(answers.get("webgpu")).toEqual(answers.get("wasm"));
  expect(answers.get("wasm")?.length).toBe(4 * scenes.length);
});

// paligemma-edge/demo: the shipped demo model's files and example image as file: URLs
// beside the module load in Node exactly as the model folder does and answer the same.
import { describe, expect, it } from "vitest";
import { demoImage, demoModel, demoShapes } from "../../src/demo.js";
import { PaliGemma } from "../../src/runtime/node.js";
import { onNodeWasm, SHAPES } from "../examples/reference.js";

describe("paligemma-edge/demo", () => {
  it("the demo model by URL answers as the folder does, on the demo image by URL", async () => {
    const [want, pg] = await Promise.all([
      onNodeWasm(async (folder, image) => ({ caption: await folder.caption(image), detect: await folder.detect(image, SHAPES) })),
      PaliGemma.load(demoModel, { device: "wasm" }),
    ]);
    try {
      expect(await pg.caption(demoImage)).toEqual(want.caption);
      expect(await pg.detect(demoImage, [...demoShapes])).toEqual(want.detect);
      expect(want.detect.length).toBeGreaterThan(0);
    } finally {
      pg.dispose();
    }
  });

  it("names exactly the files of models/demo-shapes that the package ships", async () => {
    const pkg = (await import("../../package.json", { with: { type: "json" } })).default as { files: string[] };
    const shipped = Object.values(demoModel).map((u) => u.pathname.replace(/^.*\/models\//, "models/"));
    for (const f of [...shipped, demoImage.pathname.replace(/^.*\/examples\//, "examples/")]) expect(pkg.files).toContain(f);
    expect(demoShapes).toEqual(SHAPES);
  });
});

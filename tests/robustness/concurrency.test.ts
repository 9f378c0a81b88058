// Issue 16, item 1: concurrent first loads on WebGPU used to abort the process inside Dawn
// (two `webgpu` instances created at once). Four loads at once must each answer what one
// load alone answers.
import { resolve } from "node:path";
import { expect, test } from "vitest";
import { DEMO, reportOf, runChild } from "./child.js";

const SHAPES = resolve("examples/assets/shapes.png");

test("4 concurrent first loads on WebGPU give one load's answers", async () => {
  const report = await reportOf(
    runChild(
      `const { readFileSync } = await import("node:fs");
      const image = new Uint8Array(readFileSync(args.image));
      const ask = async (m) => {
        const caption = (await m.caption(image, { maxNewTokens: 12 })).text;
        const detect = await m.detect(image, "circle", { maxNewTokens: 10 });
        return { caption, detect, backend: m.model.backend.name };
      };
      const models = await Promise.all([0, 1, 2, 3].map(() => pg.PaliGemma.load(args.model, { device: args.device })));
      const together = await Promise.all(models.map(ask));
      models.forEach((m) => m.dispose());
      const alone = await pg.PaliGemma.load(args.model, { device: args.device });
      const single = await ask(alone);
      alone.dispose();
      return { together, single };`,
      { args: { model: DEMO, image: SHAPES, device: "webgpu" }, timeoutMs: 90_000, maxHeapMiB: 1024 },
    ),
  );
  expect(report.error).toBeUndefined();
  const { together, single } = report.value as { together: unknown[]; single: { caption: string; backend: string } };
  expect(single.backend).toBe("webgpu");
  expect(single.caption.length).toBeGreaterThan(0);
  expect(together).toEqual([single, single, single, single]);
});

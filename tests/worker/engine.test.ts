// The worker engine from the built package (a worker thread runs dist/node-worker.js):
// the same answers as the model in this process, streamed pieces that add up to them,
// bytes transferred (detached here), the memory plan, progress, abort and typed errors across the thread,
// and a process that exits by itself when its engine is idle.
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
// The built package, by its own name: worker threads run JavaScript, not this checkout's TypeScript.
import { AbortedError, DisposedError, InputError, PaliGemma, type PaliGemmaEngine } from "paligemma-edge";
import { demoImage, demoModel } from "paligemma-edge/demo";
import { onNodeWasm, SHAPES, SHAPES_PNG } from "../examples/reference.js";

let want: { memory: PaliGemmaEngine["memory"]; caption: { text: string }; detect: unknown; segment: { label: string; mask: { data: Float32Array } }[]; batch: { text: string }[] };
beforeAll(async () => {
  want = await onNodeWasm(async (pg, image) => ({
    memory: pg.memory,
    caption: await pg.caption(image),
    detect: await pg.detect(image, SHAPES),
    segment: await pg.segment(image, "star"),
    batch: await pg.caption([image, image], { maxNewTokens: 6 }),
  }));
});

describe("PaliGemma.load(source, { worker: true })", () => {
  it("answers as the model in this process does, streaming included, and moves image bytes", async () => {
    const stages = new Set<string>();
    const pg: PaliGemmaEngine = await PaliGemma.load(demoModel, { worker: true, device: "wasm", onProgress: (p) => stages.add(p.stage) });
    try {
      expect(pg.device).toBe("wasm");
      expect(pg.memory).toEqual(want.memory); // the dtype and memory plan chosen over there
      expect(stages.size).toBeGreaterThan(0);
      const bytes = new Uint8Array(readFileSync(SHAPES_PNG));
      expect(await pg.caption(bytes)).toEqual(want.caption);
      expect(bytes.byteLength).toBe(0); // transferred, not copied
      const pieces: string[] = [];
      for await (const piece of pg.stream(demoImage, "caption en")) pieces.push(piece);
      expect(pieces.join("")).toBe(want.caption.text);
      expect(pieces.length).toBeGreaterThan(1);
      expect(await pg.detect(SHAPES_PNG, SHAPES)).toEqual(want.detect);
      const segment = await pg.segment(demoImage, "star");
      expect(segment).toEqual(want.segment);
      expect(segment[0]?.mask.data).toBeInstanceOf(Float32Array);
      expect(await pg.caption([demoImage, SHAPES_PNG], { maxNewTokens: 6 })).toEqual(want.batch);
    } finally {
      pg.dispose();
    }
  });

  it("carries aborts and typed errors across, and refuses calls after dispose", async () => {
    const pg = await PaliGemma.load(demoModel, { worker: true, device: "wasm" });
    const bad = pg.caption(42 as never);
    await expect(bad).rejects.toBeInstanceOf(InputError);
    await expect(bad).rejects.toMatchObject({ code: "INVALID_INPUT", message: expect.stringContaining("unsupported image input") });
    const controller = new AbortController();
    const aborted = pg.generate(demoImage, "caption en", { signal: controller.signal, maxNewTokens: 64 });
    controller.abort();
    await expect(aborted).rejects.toBeInstanceOf(AbortedError);
    // Stopping a stream early stops it in the worker; the engine goes on working.
    for await (const _ of pg.stream(demoImage, "caption en")) break;
    expect(await pg.caption(demoImage)).toEqual(want.caption);
    pg.dispose();
    await expect(pg.caption(demoImage)).rejects.toBeInstanceOf(DisposedError);
  });

  it("does not keep Node running once its calls are answered", async () => {
    const script = `import { PaliGemma } from "./dist/node.js"; import { demoModel, demoImage } from "./dist/demo.js";
      const pg = await PaliGemma.load(demoModel, { worker: true, device: "wasm" });
      console.log((await pg.caption(demoImage)).text);`; // no dispose()
    const { stdout } = await promisify(execFile)(process.execPath, ["--input-type=module", "-e", script], { timeout: 30_000 });
    expect(stdout).toBe(want.caption.text + "\n");
  });
});

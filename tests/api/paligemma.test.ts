// The public API end to end on the bundled tiny random model (models/tiny-random), on
// each device: the tasks build PaliGemma's prompts, streaming gives the same text as
// generate, a batch gives each row what it gets alone, the same seed the same tokens,
// and bad input is a typed error.
import { readFileSync } from "node:fs";
import { describe, expect, test } from "vitest";
import { AbortedError, DisposedError, InputError, PaliGemma, PaliGemmaError } from "../../src/index.js";
import { testDevice } from "../harness/webgpu.js";

const MODEL = new URL("../../models/tiny-random/", import.meta.url).pathname;
const image = new Uint8Array(readFileSync(new URL("../../examples/assets/house.png", import.meta.url)));
const other = { width: 5, height: 3, channels: 3, data: Uint8Array.from({ length: 45 }, (_, i) => i * 5) };

const devices = [
  { name: "wasm", load: () => PaliGemma.load(MODEL, { device: "wasm" }) },
  { name: "webgpu", load: async () => PaliGemma.load(MODEL, { device: "webgpu", gpu: await testDevice() }) },
];

describe.each(devices)("PaliGemma on $name", ({ load }) => {
  test("tasks, streaming, batches and seeds", async () => {
    const pg = await load();
    try {
      const opts = { maxNewTokens: 8 };
      const g = await pg.generate(image, "caption en", opts);
      expect(g.tokenIds.length).toBeGreaterThan(0);
      expect(g.timings.newTokens).toBe(g.tokenIds.length);
      expect(await pg.caption(image, opts)).toEqual({ text: g.text });
      expect((await pg.caption(image, { ...opts, length: "long" })).text).toBe((await pg.generate(image, "describe en", opts)).text);
      expect((await pg.answer(image, "what is it?", { ...opts, lang: "fr" })).text).toBe(
        (await pg.generate(image, "answer fr what is it?", opts)).text,
      );
      expect((await pg.ocr(image, opts)).text).toBe((await pg.generate(image, "ocr", opts)).text);

      let streamed = "";
      for await (const piece of pg.stream(image, "caption en", opts)) streamed += piece;
      expect(streamed).toBe(g.text);

      // A batch of 3 (different images and prompt lengths, right-padded) equals 3 single calls.
      const prompts = ["caption en", "answer en how many windows are there in the picture?", "ocr"];
      const images = [image, other, image];
      const batch = await pg.generate(images, prompts, opts);
      for (let i = 0; i < 3; i++) {
        const single = await pg.generate(images[i], prompts[i], opts);
        expect(Array.from(batch[i].tokenIds), `row ${i}`).toEqual(Array.from(single.tokenIds));
        expect(batch[i].text).toBe(single.text);
      }

      const sampled = { maxNewTokens: 8, temperature: 1.2, topK: 40, seed: 1234 };
      const s1 = await pg.generate(image, "caption en", sampled);
      expect(Array.from((await pg.generate(image, "caption en", sampled)).tokenIds)).toEqual(Array.from(s1.tokenIds));

      const ctl = new AbortController();
      ctl.abort();
      await expect(pg.caption(image, { signal: ctl.signal })).rejects.toThrow(AbortedError);
    } finally {
      pg.dispose();
    }
  });
});

test("bad input is a typed error", async () => {
  const pg = await PaliGemma.load(MODEL, { device: "wasm" });
  await expect(pg.caption(42 as never)).rejects.toThrow(PaliGemmaError);
  await expect(pg.caption(new Uint8Array([1, 2, 3, 4]))).rejects.toMatchObject({ code: "UNSUPPORTED_IMAGE_FORMAT" });
  await expect(pg.detect(image, [])).rejects.toThrow(InputError);
  await expect(pg.detect(image, ["cat", " "])).rejects.toThrow(/labels must be non-empty/);
  await expect(pg.segment(image, "a ; b")).rejects.toThrow(/without ";"/);
  await expect(pg.answer(image, "")).rejects.toThrow(/non-empty question/);
  await expect(pg.caption(image, { lang: "en us" })).rejects.toThrow(/language code/);
  await expect(pg.generate([image, image], ["a", "b", "c"])).rejects.toThrow(/2 images but 3 prompts/);
  // The tiny model's context is 8192 tokens: a question of ~9000 words cannot fit.
  await expect(pg.answer(image, "why ".repeat(9000), { maxNewTokens: 4 })).rejects.toThrow(/exceeds the model's context/);
  pg.dispose();
  await expect(pg.caption(image)).rejects.toThrow(DisposedError);
});

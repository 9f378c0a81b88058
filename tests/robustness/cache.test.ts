// Issue 16, item 4: two processes loading one hub model into one cache folder at once
// used to break (ENOENT renaming tokenizer.json.partial, or a corrupt cached file). Now
// one downloads while the other waits for its lock, and both load the same bytes.
import { existsSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, expect, test } from "vitest";
import { reportOf, runChild } from "./child.js";
import { type LocalServer, modelServer, weights } from "./small-model.js";

let server: LocalServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

test("two processes loading into one cache folder: one download, both load, nothing corrupt", async () => {
  const s = await modelServer({ slow: true });
  server = s;
  const cache = mkdtempSync(join(tmpdir(), "pg-robust-shared-"));
  const load = () =>
    reportOf(
      runChild(
        `const m = await pg.PaliGemmaForConditionalGeneration.load("hf://test/tiny", { device: "wasm", endpoint: args.endpoint, cache: args.cache });
        m.dispose();
        return "loaded";`,
        { args: { endpoint: s.origin, cache }, timeoutMs: 30_000 },
      ),
    );
  const reports = await Promise.all([load(), load()]);
  expect(reports.map((r) => r.error ?? r.value)).toEqual(["loaded", "loaded"]);
  const folder = join(cache, "test", "tiny", "main");
  expect(new Uint8Array(readFileSync(join(folder, "model.safetensors")))).toEqual(weights);
  expect(readdirSync(folder).filter((f) => /\.(partial|lock)$|\.meta\.json\.\d+$/.test(f))).toEqual([]);
  // One process downloaded the weights; the other waited and read them from the cache.
  expect(s.ranges).toEqual([undefined]);
  expect(existsSync(join(folder, "config.json"))).toBe(true);
});

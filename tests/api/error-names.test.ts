// Every error class's `name` is its own, also after a consumer's bundler minified the
// package (which renames classes: `new.target.name` read "A" or "k" there). The built
// dist/index.js is bundled and minified here with rolldown, as vite's production build does.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { build } from "rolldown";
import { afterAll, describe, expect, it } from "vitest";

const dir = mkdtempSync(join(tmpdir(), "pg-minified-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("error names", () => {
  it("are the class names in a minified bundle of dist/index.js", async () => {
    await build({ input: "dist/index.js", output: { dir, format: "esm", minify: true, entryFileNames: "index.js" }, logLevel: "silent" });
    const sdk = (await import(pathToFileURL(join(dir, "index.js")).href)) as Record<string, unknown>;
    const Base = sdk.PaliGemmaError as new (code: string, message: string) => Error;
    const classes = Object.entries(sdk).filter(([, v]) => v === Base || (typeof v === "function" && v.prototype instanceof Base));
    expect(classes.length).toBeGreaterThanOrEqual(16);
    for (const [exported, ErrorClass] of classes) {
      const e = new (ErrorClass as new (...args: unknown[]) => Error)("X", "message", 1, 2);
      expect([exported, e.name, String(e).split(":")[0]]).toEqual([exported, exported, exported]);
    }
  });
});

// The package as a user gets it: `npm pack`, then `npm install` of the tarball into a new
// project in a temporary folder outside this repository (its dependencies from npm's
// cache, which `npm ci` filled, else the registry), and there: the README's quick start
// (the CLI on the bundled demo model, its script in Node and Deno), a Node ESM script (in
// process and through the worker engine), a CommonJS require, the type checks (wrong
// calls must not compile), a Deno script, and a default vite app built and served by vite
// and run in headless Chromium through the worker engine (WASM, then WebGPU on
// SwiftShader), its DOM checked and screenshotted to tests/out/. Every answer must be the
// one the demo model gives in this process.
//
// Part of `npm test` (about 30 s of CPU: the npm install, four type checks, a vite build,
// Chromium). It packs the dist/ that is there (`npm run build` first; `npm test` does);
// PACKAGE_TEST=0 skips it, e.g. offline with an empty npm cache.
import { spawn } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Browser } from "puppeteer-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium } from "../harness/browser.js";
import { DENO } from "../harness/deno.js";
import { nodeWasmReference, onNodeWasm, SHAPES } from "../examples/reference.js";
import { run, typeCheck, writeProject } from "./project.js";

const ENABLED = process.env.PACKAGE_TEST !== "0";
/** The repository's versions of the consumer's own tools, so npm finds them in its cache. */
const version = (name: string) => (JSON.parse(readFileSync(`node_modules/${name}/package.json`, "utf8")) as { version: string }).version;

let dir: string;
/** The demo image in the installed package, from the project's folder (as the README's quick start names it). */
const SHAPES_IN_PACKAGE = "node_modules/paligemma-edge/examples/assets/shapes.png";
/** A home of the test's own: the CLI's marker and any download cache go there, not into the user's. */
let home: { HOME: string; XDG_CACHE_HOME: undefined };
let want: { caption: string; detect: { label: string; box: { x0: number; y0: number; x1: number; y1: number } }[] };

beforeAll(async () => {
  if (!ENABLED) return;
  const [caption, detect] = await Promise.all([
    nodeWasmReference("caption en"),
    onNodeWasm((pg, image) => pg.detect(image, SHAPES)),
  ]);
  want = { caption: caption.text, detect };
  const root = mkdtempSync(join(tmpdir(), "pg-consumer-"));
  if (!existsSync("dist/index.js")) throw new Error("no dist/: npm run build first");
  // --ignore-scripts: dist/ is built (npm test's pretest); prepack would build it once more.
  const { stdout } = await run("npm", ["pack", "--json", "--ignore-scripts", "--pack-destination", root], process.cwd());
  const tarball = join(root, (JSON.parse(stdout) as { filename: string }[])[0].filename);
  dir = join(root, "app");
  home = { HOME: join(root, "home"), XDG_CACHE_HOME: undefined };
  mkdirSync(home.HOME);
  writeProject(dir, {
    "paligemma-edge": `file:${tarball}`,
    typescript: version("typescript"),
    "@types/node": version("@types/node"),
    "@webgpu/types": version("@webgpu/types"),
    vite: version("vite"),
  });
  await run("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error"], dir);
}, 600_000);

afterAll(() => {
  if (dir) rmSync(resolve(dir, ".."), { recursive: true, force: true });
});

describe.skipIf(!ENABLED)("the packed package in a new project", () => {
  it("the README's quick start: the script in Node and Deno, and what it says the CLI prints", async () => {
    const readme = readFileSync("README.md", "utf8");
    const script = /## Quick start[^]*?```js\n([^]*?)```/.exec(readme)?.[1];
    expect(script, "README.md's quick start has a js block").toBeDefined();
    writeFileSync(join(dir, "caption.mjs"), script!);
    expect((await run(process.execPath, ["caption.mjs"], dir, home)).stdout).toBe(want.caption + "\n");
    expect((await run(DENO, ["run", "--no-prompt", "--no-lock", "--allow-read", "--allow-env", "caption.mjs"], dir, home)).stdout).toBe(want.caption + "\n");
    expect(readme).toContain(`npx paligemma-edge caption ${SHAPES_IN_PACKAGE}\n\`\`\`\n\nprints \`${want.caption}\``);
  });

  it("the CLI answers from the bundled demo model, its note once, nothing of Dawn's probing", async () => {
    const image = SHAPES_IN_PACKAGE;
    // As a user's shell runs it: no XDG_RUNTIME_DIR, every installed Vulkan driver, device auto.
    const env = { ...home, XDG_RUNTIME_DIR: undefined, VK_ICD_FILENAMES: undefined, VK_DRIVER_FILES: undefined };
    const cli = (...args: string[]) => run(join(dir, "node_modules/.bin/paligemma-edge"), ["caption", image, ...args], dir, env);
    const [first, second, quiet] = [await cli(), await cli(), await cli("--quiet")];
    for (const r of [first, second, quiet]) expect(r.stdout).toBe(want.caption + "\n");
    expect(first.stderr).toMatch(/^note: the bundled demo model[^]*\nloaded model\.safetensors \([\d./]+ MB\)\nmodel loaded on \w+ as \w+ in [\d.]+ s\ncaption took [\d.]+ s\n$/);
    expect(second.stderr).toMatch(/^(loaded [\w.]+ \([\d./]+ [kM]B\)\n)*loaded model\.safetensors \([\d./]+ MB\)\nmodel loaded on \w+ as \w+ in [\d.]+ s\ncaption took [\d.]+ s\n$/);
    expect(quiet.stderr).toBe("");
  });

  it("a Node ESM script, in process and in a worker thread, and a CommonJS require", async () => {
    const esm = JSON.parse((await run(process.execPath, ["esm.mjs"], dir)).stdout);
    expect(esm).toEqual({ caption: want.caption, detect: want.detect, fromWorker: want.caption });
    const cjs = JSON.parse((await run(process.execPath, ["cjs.cjs"], dir)).stdout);
    expect(cjs).toEqual({ caption: want.caption });
  });

  it("a Deno script, with the permissions the README names", async () => {
    const flags = ["--allow-read", "--allow-env", "--allow-net", "--allow-write", "--allow-sys=homedir,hostname"];
    const { stdout } = await run(DENO, ["run", "--no-prompt", "--no-lock", ...flags, "deno.ts"], dir, home);
    expect(JSON.parse(stdout)).toEqual({ caption: want.caption, hub: "LoadError LOAD_FAILED" });
  });

  it("type-checks under Node-only, DOM, bundler and Deno settings, with wrong calls rejected", async () => {
    const tsc = join(dir, "node_modules/typescript/bin/tsc");
    await typeCheck(dir, tsc, DENO);
    // The check can fail: with one @ts-expect-error dropped, the wrong call it marks does not compile.
    const file = join(dir, "types/common.ts");
    const source = readFileSync(file, "utf8");
    writeFileSync(file, source.replace("// @ts-expect-error a number is not an image\n", ""));
    try {
      await expect(run(process.execPath, [tsc, "-p", "tsconfig.node.json"], dir)).rejects.toThrow(
        /Argument of type 'number' is not assignable to parameter of type 'ImageInput'/,
      );
    } finally {
      writeFileSync(file, source);
    }
  }, 300_000);

  describe("a default vite app in Chromium, through the worker engine", () => {
    let browser: Browser;
    let origin: string;
    let stop: () => void;

    beforeAll(async () => {
      // The model as a folder on vite's server too (public/demo/), copied from the installed package.
      const demo = join(dir, "vite/public/demo");
      mkdirSync(demo, { recursive: true });
      for (const f of ["config.json", "model.safetensors", "tokenizer.json"]) {
        cpSync(join(dir, "node_modules/paligemma-edge/models/demo-shapes", f), join(demo, f));
      }
      const vite = join(dir, "node_modules/vite/bin/vite.js");
      await run(process.execPath, [vite, "build", "vite"], dir);
      const server = spawn(process.execPath, [vite, "preview", "vite", "--host", "127.0.0.1", "--port", "0"], { cwd: dir });
      stop = () => server.kill();
      origin = await new Promise<string>((found, fail) => {
        let out = "";
        server.stdout.setEncoding("utf8").on("data", (s: string) => {
          out += s;
          const url = /http:\/\/127\.0\.0\.1:\d+/.exec(out.replace(/\x1b\[[\d;]*m/g, ""));
          if (url) found(url[0]);
        });
        server.on("exit", (code) => fail(new Error(`vite preview exited with ${code}:\n${out}`)));
      });
      browser = await launchChromium({ webgpu: true });
      mkdirSync("tests/out", { recursive: true });
    }, 300_000);

    afterAll(async () => {
      await browser?.close();
      stop?.();
    });

    async function open(query: string) {
      const page = await browser.newPage();
      await page.goto(`${origin}/${query}`);
      await page.waitForFunction(() => ["done", "error"].includes(document.body.dataset.state!), { timeout: 120_000 });
      const text = (id: string) => page.$eval(`#${id}`, (e) => e.textContent ?? "");
      expect(await text("error")).toBe("");
      return { page, text };
    }

    it("on WASM: the caption, the boxes, the model as a folder behind vite's SPA fallback", async () => {
      const { page, text } = await open("?device=wasm");
      expect(await text("device")).toBe("wasm");
      expect(await text("caption")).toBe(want.caption);
      const boxes = await page.$$eval("#boxes li", (lis) => lis.map((li) => li.textContent));
      expect(boxes).toEqual(want.detect.map(({ label, box: b }) => `${label} ${b.x0} ${b.y0} ${b.x1} ${b.y1}`));
      expect(boxes.length).toBeGreaterThan(0);
      expect(await text("folder")).toBe(want.caption);
      expect(await text("missing")).toMatch(/^LoadError LOAD_FAILED: tokenizer\.json in http:.*\/no-such-model\/ got an HTML page, not JSON: is the URL right\?/);
      await page.screenshot({ path: "tests/out/consumer-vite-wasm.png" });
    });

    it("on WebGPU (SwiftShader), when asked for", async () => {
      const reference = await nodeWasmReference("caption en", 2);
      const { page, text } = await open("?device=webgpu&tokens=2");
      expect(await text("device")).toBe("webgpu");
      expect(await text("caption")).toBe(reference.text);
      await page.screenshot({ path: "tests/out/consumer-vite-webgpu.png" });
    });
  });
});

// The CLI as a user runs it: `node dist/cli.js` (package.json "bin") on the bundled demo
// model and its example image, on the WASM backend. What it prints and draws must be
// what the API gives in this process.
import { execFile } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
import { decodeImage, type Detection, type GenerateResult, type Segmentation } from "../../src/runtime/node.js";
import { drawResults, labelColours, PALETTE } from "../../examples/node/draw.js";
import { DEMO_MODEL, onNodeWasm, SHAPES, SHAPES_PNG } from "./reference.js";

const run = promisify(execFile);

/** A new cache folder: the CLI notes there that it showed the demo model's note. */
const freshCache = () => mkdtempSync(join(tmpdir(), "pg-cli-cache-"));

/**
 * Runs the built CLI, by default as a user who never ran it (a new cache folder); resolves
 * with its exit code and output, whatever the code. `env` entries that are undefined are unset.
 */
async function cli(...args: (string | Record<string, string | undefined>)[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env: Record<string, string | undefined> = { ...process.env, XDG_CACHE_HOME: freshCache() };
  for (const a of args) if (typeof a === "object") Object.assign(env, a);
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];
  const argv = args.filter((a): a is string => typeof a === "string");
  try {
    const { stdout, stderr } = await run(process.execPath, ["dist/cli.js", ...argv], { encoding: "utf8", env });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const { code, stdout, stderr } = e as { code: number; stdout: string; stderr: string };
    return { code, stdout, stderr };
  }
}

const tempPng = (name: string) => join(mkdtempSync(join(tmpdir(), "pg-cli-")), name);

/** The PNG the CLI wrote must be drawResults of the source image and the API's results. */
async function expectDrawing(path: string, found: readonly (Detection | Segmentation)[]) {
  const drawn = await decodeImage(new Uint8Array(readFileSync(path)));
  const source = await decodeImage(new Uint8Array(readFileSync(SHAPES_PNG)));
  expect([drawn.width, drawn.height]).toEqual([source.width, source.height]);
  // decodeImage drops an opaque alpha channel; drawing nothing onto the PNG puts it back.
  expect(drawResults(drawn, [])).toEqual(drawResults(source, found));
}

/** The legend the CLI prints after drawing: each label's colour. */
const legend = (found: readonly Detection[]) =>
  [...labelColours(found)].map(([label, [r, g, b]]) => `${label} = rgb(${r}, ${g}, ${b})`).join(", ");

let api: { caption: GenerateResult; detect: Detection[]; segment: Segmentation[] };
beforeAll(async () => {
  // The CLI's default --max-tokens is the API's default, so only the caption names one.
  api = await onNodeWasm(async (pg, image) => ({
    caption: await pg.generate(image, "caption en", { maxNewTokens: 16 }),
    detect: await pg.detect(image, SHAPES),
    segment: await pg.segment(image, "star"),
  }));
});

describe("paligemma-edge CLI", () => {
  it("caption --json prints the GenerateResult the API gives", async () => {
    const r = await cli("caption", SHAPES_PNG, "--json", "--device", "wasm", "--max-tokens", "16");
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.tokenIds).toEqual(Array.from(api.caption.tokenIds));
    expect(out.text).toBe(api.caption.text);
    expect(out.timings.newTokens).toBe(api.caption.tokenIds.length);
    expect(r.stderr).toContain("model loaded on wasm");
  });

  it("caption streams the same text, and says what the bundled model knows and what to use instead", async () => {
    const r = await cli("caption", SHAPES_PNG, "--device", "wasm", "--max-tokens", "16");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(api.caption.text + "\n");
    expect(r.stderr).toContain("the bundled demo model (models/demo-shapes)");
    expect(r.stderr).toMatch(/circles, squares, triangles, stars and crosses \(red, green,\s+blue, yellow, purple, orange or white; small or large\)/);
    expect(r.stderr).toMatch(/Even there about one caption in\s+four is wrong; on photos its answers are meaningless/);
    expect(r.stderr).toContain("--model google/paligemma-3b-mix-224");
    expect(r.stderr).toContain("HF_TOKEN");
    const mb = (statSync(`${DEMO_MODEL}/model.safetensors`).size / 2 ** 20).toFixed(1);
    expect(r.stderr).toContain(`loaded model.safetensors (${mb}/${mb} MB)`); // the progress line, off a terminal
  });

  it("shows the demo model's note once per user; --quiet drops notes, progress and timings", async () => {
    const XDG_CACHE_HOME = freshCache();
    const [first, second, quiet] = [
      await cli("caption", SHAPES_PNG, "--device", "wasm", { XDG_CACHE_HOME }),
      await cli("caption", SHAPES_PNG, "--device", "wasm", { XDG_CACHE_HOME }),
      await cli("caption", SHAPES_PNG, "--device", "wasm", "--quiet"),
    ];
    for (const r of [first, second, quiet]) expect([r.code, r.stdout]).toEqual([0, api.caption.text + "\n"]);
    expect(first.stderr).toContain("note: the bundled demo model");
    expect(second.stderr).not.toContain("demo model");
    expect(second.stderr).toContain("model loaded on wasm");
    expect(quiet.stderr).toBe("");
  });

  it("prints nothing of Dawn's adapter probing on --device auto, as a user's shell runs it", async () => {
    // No XDG_RUNTIME_DIR (ssh, containers, CI) and every installed Vulkan driver (here Mesa's
    // lavapipe, which Dawn turns down with a warning, and on a desktop the real GPU's).
    const r = await cli("caption", SHAPES_PNG, { XDG_RUNTIME_DIR: undefined, VK_ICD_FILENAMES: undefined, VK_DRIVER_FILES: undefined });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/XDG_RUNTIME_DIR|Warning|Vulkan|BackendType|dawn/i);
    expect(r.stderr).toMatch(/^note: the bundled demo model[^]*\nmodel loaded on (wasm|webgpu) as \w+ in [\d.]+ s\ncaption took [\d.]+ s\n$/);
  });

  it("says a --model folder that is not there does not exist", async () => {
    const r = await cli("caption", SHAPES_PNG, "--model", "./no-such-model", "--device", "wasm", "-q");
    expect([r.code, r.stderr]).toEqual([1, `error: the model folder ./no-such-model does not exist (${join(process.cwd(), "no-such-model")})\n`]);
  });

  it("detect prints the API's boxes, and --out draws exactly them onto the image", async () => {
    expect(api.detect.length).toBeGreaterThan(0); // else the drawing would be the image itself
    const out = tempPng("boxes.png");
    const r = await cli("detect", SHAPES_PNG, SHAPES.join(" ; "), "--out", out, "--device", "wasm");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(api.detect.map(({ label, box: b }) => `${label}: (${b.x0}, ${b.y0}) - (${b.x1}, ${b.y1})\n`).join(""));
    expect(r.stderr).toContain(`wrote ${out} (${legend(api.detect)})`);
    await expectDrawing(out, api.detect);
  });

  it("segment --json prints the API's result (masks to 3 decimals), and --out draws it", async () => {
    const out = tempPng("mask.png");
    const r = await cli("segment", SHAPES_PNG, "star", "--json", "--out", out, "--device", "wasm");
    expect(r.code, r.stderr).toBe(0);
    const rounded = api.segment.map((s) => ({
      ...s,
      mask: { ...s.mask, data: Array.from(s.mask.data, (x) => Math.round(x * 1000) / 1000) },
    }));
    expect(JSON.parse(r.stdout)).toEqual(rounded);
    await expectDrawing(out, api.segment);
  });

  it("refuses bad usage with exit code 2 and says what is missing", async () => {
    const [noQuestion, badDevice, outForText, missing] = await Promise.all([
      cli("answer", SHAPES_PNG),
      cli("caption", SHAPES_PNG, "--device", "tpu"),
      cli("caption", SHAPES_PNG, "--out", "x.png"),
      cli("caption", "no-such-image.png", "--device", "wasm"),
    ]);
    expect(noQuestion.code).toBe(2);
    expect(noQuestion.stderr).toContain("answer needs a QUESTION");
    expect([badDevice.code, badDevice.stderr.split("\n")[0]]).toEqual([2, 'error: --device must be auto, webgpu or wasm, got "tpu"']);
    expect([outForText.code, outForText.stderr.split("\n")[0]]).toEqual([2, "error: --out draws detect and segment results"]);
    expect([missing.code, missing.stderr.trim()]).toEqual([1, "error: ENOENT: no such file or directory, open 'no-such-image.png'"]);
  });
});

describe("paligemma-edge quantize", () => {
  /** The header of a safetensors file: tensor name -> dtype and shape. */
  const header = (path: string): Record<string, { dtype: string; shape: number[] }> => {
    const buf = readFileSync(path);
    return JSON.parse(buf.subarray(8, 8 + Number(buf.readBigUInt64LE(0))).toString());
  };

  it.each(["q4", "q8"])("--dtype %s writes the format; --model DST answers what --model SRC --dtype does", async (dtype) => {
    const dst = join(mkdtempSync(join(tmpdir(), "pg-cli-")), dtype);
    const q = await cli("quantize", DEMO_MODEL, dst, "--dtype", dtype);
    expect(q.code, q.stderr).toBe(0);
    const mb = (statSync(`${DEMO_MODEL}/model.safetensors`).size / 2 ** 20).toFixed(1);
    expect(q.stderr).toContain(`quantized model.safetensors (${mb}/${mb} MB)`); // progress, on stderr
    expect(q.stderr).toMatch(new RegExp(`wrote ${dst}: model\\.safetensors \\([\\d.]+ MB; \\d+ matrices quantized to ${dtype}, \\d+ tensors copied\\)`));
    expect(q.stdout).toBe("");
    expect(readdirSync(dst).sort()).toEqual(["config.json", "model.safetensors", "tokenizer.json", "vae-oid.npz"]);
    expect(JSON.parse(readFileSync(join(dst, "config.json"), "utf8")).quantization_config).toEqual({
      quant_method: "paligemma-edge", bits: Number(dtype.slice(1)), group_size: 32, symmetric: true,
    });
    const embed = Object.entries(header(join(dst, "model.safetensors"))).filter(([n]) => n.includes("embed_tokens"));
    expect(embed.map(([n, t]) => [n.replace(/.*embed_tokens/, ""), t.dtype])).toEqual([[".qweight", "U32"], [".scales", "F16"]]);

    // Masks (to 3 decimals) are the most sensitive output: the same weights give the same ones.
    const [viaFolder, atLoad, f16] = await Promise.all([
      cli("segment", SHAPES_PNG, "star", "--json", "--device", "wasm", "--model", dst),
      cli("segment", SHAPES_PNG, "star", "--json", "--device", "wasm", "--dtype", dtype),
      cli("segment", SHAPES_PNG, "star", "--json", "--device", "wasm", "--dtype", "f16"),
    ]);
    for (const r of [viaFolder, atLoad, f16]) expect(r.code, r.stderr).toBe(0);
    expect(viaFolder.stderr).toContain(`model loaded on wasm as ${dtype}`);
    expect(atLoad.stderr).toContain(`model loaded on wasm as ${dtype}`);
    expect(f16.stderr).toContain("model loaded on wasm as f16");
    expect(JSON.parse(viaFolder.stdout)).toEqual(JSON.parse(atLoad.stdout));
    // ...and the dtype was used: at q4 the masks move from f16's (q8's stay within 3 decimals on this model).
    if (dtype === "q4") expect(f16.stdout).not.toBe(atLoad.stdout);
  });

  it("refuses bad usage with exit code 2, and a bad source or destination with 1", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pg-cli-"));
    const [noDtype, badDtype, noDst, badTaskDtype, missing, notEmpty, help] = await Promise.all([
      cli("quantize", DEMO_MODEL, join(dir, "a")),
      cli("quantize", DEMO_MODEL, join(dir, "b"), "--dtype", "f16"),
      cli("quantize", DEMO_MODEL, "--dtype", "q4"),
      cli("caption", SHAPES_PNG, "--dtype", "q2"),
      cli("quantize", join(dir, "no-such-model"), join(dir, "c"), "--dtype", "q4"),
      cli("quantize", DEMO_MODEL, DEMO_MODEL, "--dtype", "q4"),
      cli("quantize", "--help"),
    ]);
    expect([noDtype.code, noDtype.stderr.split("\n")[0]]).toEqual([2, "error: quantize needs --dtype q4 or --dtype q8"]);
    expect(noDtype.stderr).toContain("usage: paligemma-edge quantize SRC DST --dtype q4|q8");
    expect([badDtype.code, badDtype.stderr.split("\n")[0]]).toEqual([2, 'error: --dtype must be q4 or q8, got "f16"']);
    expect([noDst.code, noDst.stderr.split("\n")[0]]).toEqual([2, "error: quantize needs SRC and DST"]);
    expect([badTaskDtype.code, badTaskDtype.stderr.split("\n")[0]]).toEqual([2, 'error: --dtype must be auto, f16, q8 or q4, got "q2"']);
    expect([missing.code, missing.stderr.trim()]).toEqual([1, `error: the model folder ${join(dir, "no-such-model")} does not exist`]);
    expect(notEmpty.code).toBe(1);
    expect(notEmpty.stderr).toMatch(/^error: models\/demo-shapes is not empty \(.*\): quantize writes into a new or empty folder\n$/);
    expect([help.code, help.stdout.split("\n")[0]]).toEqual([0, "usage: paligemma-edge quantize SRC DST --dtype q4|q8"]);
    expect(readdirSync(dir)).toEqual(["c"]); // usage errors write nothing; the missing source left its DST empty
    expect(readdirSync(join(dir, "c"))).toEqual([]);
  });
});

describe("--out drawing", () => {
  const image = { width: 6, height: 5, channels: 3 as const, data: new Uint8Array(6 * 5 * 3).fill(100) };
  const at = (rgba: Uint8Array, x: number, y: number) => Array.from(rgba.subarray((y * 6 + x) * 4, (y * 6 + x) * 4 + 4));

  it("outlines a box inside its edges (x1, y1 exclusive) in the label's colour", () => {
    const rgba = drawResults(image, [{ label: "cat", box: { x0: 1, y0: 1, x1: 6, y1: 5 } }]);
    const colour = [...PALETTE[0], 255];
    expect(at(rgba, 1, 1)).toEqual(colour);
    expect(at(rgba, 5, 4)).toEqual(colour);
    expect(at(rgba, 0, 0)).toEqual([100, 100, 100, 255]); // outside
    const big = { width: 40, height: 40, channels: 3 as const, data: new Uint8Array(40 * 40 * 3) };
    const inner = drawResults(big, [{ label: "cat", box: { x0: 0, y0: 0, x1: 40, y1: 40 } }]);
    expect(Array.from(inner.subarray((20 * 40 + 20) * 4, (20 * 40 + 20) * 4 + 4))).toEqual([0, 0, 0, 255]); // inside
  });

  it("blends a mask in at half strength where it is 1, not at all where it is 0", () => {
    const data = new Float32Array(6 * 5);
    data[0] = 1;
    const rgba = drawResults(image, [
      { label: "a", box: { x0: 3, y0: 3, x1: 3, y1: 3 } },
      { label: "b", box: { x0: 5, y0: 4, x1: 5, y1: 4 }, mask: { width: 6, height: 5, data } },
    ]);
    const [r, g, b] = PALETTE[1]; // the second label's colour
    expect(at(rgba, 0, 0)).toEqual([Math.round(50 + r / 2), Math.round(50 + g / 2), Math.round(50 + b / 2), 255]);
    expect(at(rgba, 1, 0)).toEqual([100, 100, 100, 255]);
  });
});

// The CLI as a user runs it: `node dist/cli.js` (package.json "bin") on the bundled tiny
// model and the example image, on the WASM backend.
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
import { decodeImage } from "../../src/runtime/node.js";
import { drawResults, PALETTE } from "../../examples/node/draw.js";
import { HOUSE_PNG, nodeWasmReference } from "./reference.js";

const run = promisify(execFile);

/** Runs the built CLI; resolves with its exit code and output, whatever the code. */
async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ["dist/cli.js", ...args], { encoding: "utf8" });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const { code, stdout, stderr } = e as { code: number; stdout: string; stderr: string };
    return { code, stdout, stderr };
  }
}

let reference: Awaited<ReturnType<typeof nodeWasmReference>>;
beforeAll(async () => {
  reference = await nodeWasmReference("caption en", 16);
});

describe("paligemma-edge CLI", () => {
  it("caption --json prints the GenerateResult the API gives", async () => {
    const r = await cli("caption", HOUSE_PNG, "--json", "--device", "wasm", "--max-tokens", "16");
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.tokenIds).toEqual(Array.from(reference.tokenIds));
    expect(out.text).toBe(reference.text);
    expect(out.timings.newTokens).toBe(reference.tokenIds.length);
    expect(r.stderr).toContain("model loaded on wasm");
  });

  it("caption streams the same text, and says plainly that the bundled model is random", async () => {
    const r = await cli("caption", HOUSE_PNG, "--device", "wasm", "--max-tokens", "16");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(reference.text + "\n");
    expect(r.stderr).toMatch(/weights are RANDOM/);
    expect(r.stderr).toContain("--model google/paligemma-3b-mix-224");
    expect(r.stderr).toContain("HF_TOKEN");
    expect(r.stderr).toMatch(/loaded model\.safetensors \(0\.5\/0\.5 MB\)/); // the progress line, off a terminal
  });

  it("detect --out writes a PNG of the image's size; the tiny model finds nothing, so it is the image", async () => {
    const out = join(mkdtempSync(join(tmpdir(), "pg-cli-")), "boxes.png");
    const r = await cli("detect", HOUSE_PNG, "house ; tree", "--out", out, "--device", "wasm", "--max-tokens", "8");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe("no house, tree found\n");
    const drawn = await decodeImage(new Uint8Array(readFileSync(out)));
    const source = await decodeImage(new Uint8Array(readFileSync(HOUSE_PNG)));
    expect([drawn.width, drawn.height]).toEqual([320, 240]);
    expect(drawn.data).toEqual(source.data);
  });

  it("segment --json prints a JSON array", async () => {
    const r = await cli("segment", HOUSE_PNG, "roof", "--json", "--device", "wasm", "--max-tokens", "8");
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual([]);
  });

  it("refuses bad usage with exit code 2 and says what is missing", async () => {
    const [noQuestion, badDevice, outForText, missing] = await Promise.all([
      cli("answer", HOUSE_PNG),
      cli("caption", HOUSE_PNG, "--device", "tpu"),
      cli("caption", HOUSE_PNG, "--out", "x.png"),
      cli("caption", "no-such-image.png", "--device", "wasm"),
    ]);
    expect(noQuestion.code).toBe(2);
    expect(noQuestion.stderr).toContain("answer needs a QUESTION");
    expect([badDevice.code, badDevice.stderr.split("\n")[0]]).toEqual([2, 'error: --device must be auto, webgpu or wasm, got "tpu"']);
    expect([outForText.code, outForText.stderr.split("\n")[0]]).toEqual([2, "error: --out draws detect and segment results"]);
    expect([missing.code, missing.stderr.trim()]).toEqual([1, "error: ENOENT: no such file or directory, open 'no-such-image.png'"]);
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

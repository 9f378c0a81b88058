// The browser-only inputs (ImageData, OffscreenCanvas, <canvas>, ImageBitmap, <img>)
// and jSquash loading its own .wasm, in headless Chromium: the page imports src/
// through Vite's dev server on the loopback interface.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import puppeteer, { type Browser } from "puppeteer-core";
import { createServer, type ViteDevServer } from "vite";
import { expectClose } from "../harness/compare.js";
import { FIXTURES, readTensors } from "../harness/fixtures.js";

const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";

interface Rgb {
  width: number;
  height: number;
  data: number[];
}
type PageResult = Record<"imageData" | "offscreen" | "canvas" | "bitmap" | "img", Rgb> & {
  jpeg: number[];
  pixelValues: number[];
  error?: string;
};

let server: ViteDevServer;
let browser: Browser;
let result: PageResult;

beforeAll(async () => {
  server = await createServer({
    root: process.cwd(),
    server: { host: "127.0.0.1", port: 0 },
    logLevel: "error",
    optimizeDeps: { noDiscovery: true, include: [] }, // serve @jsquash as published, beside its .wasm
  });
  await server.listen();
  const { port } = server.httpServer!.address() as { port: number };
  browser = await puppeteer.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--headless=new"] });
  const page = await browser.newPage();
  await page.goto(`http://127.0.0.1:${port}/tests/image/browser-page.html`);
  await page.waitForFunction("window.result", { timeout: 60_000 });
  result = (await page.evaluate("window.result")) as PageResult;
  if (result.error) throw new Error(result.error);
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

describe("in Chromium", () => {
  const pattern = Array.from({ length: 15 }, (_, i) => [i * 10, 255 - i * 10, i * 3]).flat();
  for (const kind of ["imageData", "offscreen", "canvas", "bitmap"] as const) {
    it(`${kind} -> its RGB pixels`, () => {
      expect(result[kind]).toEqual({ width: 5, height: 3, data: pattern });
    });
  }

  it("<img> -> the PNG's pixels", () => {
    const src = readTensors(`${FIXTURES}processor/golden.safetensors`).get("tiny.src")!.data;
    expect(result.img).toEqual({ width: 3, height: 5, data: Array.from(src) });
  });

  it("decodes a JPEG bit-exact with Pillow, the codec fetching its own .wasm", () => {
    const expected = readTensors(`${FIXTURES}processor/golden.safetensors`).get("landscape.jpg_rgb")!.data;
    expect(result.jpeg.length).toBe(expected.length);
    expect(result.jpeg.every((v, i) => v === expected[i])).toBe(true);
  });

  it("pixel values equal the HF processor's", () => {
    const expected = readTensors(`${FIXTURES}processor/golden.safetensors`).get("upscale.pixel_values")!.data;
    expectClose(result.pixelValues, expected, { atol: 0 }, "upscale");
  });
});

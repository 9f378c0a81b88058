// examples/cloudflare-worker as it deploys: bundled by wrangler from its wrangler.toml
// (`wrangler deploy --dry-run`, which resolves paligemma-edge to dist/workerd.js), then
// run in workerd through miniflare with the bundled demo model. Captions and boxes are
// computed by the WASM backend inside workerd and must be the ones Node's WASM path gives.
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { Miniflare } from "miniflare";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nodeWasmReference, onNodeWasm, SHAPES, SHAPES_PNG } from "./reference.js";

const EXAMPLE = "examples/cloudflare-worker";
let out: string;
let mf: Miniflare;

beforeAll(async () => {
  out = mkdtempSync(join(tmpdir(), "pg-worker-"));
  await promisify(execFile)(resolve("node_modules/.bin/wrangler"), ["deploy", "--dry-run", "--outdir", out], {
    cwd: EXAMPLE,
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", NO_COLOR: "1" },
  });
  mf = workerd();
});

/** The bundled worker in workerd; `bindings` are wrangler.toml's [vars] as a deploy sets them. */
const workerd = (bindings?: Record<string, string>) =>
  new Miniflare({
    modules: true,
    scriptPath: join(out, "worker.js"),
    modulesRoot: out,
    // The module kinds wrangler.toml declares: compiled .wasm, the model files as data.
    modulesRules: [
      { type: "CompiledWasm", include: ["**/*.wasm"] },
      { type: "Data", include: ["**/*.safetensors", "**/*.json"] },
    ],
    compatibilityDate: "2025-07-01",
    bindings,
  });

afterAll(async () => {
  await mf?.dispose();
  if (out) rmSync(out, { recursive: true, force: true });
});

const post = (path: string, body: Uint8Array) => mf.dispatchFetch(`http://worker${path}`, { method: "POST", body });

describe("examples/cloudflare-worker in workerd", () => {
  it("POST /caption returns the caption Node's WASM path gives", async () => {
    const [res, reference] = await Promise.all([post("/caption", readFileSync(SHAPES_PNG)), nodeWasmReference("caption en")]);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/json");
    expect(await res.json()).toEqual({ task: "caption", text: reference.text });
  });

  it("POST /detect returns the boxes Node's WASM path gives", async () => {
    const [res, reference] = await Promise.all([
      post(`/detect?labels=${SHAPES.join(";")}`, readFileSync(SHAPES_PNG)),
      onNodeWasm((pg, image) => pg.detect(image, SHAPES)),
    ]);
    expect(res.status).toBe(200);
    expect(reference.length).toBeGreaterThan(0); // boxes to compare, not just an empty list
    expect(await res.json()).toEqual({ task: "detect", detections: reference });
  });

  it("answers a bad request with 400 and the SDK's error code", async () => {
    const noQuestion = await post("/answer", readFileSync(SHAPES_PNG));
    expect(noQuestion.status).toBe(400);
    expect(((await noQuestion.json()) as { code: string }).code).toBe("INVALID_INPUT");
    const gif = await post("/caption", new TextEncoder().encode("GIF89a not really"));
    expect(gif.status).toBe(400);
    expect(await gif.json()).toMatchObject({ code: "UNSUPPORTED_IMAGE_FORMAT", error: expect.stringContaining("GIF") });
  });

  it("loads with the DTYPE var: a bad one is the SDK's 400", async () => {
    const other = workerd({ DTYPE: "q3" });
    try {
      const res = await other.dispatchFetch("http://worker/caption", { method: "POST", body: readFileSync(SHAPES_PNG) });
      expect(res.status).toBe(400);
      expect(await res.json()).toEqual({ code: "INVALID_INPUT", error: 'dtype must be "f16", "q8", "q4" or "auto", got "q3"' });
    } finally {
      await other.dispose();
    }
  });

  it("refuses GET and unknown tasks", async () => {
    expect((await mf.dispatchFetch("http://worker/caption")).status).toBe(405);
    expect((await post("/translate", readFileSync(SHAPES_PNG))).status).toBe(404);
  });
});

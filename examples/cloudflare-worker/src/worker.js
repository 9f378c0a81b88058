// A Cloudflare-style worker answering questions about images with PaliGemma on the WASM
// backend (workerd has no WebGPU). POST the image bytes (PNG, JPEG or WebP):
//   POST /caption            -> {"task":"caption","text":"..."}
//   POST /answer?q=QUESTION  -> {"task":"answer","text":"..."}
//   POST /ocr                -> {"task":"ocr","text":"..."}
//   POST /detect?labels=cat;dog -> {"task":"detect","detections":[{"label","box"}]}
//
// The model is bundled: here the demo model (models/demo-shapes, 3.1 MB), a ~1.6M-parameter
// PaliGemma trained only on synthetic scenes of circles, squares, triangles, stars and
// crosses (red, green, blue, yellow, purple, orange or white; small or large). It knows
// nothing else: on photos its answers are meaningless. Ask it what it was trained on:
//   POST /caption, /detect?labels=circle;square;triangle;star;cross, /answer?q=how many stars?
// A worker holds at most 128 MB, far below a real PaliGemma (3B parameters, 6 GB in f16,
// 1.7 GB in q4): serve real checkpoints from self-hosted workerd or another runtime.
// The DTYPE var (wrangler.toml [vars]) is how the weights are held: "auto" (the most
// precise that fits), "f16", "q8" or "q4" (a model bundled as written by
// `paligemma-edge quantize` loads only as its own dtype, or "auto").
import { ImageError, InputError, PaliGemma, UnsupportedImageFormatError } from "paligemma-edge";
import config from "../../../models/demo-shapes/config.json";
import weights from "../../../models/demo-shapes/model.safetensors";
import tokenizer from "../../../models/demo-shapes/tokenizer.json";

// Loaded once per isolate and shared by the requests it serves.
let loading;

function model(env) {
  loading ??= PaliGemma.load(
    { "config.json": config, "model.safetensors": weights, "tokenizer.json": tokenizer },
    { device: "wasm", dtype: env?.DTYPE ?? "auto" },
  ).catch((e) => {
    loading = undefined; // let the next request try again
    throw e;
  });
  return loading;
}

const json = (body, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });

async function run(pg, task, image, params) {
  if (task === "caption") return { text: (await pg.caption(image)).text };
  if (task === "ocr") return { text: (await pg.ocr(image)).text };
  if (task === "answer") return { text: (await pg.answer(image, params.get("q") ?? "")).text };
  if (task === "detect") return { detections: await pg.detect(image, (params.get("labels") ?? "").split(";")) };
  return undefined;
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const task = url.pathname.slice(1);
    if (request.method !== "POST") {
      return json({ error: "POST an image to /caption, /answer?q=..., /ocr or /detect?labels=a;b" }, 405);
    }
    try {
      const image = new Uint8Array(await request.arrayBuffer());
      const result = await run(await model(env), task, image, url.searchParams);
      if (!result) return json({ error: `unknown task "${task}": use /caption, /answer, /ocr or /detect` }, 404);
      return json({ task, ...result });
    } catch (e) {
      // These name what was wrong with the request (a bad image, a missing question).
      const isClientError = e instanceof InputError || e instanceof ImageError || e instanceof UnsupportedImageFormatError;
      if (isClientError) return json({ error: e.message, code: e.code }, 400);
      throw e;
    }
  },
};

// The model's own thread: loading and generation run here, so the page keeps drawing
// while SigLIP and Gemma compute. Messages in: {type:"load", model, device} and
// {type:"run", task, image (encoded bytes), text, maxNewTokens}. Messages out: progress, loaded,
// piece (streamed text), done, error.
import { PaliGemma, prompts } from "../../dist/index.js";

let pg;

const send = (message, transfer = []) => self.postMessage(message, transfer);

/** The text tasks, which stream. */
const PROMPTS = { caption: () => prompts.caption(), answer: (q) => prompts.answer(q), ocr: () => prompts.ocr() };

async function load({ model, device }) {
  pg?.dispose();
  pg = undefined;
  const t0 = performance.now();
  pg = await PaliGemma.load(model, { device, onProgress: (p) => send({ type: "progress", ...p }) });
  send({ type: "loaded", device: pg.model.backend.name, ms: performance.now() - t0 });
}

async function run({ task, image, text, maxNewTokens }) {
  const bytes = new Uint8Array(image);
  const options = { maxNewTokens };
  const t0 = performance.now();
  let firstMs;
  if (task in PROMPTS) {
    let all = "";
    for await (const piece of pg.stream(bytes, PROMPTS[task](text), options)) {
      firstMs ??= performance.now() - t0;
      all += piece;
      send({ type: "piece", text: piece });
    }
    send({ type: "done", task, text: all, timings: { firstMs, totalMs: performance.now() - t0 } });
    return;
  }
  const labels = text.split(";").map((l) => l.trim());
  const found = task === "detect" ? await pg.detect(bytes, labels, options) : await pg.segment(bytes, labels, options);
  const masks = found.filter((f) => f.mask).map((f) => f.mask.data.buffer);
  send({ type: "done", task, found, timings: { totalMs: performance.now() - t0 } }, masks);
}

self.onmessage = async ({ data }) => {
  try {
    if (data.type === "load") await load(data);
    else if (data.type === "run") await run(data);
  } catch (e) {
    send({ type: "error", message: e?.message ?? String(e), code: e?.code });
  }
};

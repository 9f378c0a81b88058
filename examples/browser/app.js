// The page: pick or drop an image, choose a task, watch the answer stream in; boxes
// and masks are drawn over the image. The model runs in a Web Worker (the SDK's worker
// engine: PaliGemma.load(..., { worker: true })), so this thread only draws.
// body[data-state] says where it is (loading, ready, running, done, error, failed: the
// model did not load), which is also what the example's test waits on.
import { PaliGemma, prompts } from "../../dist/index.js";

const params = new URLSearchParams(location.search);
// A hub repository ("google/paligemma-3b-mix-224") as is; a path or URL of a model folder made absolute.
const modelParam = params.get("model") ?? "/models/demo-shapes/";
const MODEL = /^[./]/.test(modelParam) ? new URL(modelParam, location.href).href : modelParam;
const DEVICE = params.get("device") ?? "auto";
// How the weights are held: auto (the most precise that fits the device), f16, q8 or q4.
const DTYPE = params.get("dtype") ?? "auto";
// Okabe-Ito: distinct on photos and for common colour blindness (as the CLI draws).
const PALETTE = ["#e69f00", "#56b4e9", "#009e73", "#f0e442", "#0072b2", "#d55e00", "#cc79a7"];

const $ = (id) => document.getElementById(id);
const view = $("view");
const ctx = view.getContext("2d");

let pg; // the model's engine, once loaded
let bitmap; // the image as shown
let bytes; // the image as encoded, for the model
let loadMs = 0;

function setState(state, status) {
  document.body.dataset.state = state;
  if (status !== undefined) $("status").textContent = status;
  $("run").disabled = !pg || state === "running" || !bytes;
}

async function useImage(blob) {
  bytes = await blob.arrayBuffer();
  bitmap = await createImageBitmap(blob);
  view.width = bitmap.width;
  view.height = bitmap.height;
  ctx.drawImage(bitmap, 0, 0);
  $("output").textContent = "";
  $("results").replaceChildren();
  if (pg) setState("ready");
}

function drawFound(found) {
  ctx.drawImage(bitmap, 0, 0);
  const colours = new Map();
  for (const f of found) if (!colours.has(f.label)) colours.set(f.label, PALETTE[colours.size % PALETTE.length]);
  for (const f of found) {
    const colour = colours.get(f.label);
    if (f.mask) {
      // Blend the mask in at up to 50%, by its value.
      const [r, g, b] = [1, 3, 5].map((i) => parseInt(colour.slice(i, i + 2), 16));
      const pixels = ctx.getImageData(0, 0, view.width, view.height);
      const m = new Float32Array(f.mask.data);
      for (let i = 0; i < m.length; i++) {
        const a = 0.5 * Math.min(1, Math.max(0, m[i]));
        pixels.data[i * 4] = pixels.data[i * 4] * (1 - a) + r * a;
        pixels.data[i * 4 + 1] = pixels.data[i * 4 + 1] * (1 - a) + g * a;
        pixels.data[i * 4 + 2] = pixels.data[i * 4 + 2] * (1 - a) + b * a;
      }
      ctx.putImageData(pixels, 0, 0);
    }
    const { x0, y0, x1, y1 } = f.box;
    ctx.lineWidth = Math.max(2, Math.round(Math.min(view.width, view.height) / 150));
    ctx.strokeStyle = colour;
    ctx.strokeRect(x0, y0, x1 - x0, y1 - y0);
    ctx.fillStyle = colour;
    ctx.font = `${Math.max(12, ctx.lineWidth * 6)}px system-ui`;
    ctx.fillText(f.label, x0 + ctx.lineWidth, y0 + ctx.lineWidth * 7);
  }
  $("results").replaceChildren(
    ...found.map((f) => {
      const li = document.createElement("li");
      li.className = "detection";
      li.dataset.label = f.label;
      li.dataset.box = JSON.stringify(f.box);
      const swatch = document.createElement("span");
      swatch.style.background = colours.get(f.label);
      const r = (v) => Math.round(v);
      li.append(swatch, `${f.label}: (${r(f.box.x0)}, ${r(f.box.y0)}) – (${r(f.box.x1)}, ${r(f.box.y1)})${f.mask ? ", with mask" : ""}`);
      return li;
    }),
  );
}

const ms = (v) => `${Math.round(v)} ms`;
const showError = (e) => ($("error").textContent = e.code ? `${e.code}: ${e.message}` : String(e.message ?? e));

/** The text tasks, which stream. */
const PROMPTS = { caption: () => prompts.caption(), answer: (q) => prompts.answer(q), ocr: () => prompts.ocr() };

async function run(task, text, maxNewTokens) {
  // The worker takes the bytes it is given (transferred): it gets a copy, the page keeps its own.
  const image = bytes.slice(0);
  const t0 = performance.now();
  if (task in PROMPTS) {
    let first;
    for await (const piece of pg.stream(image, PROMPTS[task](text), { maxNewTokens })) {
      first ??= performance.now() - t0;
      $("output").textContent += piece;
    }
    return `first text after ${ms(first ?? 0)}, done in ${ms(performance.now() - t0)}`;
  }
  const labels = text.split(";").map((l) => l.trim()).filter(Boolean);
  if (labels.length === 0) throw new Error(`${task} needs what to look for, e.g. "star ; cross"`);
  const found = task === "detect" ? await pg.detect(image, labels, { maxNewTokens }) : await pg.segment(image, labels, { maxNewTokens });
  drawFound(found);
  $("output").textContent = found.length ? "" : "nothing found";
  return `done in ${ms(performance.now() - t0)}`;
}

$("run").onclick = async () => {
  const task = $("task").value;
  $("output").textContent = "";
  $("error").textContent = "";
  $("timings").textContent = "";
  $("results").replaceChildren();
  if (bitmap) ctx.drawImage(bitmap, 0, 0);
  setState("running");
  try {
    const took = await run(task, $("text").value, Number($("max-tokens").value) || 64);
    $("timings").textContent = `${task} on ${pg.device}: ${took} (model load ${ms(loadMs)})`;
    setState("done");
  } catch (e) {
    // A failed run (a bad label, an aborted call) leaves the model loaded and usable.
    showError(e);
    setState("error");
  }
};

$("file").onchange = () => $("file").files[0] && useImage($("file").files[0]);
const drop = $("drop");
drop.ondragover = (e) => {
  e.preventDefault();
  drop.classList.add("over");
};
drop.ondragleave = () => drop.classList.remove("over");
drop.ondrop = (e) => {
  e.preventDefault();
  drop.classList.remove("over");
  const file = e.dataTransfer.files[0];
  if (file) useImage(file);
};

if (MODEL.endsWith("/models/demo-shapes/")) {
  $("note").textContent =
    "This is the bundled demo model, a ~1.6M-parameter PaliGemma trained only on synthetic scenes of " +
    "circles, squares, triangles, stars and crosses (red, green, blue, yellow, purple, orange or white; " +
    "small or large). Even there about one caption in four is wrong; on photos its answers are meaningless. Ask it what it was " +
    'trained on: caption, detect "circle ; square ; triangle ; star ; cross", segment star, ' +
    'or answer "how many stars?". For real use open this page with ?model=<URL of a PaliGemma checkpoint folder> ' +
    "or ?model=google/paligemma-3b-mix-224 (a gated repository: the hub must let this page download it).";
}
async function load() {
  const t0 = performance.now();
  try {
    pg = await PaliGemma.load(MODEL, {
      worker: true,
      device: DEVICE,
      dtype: DTYPE,
      // Every core on WASM where the page is crossOriginIsolated (this example's server sends COOP/COEP); 1 elsewhere.
      threads: "auto",
      // The bar shows the whole load (every file once); the status line this file's stage.
      onProgress: ({ stage, file, loaded, total, overall }) => {
        if (overall.total) $("progress").value = overall.loaded / overall.total;
        if (stage !== "ready") $("status").textContent = `${stage} ${file}${total ? ` ${Math.floor((100 * loaded) / total)}%` : ""}…`;
      },
    });
  } catch (e) {
    showError(e);
    setState("failed", "the model did not load");
    return;
  }
  loadMs = performance.now() - t0;
  $("progress").value = 1;
  const { threads, threadNote } = pg.backendInfo;
  const on = threads ? `${pg.device}, ${threads} thread${threads > 1 ? "s" : ""}${threadNote ? ` (${threadNote})` : ""}` : pg.device;
  setState(bytes ? "ready" : "loaded", `model loaded on ${on} as ${pg.memory.dtype} in ${ms(loadMs)}`);
}

await Promise.all([load(), fetch(new URL("../assets/shapes.png", import.meta.url)).then(async (r) => useImage(await r.blob()))]);

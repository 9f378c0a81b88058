// PaliGemma in Deno, on WebGPU when Deno finds an adapter (else WASM). From the repository
// root, after `npm install && npm run build`:
//   deno run --allow-read --allow-env examples/deno/caption.ts [IMAGE] [PROMPT] [--model=DIR|ID]
//     [--device=auto|webgpu|wasm] [--dtype=auto|f16|q8|q4] [--max-tokens=N]
// Defaults: examples/assets/shapes.png, "caption en", the bundled demo model, auto, auto, 64.
// --dtype is how the weights are held: auto picks the most precise that fits the device
// (f16, else q8, else q4); q8/q4 quantize a full-precision checkpoint as it loads, and a
// folder written by `paligemma-edge quantize` loads as its own dtype.
// The demo model (models/demo-shapes) knows only synthetic scenes of coloured shapes and
// the prompts it was trained on: PROMPT can also be e.g. "answer en how many stars?".
// Hub models (--model=google/paligemma-3b-mix-224) also need --allow-net, --allow-write (the
// download cache), --allow-sys=homedir,hostname (where the cache is, unless XDG_CACHE_HOME
// says; the host in a download's lock file) and HF_TOKEN.
//
// Deno runs the Node entry: its node: modules give Deno the file system (model folders,
// the download cache). In your own project: import { PaliGemma } from "npm:paligemma-edge".
import { fileURLToPath } from "node:url";
import { PaliGemma } from "../../dist/node.js";

const flag = (name: string) => Deno.args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const [imagePath, prompt = "caption en"] = Deno.args.filter((a) => !a.startsWith("--"));
const modelFlag = flag("model");
const device = (flag("device") ?? "auto") as "auto" | "webgpu" | "wasm";
const dtype = (flag("dtype") ?? "auto") as "auto" | "f16" | "q8" | "q4"; // the SDK refuses any other
const maxNewTokens = Number(flag("max-tokens") ?? 64);
const model = modelFlag ?? fileURLToPath(new URL("../../models/demo-shapes", import.meta.url));
if (!modelFlag) {
  console.error(
    "note: the bundled demo model is a ~1.6M-parameter PaliGemma trained only on synthetic scenes of circles,\n" +
      "      squares, triangles, stars and crosses (red, green, blue, yellow, purple, orange or white; small or\n" +
      "      large). Even there about one caption in four is wrong; on photos its answers are meaningless\n" +
      "      (see models/demo-shapes/README.md).\n" +
      "      For real use: --model=google/paligemma-3b-mix-224 (gated: accept the license, set HF_TOKEN) or a folder.",
  );
}

const image = await Deno.readFile(imagePath ?? new URL("../assets/shapes.png", import.meta.url));
const t0 = performance.now();
const pg = await PaliGemma.load(model, { device, dtype });
const t1 = performance.now();
console.error(`loaded ${model} on ${pg.model.backend.name} as ${pg.memory.dtype} in ${(t1 - t0).toFixed(0)} ms`);

const out = new TextEncoder();
for await (const piece of pg.stream(image, prompt, { maxNewTokens })) await Deno.stdout.write(out.encode(piece));
await Deno.stdout.write(out.encode("\n"));
console.error(`${prompt}: ${(performance.now() - t1).toFixed(0)} ms`);
pg.dispose();

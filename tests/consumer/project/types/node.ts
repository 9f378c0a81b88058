// Node inputs under lib ES2022 + @types/node only: no DOM, no WebGPU types.
import { readFileSync } from "node:fs";
import { Worker } from "node:worker_threads";
import { PaliGemma } from "paligemma-edge";
import { demoModel } from "paligemma-edge/demo";

const pg = await PaliGemma.load("./models/my-paligemma", { device: "auto", cache: "/tmp/cache" });
await pg.caption(readFileSync("photo.png"));
await pg.caption(new Blob([readFileSync("photo.png")]));
const engine = await PaliGemma.load(demoModel, { worker: new Worker(new URL("./worker.js", import.meta.url)) });
engine.dispose();
// @ts-expect-error a Buffer's encoding is not an image
await pg.caption("photo.png", "utf8");

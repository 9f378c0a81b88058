// A Node ESM consumer: the demo model and image shipped in the package, in this process
// and through the worker engine.
import { PaliGemma } from "paligemma-edge";
import { demoImage, demoModel, demoShapes } from "paligemma-edge/demo";

const pg = await PaliGemma.load(demoModel, { device: "wasm" });
const caption = (await pg.caption(demoImage)).text;
const detect = await pg.detect(demoImage, [...demoShapes]);
pg.dispose();
const engine = await PaliGemma.load(demoModel, { device: "wasm", worker: true });
const fromWorker = (await engine.caption(demoImage)).text;
engine.dispose();
console.log(JSON.stringify({ caption, detect, fromWorker }));

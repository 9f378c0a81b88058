// A Deno consumer of the installed package (node_modules, as npm put it there).
import { PaliGemma } from "paligemma-edge";
import { demoImage, demoModel } from "paligemma-edge/demo";

const pg = await PaliGemma.load(demoModel, { device: "wasm" });
console.log(JSON.stringify({ caption: (await pg.caption(await Deno.readFile(new URL(demoImage)))).text }));
pg.dispose();

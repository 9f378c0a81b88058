// A Deno consumer of the installed package (node_modules, as npm put it there).
import { PaliGemma } from "paligemma-edge";
import { demoImage, demoModel } from "paligemma-edge/demo";

const pg = await PaliGemma.load(demoModel, { device: "wasm" });
const caption = (await pg.caption(await Deno.readFile(new URL(demoImage)))).text;
pg.dispose();
// A hub model needs only the permissions the README names (--allow-sys just for homedir
// and hostname): this load gets as far as the network, which refuses it.
const hub = await PaliGemma.load("someone/some-model", { endpoint: "http://127.0.0.1:9", device: "wasm" }).catch((e) => e);
console.log(JSON.stringify({ caption, hub: `${hub.name} ${hub.code}` }));

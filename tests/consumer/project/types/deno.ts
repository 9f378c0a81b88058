// Deno: its own lib (WebGPU included) and its npm resolution. Checked with `deno check`.
import { PaliGemma } from "paligemma-edge";
import { demoImage, demoModel } from "paligemma-edge/demo";

const gpu = navigator.gpu;
const pg = await PaliGemma.load(demoModel, { device: "webgpu", gpu });
await pg.caption(await Deno.readFile("photo.png"));
await pg.caption(demoImage);
await pg.caption(await createImageBitmap(new Blob([await Deno.readFile("photo.png")])));
// @ts-expect-error a Deno.FsFile is not an image
await pg.caption(await Deno.open("photo.png"));

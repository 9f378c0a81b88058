// Browser inputs under the DOM lib (and WebGPU objects with @webgpu/types).
import { PaliGemma } from "paligemma-edge";

const pg = await PaliGemma.load("https://example.com/models/demo/", { device: "webgpu", gpu: navigator.gpu });
const canvas = document.createElement("canvas");
const img = document.querySelector("img")!;
const bitmap = await createImageBitmap(canvas);
await pg.caption(canvas);
await pg.caption(img);
await pg.caption(bitmap);
await pg.caption(new OffscreenCanvas(2, 2));
await pg.caption(new ImageData(2, 2));
await pg.caption(new File([], "x.png"));
await pg.caption(await fetch("x.png"));
await pg.caption(new Request("x.png"));
const many: { text: string }[] = await pg.caption([canvas, img, bitmap]);
const adapter = (await navigator.gpu.requestAdapter())!;
await PaliGemma.load("https://example.com/models/demo/", { gpu: adapter });
await PaliGemma.load("https://example.com/models/demo/", { gpu: await adapter.requestDevice() });
await PaliGemma.load("https://example.com/models/demo/", { worker: new Worker("worker.js", { type: "module" }) });
// @ts-expect-error a video element is not an image input
await pg.caption(document.createElement("video"));
// @ts-expect-error nor is a 2D context
await pg.caption(canvas.getContext("2d")!);
export { many };

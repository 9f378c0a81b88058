// image.wasm: Pillow-exact BICUBIC resizing and PaliGemma's pixel normalisation.
// Every function works on buffers the caller allocated in this module's memory.
export { allocate, release } from "./image/memory";
export { planResample } from "./image/resample-plan";
export { resize } from "./image/resize";
export { rgbaToRgb } from "./image/channels";
export { normalize } from "./image/normalize";

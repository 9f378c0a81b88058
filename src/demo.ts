// paligemma-edge/demo: the bundled demo model (models/demo-shapes, shipped in the package)
// and an image of its world, as URLs beside this module. Each is a literal
// `new URL("...", import.meta.url)`, the pattern bundlers (vite, webpack, esbuild with a
// plugin) turn into emitted assets, so a browser app serves them without configuration;
// Node and Deno read the file: URLs from disk.
//
// The model is a ~1.6M-parameter PaliGemma trained only on synthetic 112x112 scenes of
// circles, squares, triangles, stars and crosses; on anything else its answers are
// meaningless (models/demo-shapes/README.md).

/** The demo model's files, a model source for PaliGemma.load. */
export const demoModel = {
  "config.json": new URL("../models/demo-shapes/config.json", import.meta.url),
  "model.safetensors": new URL("../models/demo-shapes/model.safetensors", import.meta.url),
  "tokenizer.json": new URL("../models/demo-shapes/tokenizer.json", import.meta.url),
  "vae-oid.npz": new URL("../models/demo-shapes/vae-oid.npz", import.meta.url),
};

/** A 112x112 PNG scene of the demo model's world. */
export const demoImage = new URL("../examples/assets/shapes.png", import.meta.url);

/** The five shapes it knows: what detect and segment may ask it for. */
export const demoShapes = ["circle", "square", "triangle", "star", "cross"] as const;

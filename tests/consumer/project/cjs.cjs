// A CommonJS consumer: require() of the ESM package (Node >= 20.19 / 22.12).
const { PaliGemma } = require("paligemma-edge");
const { demoImage, demoModel } = require("paligemma-edge/demo");

PaliGemma.load(demoModel, { device: "wasm" }).then(async (pg) => {
  console.log(JSON.stringify({ caption: (await pg.caption(demoImage)).text }));
  pg.dispose();
});

// Checks an exported folder in the SDK itself: PaliGemma.load must accept it as a
// Hugging Face checkpoint, and its greedy answers (token ids, stop token included)
// must equal torch's from check_model.py on the same held-out images and prompts.
//
//   npm run build:js   (once; this reads dist/node.js)
//   python3 check_model.py ../../models/demo-shapes runs/held.npz expected.json
//   node check_model.mjs ../../models/demo-shapes expected.json [wasm|webgpu]
import { readFileSync } from "node:fs";
import { PaliGemma } from "../../dist/node.js";

const [folder, jsonPath, device = "wasm"] = process.argv.slice(2);
const { size, images, rows } = JSON.parse(readFileSync(jsonPath, "utf8"));
const pg = await PaliGemma.load(folder, { device });
let same = 0;
for (const { scene, prompt, ids } of rows) {
  const image = { width: size, height: size, channels: 3, data: new Uint8Array(Buffer.from(images[scene], "base64")) };
  const got = Array.from((await pg.generate(image, prompt, { maxNewTokens: 100 })).tokenIds);
  if (got.join() === ids.join()) same++;
  else console.log(`scene ${scene} "${prompt}":\n  torch ${ids.join(" ")}\n  SDK   ${got.join(" ")}`);
}
pg.dispose();
console.log(`${same} of ${rows.length} greedy answers equal torch's on ${device}`);
process.exit(same === rows.length ? 0 : 1);

// Checks a vqvae.py .npz in the SDK itself: loadMaskDecoder must accept it as it accepts
// vae-oid.npz, and decode the codes dumped by `vqvae_dump.py` to torch's masks.
//
//   npm run build   (once; this reads dist/node.js)
//   python3 vqvae_dump.py vae-demo.npz decoded.json && node check_mask_decoder.mjs vae-demo.npz decoded.json
import { readFileSync } from "node:fs";
import { loadMaskDecoder } from "../../dist/node.js";

const [npzPath, jsonPath] = process.argv.slice(2);
const { codes, masks } = JSON.parse(readFileSync(jsonPath, "utf8"));
const decoder = await loadMaskDecoder(readFileSync(npzPath), { device: "wasm" });
const got = await decoder.decode(Int32Array.from(codes.flat()));
const want = masks.flat(2);
let maxErr = 0;
let signFlips = 0;
for (let i = 0; i < want.length; i++) {
  maxErr = Math.max(maxErr, Math.abs(got[i] - want[i]));
  if (got[i] > 0 !== want[i] > 0) signFlips++;
}
decoder.dispose();
console.log(`${codes.length} masks: max |SDK - torch| = ${maxErr.toExponential(2)}, ${signFlips} of ${want.length} pixels change side`);
process.exit(maxErr < 1e-3 ? 0 : 1);

// Checks the demo tokenizer.json in the SDK itself: loadTokenizer must accept it, encode
// every prompt and answer to the ids tokenizer.py's Python BPE gives (so training sees
// what the SDK will feed the model), and decode them back to the same text.
//
//   npm run build   (once; this reads dist/node.js)
//   python3 dump_texts.py tokenizer.json texts.json && node check_tokenizer.mjs tokenizer.json texts.json
import { readFileSync } from "node:fs";
import { loadTokenizer } from "../../dist/node.js";

const [tokPath, textsPath] = process.argv.slice(2);
const tok = await loadTokenizer(readFileSync(tokPath, "utf8"));
const rows = JSON.parse(readFileSync(textsPath, "utf8"));
let bad = 0;
for (const { text, ids } of rows) {
  const got = Array.from(tok.encode(text, { addSpecialTokens: false }).ids);
  const back = tok.decode(got);
  if (got.join() !== ids.join() || back !== text) {
    if (bad++ < 5) console.log({ text, python: ids.join(), sdk: got.join(), back });
  }
}
console.log(`${rows.length - bad}/${rows.length} texts: SDK ids == Python ids and decode(encode(text)) == text`);
process.exit(bad ? 1 : 0);

// Run by cache-manager.test.ts under Deno, through the built Node entry (dist/node.js,
// which Deno runs with its node: modules): a hub load into a folder cache, then
// PaliGemma.cache list / has / delete there. Input (cache folder, hub endpoint) on stdin,
// results as JSON on stdout.
import { PaliGemma } from "../../../dist/node.js";

const { cache, endpoint } = await new Response(Deno.stdin.readable).json();
(await PaliGemma.load("test/demo", { device: "wasm", endpoint, cache })).dispose();
const listed = await PaliGemma.cache.list({ cache });
const has = await PaliGemma.cache.has("test/demo", { cache });
const removed = (await PaliGemma.cache.delete("test/demo", { cache })).map((m) => m.revision);
console.log(JSON.stringify({ listed, has, removed, after: await PaliGemma.cache.list({ cache }) }));

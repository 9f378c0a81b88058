// How fast downloads are hashed: the Node entry's node:crypto SHA-256 against the portable
// one (browsers, workerd), on the same 256 MiB fed in 64 KiB chunks as a download streams.
//   node bench/run.mjs bench/sha256.ts
import "../src/runtime/node.js";
import { createSha256, Sha256, type StreamingSha256 } from "../src/weights/sha256.js";

const MIB = 1 << 20;
const data = Uint8Array.from({ length: 256 * MIB }, (_, i) => (i * 2654435761) >>> 24);

function rate(make: () => StreamingSha256): number {
  const t0 = performance.now();
  const hash = make();
  for (let at = 0; at < data.length; at += 64 * 1024) hash.update(data.subarray(at, at + 64 * 1024));
  hash.hex();
  return data.length / MIB / ((performance.now() - t0) / 1000);
}

const portable = rate(() => new Sha256());
const native = rate(createSha256);
console.log(`portable Sha256 (baseline): ${portable.toFixed(0)} MiB/s`);
console.log(`node:crypto (Node, Deno):   ${native.toFixed(0)} MiB/s  (${(native / portable).toFixed(1)}x)`);

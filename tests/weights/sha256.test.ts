// Downloads are hashed as they stream (src/weights/sha256.ts): in Node (and Deno) by
// node:crypto, registered by the Node entry, elsewhere by the portable hasher. Both must
// give the same digest for any chunking. (The portable one against crypto.subtle: hub.test.ts.)
import { createHash } from "node:crypto";
import { describe, expect, test } from "vitest";
import { createSha256, Sha256 } from "../../src/weights/sha256.js";
import { rng } from "../harness/random.js";

describe("the download hasher", () => {
  test("is node:crypto's here, and agrees with the portable one on random data in random chunks", () => {
    const rand = rng(6);
    for (const n of [0, 1, 63, 64, 65, (1 << 18) + 77]) {
      const data = Uint8Array.from({ length: n }, () => (rand() * 256) | 0);
      const native = createSha256();
      expect(native).not.toBeInstanceOf(Sha256); // the Node entry registered node:crypto's
      const portable = new Sha256();
      for (let at = 0; at < n; ) {
        const chunk = data.subarray(at, (at += 1 + Math.floor(rand() * 5000)));
        native.update(chunk);
        portable.update(chunk);
      }
      const want = createHash("sha256").update(data).digest("hex");
      expect([native.hex(), portable.hex()], `${n} bytes`).toEqual([want, want]);
    }
  });
});

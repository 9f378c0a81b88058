// The VQ-VAE mask decoder against torch (tests/fixtures/vae/README.md): random
// weights in vae-oid.npz's names and shapes, the raw 64×64 masks torch computed
// from them in f32, and those masks pasted into a 160×120 image as Google's demo
// does. One body runs on the reference backend and on every registered backend.
import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, test } from "vitest";
import type { Backend } from "../../src/backends/backend.js";
import { DisposedError, InputError, WeightsError } from "../../src/errors.js";
import { loadMaskDecoder, type MaskDecoder } from "../../src/model/mask-decoder.js";
import { backends } from "../harness/backends.js";
import { expectClose, mismatches } from "../harness/compare.js";
import { FIXTURES, readTensors } from "../harness/fixtures.js";
import { ReferenceBackend } from "../reference/backend.js";

const npz = new Uint8Array(readFileSync(`${FIXTURES}vae/vae.npz`));
const golden = readTensors(`${FIXTURES}vae/golden.safetensors`);
const codes = golden.get("codes")!.data as Int32Array; // [K, 16]
const masks64 = golden.get("masks64")!.data as Float32Array; // [K, 64, 64]
const boxes = golden.get("boxes")!.data as Int32Array; // [K, 4] x1, y1, x2, y2
const pasted = golden.get("pasted")!.data as Float32Array; // [K, 120, 160]
const [K, HEIGHT, WIDTH] = golden.get("pasted")!.shape;

// The decoder uploads its weights as f32: rounded to f16 (the backends' default) they
// alone move torch's masks by up to 1.03e-2 (these random weights give masks in
// [-11, 6]; real ones stay near [-1, 1]). In f32 the masks are within 1.6e-5 of torch
// (measured on the reference, WASM and WebGPU), so the 1e-3 holds with room to
// spare, and backends agree with the reference within 1.3e-5, which bounds the kernels.
const VS_TORCH = { atol: 1e-3 };
const VS_REFERENCE = { atol: 1e-4 };

/** Fails unless at least `share` of the pixels are within 1/255 of the demo's mask. */
function expectPastedLikeDemo(got: Float32Array, share: number): void {
  expect(got.length).toBe(pasted.length);
  let off = 0;
  for (let i = 0; i < got.length; i++) if (!(Math.abs(got[i] - pasted[i]) <= 1 / 255 + 1e-6)) off++;
  const ok = 1 - off / got.length;
  expect(ok, `${off}/${got.length} pixels off by more than 1/255`).toBeGreaterThanOrEqual(share);
}

const reference = new ReferenceBackend();
let referenceMasks: Float32Array;

describe.each([{ name: "reference", create: async () => reference as Backend }, ...backends])("mask decoder on $name", (factory) => {
  let decoder: MaskDecoder;
  beforeAll(async () => {
    decoder = await loadMaskDecoder(npz, { backend: await factory.create() });
    referenceMasks ??= await (await loadMaskDecoder(npz, { backend: reference })).decode(codes);
  });

  test("decodes the golden codes to torch's masks64", async () => {
    const got = await decoder.decode(codes);
    expect(got.length).toBe(K * 64 * 64);
    expectClose(got, masks64, VS_TORCH, `${factory.name} vs torch`);
    expectClose(got, referenceMasks, VS_REFERENCE, `${factory.name} vs reference`);
  });

  test("pastes its masks like the demo on >= 99.9% of pixels", async () => {
    const got = await decoder.paste(await decoder.decode(codes), boxes, WIDTH, HEIGHT);
    expectPastedLikeDemo(got, 0.999);
  });

  test("one mask decodes the same alone as in a batch", async () => {
    const third = await decoder.decode(codes.slice(2 * 16, 3 * 16));
    expectClose(third, (await decoder.decode(codes)).subarray(2 * 4096, 3 * 4096), { atol: 1e-6 }, factory.name);
  });
});

describe("paste", () => {
  let decoder: MaskDecoder;
  beforeAll(async () => {
    decoder = await loadMaskDecoder(npz, { backend: reference });
  });

  test("torch's masks64 paste to exactly the demo's masks", async () => {
    // Same input as the demo, so every uint8 truncation and bicubic tap must agree.
    const got = await decoder.paste(masks64, boxes, WIDTH, HEIGHT);
    expect(mismatches(got, pasted, { atol: 1e-6 })).toBeNull();
  });

  test("nothing outside the box; empty and off-image boxes give all-zero masks", async () => {
    const one = masks64.subarray(0, 4096);
    const inside = await decoder.paste(one, [10, 20, 40, 60], 50, 70);
    for (let y = 0; y < 70; y++)
      for (let x = 0; x < 50; x++) if (x < 10 || x >= 40 || y < 20 || y >= 60) expect(inside[y * 50 + x]).toBe(0);
    for (const box of [[10, 10, 10, 30], [10, 30, 20, 30], [30, 10, 20, 20], [60, 0, 80, 20], [0, -20, 10, -5]]) {
      expect((await decoder.paste(one, box, 50, 70)).every((v) => v === 0), `box [${box}]`).toBe(true);
    }
  });

  test("boxes are clipped to the image", async () => {
    const one = masks64.subarray(4096, 8192);
    const clipped = await decoder.paste(one, [0, 0, 50, 30], 50, 30);
    expect([...(await decoder.paste(one, [-10, -5, 70, 40], 50, 30))]).toEqual([...clipped]);
  });

  test("bad arguments are InputErrors", async () => {
    await expect(decoder.paste(masks64, boxes.subarray(0, 12), WIDTH, HEIGHT)).rejects.toThrow(InputError);
    await expect(decoder.paste(masks64.subarray(0, 4000), [0, 0, 1, 1], WIDTH, HEIGHT)).rejects.toThrow(/masks \[K, 64, 64\]/);
    await expect(decoder.paste(masks64.subarray(0, 4096), [0, 0, 1.5, 1], WIDTH, HEIGHT)).rejects.toThrow(/integer pixels/);
    await expect(decoder.paste(masks64.subarray(0, 4096), [0, 0, 1, 1], 0, HEIGHT)).rejects.toThrow(/positive integers/);
  });
});

describe("loadMaskDecoder errors", () => {
  /** vae.npz with every occurrence of `from` replaced by `to` (same length: offsets stay valid). */
  function patched(from: string, to: string): Uint8Array {
    expect(to.length).toBe(from.length);
    const text = new TextDecoder("latin1").decode(npz);
    const out = npz.slice();
    let at = text.indexOf(from);
    expect(at).toBeGreaterThanOrEqual(0);
    for (; at >= 0; at = text.indexOf(from, at + 1)) out.set(new TextEncoder().encode(to), at);
    return out;
  }

  test("a missing decoder key names the key and its shape", async () => {
    const err = await loadMaskDecoder(patched("decoder.4.weight.npy", "decoder.4.weighX.npy"), { backend: reference }).catch((e) => e);
    expect(err).toBeInstanceOf(WeightsError);
    expect(err.code).toBe("INVALID_WEIGHTS");
    expect(err.message).toBe("vae-oid.npz has no decoder.4.weight; the mask decoder needs it with shape [128,128,4,4]");
  });

  test("a misshapen decoder key names the key and both shapes", async () => {
    const err = await loadMaskDecoder(patched("'shape': (128, 128, 4, 4)", "'shape': (128, 128, 2, 8)"), { backend: reference }).catch((e) => e);
    expect(err).toBeInstanceOf(WeightsError);
    expect(err.message).toBe("vae-oid.npz: decoder.4.weight has shape [128,128,2,8], the mask decoder needs [128,128,4,4]");
  });

  test("encoder keys and EMA buffers are not needed", async () => {
    const withoutExtras = patched("_vq_vae._ema_w.npy", "_vq_vae._ema_X.npy");
    await expect(loadMaskDecoder(patched("encoder.0.weight", "encoder.0.weighX"), { backend: reference })).resolves.toBeDefined();
    await expect(loadMaskDecoder(withoutExtras, { backend: reference })).resolves.toBeDefined();
  });

  test("codes outside the codebook, ragged codes, no codes, and use after dispose", async () => {
    const decoder = await loadMaskDecoder(npz, { backend: reference });
    await expect(decoder.decode(Int32Array.from({ length: 16 }, (_, i) => (i === 5 ? 128 : 0)))).rejects.toThrow(
      "code 128 at 5 is outside the codebook [0, 128)",
    );
    await expect(decoder.decode(new Int32Array(15))).rejects.toThrow(InputError);
    expect(await decoder.decode(new Int32Array(0))).toEqual(new Float32Array(0));
    decoder.dispose();
    await expect(decoder.decode(codes)).rejects.toThrow(DisposedError);
  });
});

test("loadMaskDecoder({ device }) runs on a backend of its own and disposes it with itself", async () => {
  const decoder = await loadMaskDecoder(npz, { device: "wasm" });
  expectClose(await decoder.decode(codes), masks64, VS_TORCH, "masks64 on its own WASM backend");
  decoder.dispose();
  await expect(decoder.decode(codes)).rejects.toThrow(DisposedError);
});

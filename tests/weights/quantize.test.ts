// src/weights/quantize.ts against an independent implementation of the format: numpy,
// from the format's text (tools/quant_fixture.py wrote tests/fixtures/quant). Words and
// scales must be bit-equal, and dequantizing must give numpy's q · scale exactly.
import { describe, expect, test } from "vitest";
import { f16ArrayToF32, f32ArrayToF16 } from "../../src/weights/f16.js";
import { dequantizeMatrix, quantizeMatrix, type QuantBits } from "../../src/weights/quantize.js";
import { FIXTURES, readTensors } from "../harness/fixtures.js";

const fixture = readTensors(`${FIXTURES}quant/cases.safetensors`);
const cases = [...fixture.keys()].filter((n) => n.endsWith(".w")).map((n) => n.slice(0, -2));
const bytes = (name: string) => {
  const t = fixture.get(name);
  if (!t) throw new Error(`fixture lacks ${name}`);
  return t;
};
const u32 = (name: string) => new Uint32Array((bytes(name).data as Uint8Array).slice().buffer);
const u16 = (name: string) => new Uint16Array((bytes(name).data as Uint8Array).slice().buffer);

/** The first differing index, for a message that says where. */
function firstDiff(a: ArrayLike<number>, b: ArrayLike<number>): string {
  for (let i = 0; i < Math.max(a.length, b.length); i++) if (a[i] !== b[i] && !(Number.isNaN(a[i]) && Number.isNaN(b[i]))) return `[${i}] ${a[i]} vs ${b[i]}`;
  return "none";
}

test("the fixture holds every case", () => {
  expect(cases.sort()).toEqual(["k1", "k4304", "k64", "k75", "special_k33", "special_k96"]);
});

describe.each(cases)("%s", (name) => {
  const w = bytes(`${name}.w`);
  const [N, K] = w.shape;
  const values = w.data as Float32Array;

  test.each([4, 8] as QuantBits[])("q%i words and scales equal numpy's bit for bit", (bits) => {
    const got = quantizeMatrix(values, N, K, bits);
    const words = u32(`${name}.q${bits}.qweight`);
    const scales = u16(`${name}.q${bits}.scales`);
    expect(got.qweight.length, "words").toBe(words.length);
    expect(got.scales.length, "scales").toBe(scales.length);
    expect(firstDiff(got.scales, scales), "first differing scale").toBe("none");
    expect(firstDiff(got.qweight, words), "first differing word").toBe("none");
  });

  test.each([4, 8] as QuantBits[])("q%i dequantized values equal numpy's q · scale", (bits) => {
    const m = { bits, qweight: u32(`${name}.q${bits}.qweight`), scales: u16(`${name}.q${bits}.scales`) };
    const want = bytes(`${name}.q${bits}.dequantized`).data as Float32Array;
    expect(firstDiff(dequantizeMatrix(m, N, K), want)).toBe("none");
  });

  test.each([4, 8] as QuantBits[])("q%i from f16 bits equals q%i from the same values in f32", (bits) => {
    const half = f32ArrayToF16(values);
    const fromHalf = quantizeMatrix(half, N, K, bits);
    const fromFloat = quantizeMatrix(f16ArrayToF32(half), N, K, bits);
    expect(firstDiff(fromHalf.qweight, fromFloat.qweight)).toBe("none");
    expect(firstDiff(fromHalf.scales, fromFloat.scales)).toBe("none");
  });
});

test("q4 reaches -8 only through the clamp of a subnormal scale, never +8", () => {
  // The fixture's special rows hold groups whose f16 scale is a subnormal far below max / 7.
  const { qweight } = quantizeMatrix(bytes("special_k96.w").data as Float32Array, 7, 96, 4);
  const nibbles = new Set<number>();
  for (const word of qweight) for (let i = 0; i < 8; i++) nibbles.add((word >>> (4 * i)) & 15);
  expect(nibbles.has(0)).toBe(true); // q = -8
  expect(nibbles.has(15)).toBe(true); // q = 7
});

// readNpz against files NumPy wrote (tests/fixtures/npz/README.md has the script):
// every supported dtype, stored and deflated entries, .npy v1 and v2, and the
// arrays it must refuse.
import { readFileSync } from "node:fs";
import { describe, expect, test } from "vitest";
import { WeightsError } from "../../src/errors.js";
import { readNpz } from "../../src/weights/npz.js";
import { FIXTURES } from "../harness/fixtures.js";

const formats = new Uint8Array(readFileSync(`${FIXTURES}npz/formats.npz`));
const only = (name: string) => readNpz(formats, { file: "formats.npz", want: (n) => n === name });
// np.arange(6).reshape(2, 3) - 2.5, exactly representable in every float type.
const base = [-2.5, -1.5, -0.5, 0.5, 1.5, 2.5];

describe("readNpz", () => {
  test.each(["f4", "f2", "f8", "v2"])("%s reads as f32 [2, 3]", async (name) => {
    const t = (await only(name)).get(name)!;
    expect(t.shape).toEqual([2, 3]);
    expect(t.data).toBeInstanceOf(Float32Array);
    expect([...t.data]).toEqual(base);
  });

  test("integers read as i32", async () => {
    const all = await readNpz(formats, { want: (n) => ["i4", "i8", "u1", "scalar"].includes(n) });
    expect([...all.keys()].sort()).toEqual(["i4", "i8", "scalar", "u1"]);
    expect(all.get("i4")).toEqual({ dtype: "<i4", shape: [3], data: Int32Array.from([-7, 0, 2 ** 31 - 1]) });
    expect(all.get("i8")).toEqual({ dtype: "<i8", shape: [2, 1], data: Int32Array.from([-(2 ** 31), 5]) });
    expect(all.get("u1")).toEqual({ dtype: "|u1", shape: [3], data: Int32Array.from([0, 200, 255]) });
    expect(all.get("scalar")).toEqual({ dtype: "<f4", shape: [], data: Float32Array.from([3.5]) });
  });

  test("numpy's savez_compressed output (deflated, zip64 local headers)", async () => {
    const t = await readNpz(readFileSync(`${FIXTURES}npz/savez_compressed.npz`));
    expect([...t.keys()].sort()).toEqual(["ids", "weight"]);
    expect(t.get("weight")!.shape).toEqual([10, 100]);
    const w = t.get("weight")!.data;
    // np.linspace(-1, 1, 1000) rounded to f32.
    for (const i of [0, 1, 500, 999]) expect(w[i]).toBe(Math.fround(-1 + (2 * i) / 999));
    expect([...t.get("ids")!.data]).toEqual([0, 1, 2, 3, 4]);
  });

  test("an ArrayBuffer or a Node Buffer works like a Uint8Array", async () => {
    const copy = formats.slice().buffer;
    expect([...(await readNpz(copy, { want: (n) => n === "f4" })).get("f4")!.data]).toEqual(base);
    // Stored entries are read in place; Buffer.slice shares memory, so this catches a view mistaken for a copy.
    const fromBuffer = await readNpz(readFileSync(`${FIXTURES}npz/formats.npz`), { want: (n) => ["f8", "i8"].includes(n) });
    expect([...fromBuffer.get("f8")!.data]).toEqual(base);
    expect([...fromBuffer.get("i8")!.data]).toEqual([-(2 ** 31), 5]);
  });

  test.each([
    ["fortran", /Fortran \(column-major\) order/],
    ["big_endian", /dtype >f4; supported are little-endian/],
    ["too_wide", /int64 value 1099511627776 at 0 does not fit in int32/],
  ])("refuses %s with a WeightsError", async (name, message) => {
    const err = await only(name).catch((e) => e);
    expect(err).toBeInstanceOf(WeightsError);
    expect(err.code).toBe("INVALID_WEIGHTS");
    expect(err.message).toMatch(message);
    expect(err.message).toContain(`formats.npz: ${name}.npy`);
  });

  test("refuses what is not a zip, and a truncated archive", async () => {
    await expect(readNpz(new Uint8Array(100))).rejects.toThrow(/not a zip archive/);
    // Cut inside the data of the last entry: the central directory is gone too.
    await expect(readNpz(formats.subarray(0, formats.length - 40))).rejects.toBeInstanceOf(WeightsError);
  });

  test("a corrupt deflate stream is a WeightsError, not a crash", async () => {
    const bad = formats.slice();
    // f4.npy is the first entry: its deflated data starts after the 30-byte local header and the name "f4.npy".
    bad.fill(0xff, 36, 60);
    await expect(readNpz(bad, { want: (n) => n === "f4" })).rejects.toThrow(/f4\.npy (does not inflate|holds)/);
  });
});

// Issue 16, items 6-7 for images: a decompression bomb is refused from its header before
// anything is decoded (the 16000x16000 PNG used to peak at 4 GB and then caption), and
// each bad file's message says what is wrong: not an image (and what it starts with), a
// CMYK JPEG, where a PNG breaks, a JPEG whose data ends before its declared size.
//
// The hostile files are made here from the small fixtures (nothing big is committed) and
// decoded in a child process with a time limit and a resident-memory cap.
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { crc32, deflateSync } from "node:zlib";
import { describe, expect, test } from "vitest";
import "../../src/image/node-codecs.js";
import { decodeImage } from "../../src/image/decode.js";
import { toRGBImage } from "../../src/image/input.js";
import { readHeader } from "../../src/image/header.js";
import { ImageTooLargeError, InputError, PaliGemma } from "../../src/index.js";
import { FIXTURES } from "../harness/fixtures.js";
import { DEMO, reportOf, runChild } from "./child.js";

const fixture = (path: string) => new Uint8Array(readFileSync(`${FIXTURES}${path}`));
const dir = mkdtempSync(join(tmpdir(), "pg-hostile-image-"));
const saved = (name: string, bytes: Uint8Array) => {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
};

const be32 = (n: number) => Uint8Array.of(n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255);
const cat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  parts.reduce((at, p) => (out.set(p, at), at + p.length), 0);
  return out;
};

/** A PNG chunk: length, type, data, CRC-32 of type + data (node:zlib's crc32 as the oracle). */
function chunk(type: string, data: Uint8Array): Uint8Array {
  const body = cat(new TextEncoder().encode(type), data);
  return cat(be32(data.length), body, be32(crc32(body)));
}

/**
 * A valid black 1-bit grayscale PNG of any size: rows of (filter 0, zeros) deflate to almost
 * nothing, so 16000x16000 (256 Mpx, 1 GiB as RGBA) is a ~31 KB file.
 */
function blackPng(width: number, height: number): Uint8Array {
  const ihdr = cat(be32(width), be32(height), Uint8Array.of(1, 0, 0, 0, 0)); // depth 1, gray, deflate, filter 0, no interlace
  const raw = new Uint8Array(height * (1 + Math.ceil(width / 8)));
  return cat(
    Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a),
    chunk("IHDR", ihdr),
    chunk("IDAT", deflateSync(raw, { level: 9 })),
    chunk("IEND", new Uint8Array(0)),
  );
}

/** A copy of `bytes` with `patch` written at `at`. */
function patched(bytes: Uint8Array, at: number, patch: number[]): Uint8Array {
  const out = bytes.slice();
  out.set(patch, at);
  return out;
}

const jpeg = fixture("processor/same.jpg"); // 224x224 baseline
const SOF0 = jpeg.findIndex((_, i) => jpeg[i] === 0xff && jpeg[i + 1] === 0xc0);
/** same.jpg with its frame header declaring `width` x `height`: the same few KB of data. */
const jpegDeclaring = (width: number, height: number) => patched(jpeg, SOF0 + 5, [height >> 8, height & 255, width >> 8, width & 255]);

const tiny = fixture("processor/tiny.png");
const IDAT = tiny.findIndex((_, i) => String.fromCharCode(...tiny.subarray(i, i + 4)) === "IDAT") - 4;
const idatLength = new DataView(tiny.buffer, tiny.byteOffset).getUint32(IDAT);
/** tiny.png with its IDAT data replaced by `data` under a correct CRC: whole chunks, broken zlib. */
const pngWithIdat = (data: Uint8Array) => cat(tiny.subarray(0, IDAT), chunk("IDAT", data), tiny.subarray(IDAT + 12 + idatLength));

interface Expected {
  name: string;
  code: string;
  fragment: string;
}

/** decodeImage(file) in a child: the error it threw, or the size it decoded (a regression). */
async function decodeInChild(path: string, maxRssMiB: number) {
  return reportOf(
    runChild(
      `const { readFileSync } = await import("node:fs");
      const image = await pg.decodeImage(new Uint8Array(readFileSync(args.path)));
      return [image.width, image.height];`,
      { args: { path }, timeoutMs: 30_000, maxRssMiB },
    ),
  );
}

describe("hostile image files, each in a child process", () => {
  const lossless = fixture("image/lossless.webp");
  const cases: [string, () => Uint8Array, Expected, number][] = [
    [
      "a JPEG declaring 60000x60000 in a few KB (a size bomb)",
      () => jpegDeclaring(60000, 60000),
      { name: "ImageTooLargeError", code: "IMAGE_TOO_LARGE", fragment: "the JPEG image is 60000x60000 (3,600,000,000 pixels), above the limit of 100,000,000" },
      300,
    ],
    [
      "the same behind stray bytes, which libjpeg skips",
      () => {
        const bomb = jpegDeclaring(60000, 60000);
        return cat(bomb.subarray(0, SOF0), Uint8Array.of(0x00, 0x13, 0x37), bomb.subarray(SOF0));
      },
      { name: "ImageTooLargeError", code: "IMAGE_TOO_LARGE", fragment: "the JPEG image is 60000x60000" },
      300,
    ],
    [
      "a JPEG declaring 2000x2000 whose data ends after 224x224",
      () => jpegDeclaring(2000, 2000),
      { name: "ImageError", code: "INVALID_IMAGE", fragment: "the JPEG file is truncated: its data ends before the 2000x2000 pixels it declares" },
      400,
    ],
    [
      "a lossless WebP declaring 16383x16383 (VP8L)",
      // 14 bits of width - 1, 14 of height - 1, then alpha and version bits as they were.
      () => patched(lossless, 21, [0xfe, 0xbf, 0xff, (lossless[24] & 0xf0) | 0x0f]),
      { name: "ImageTooLargeError", code: "IMAGE_TOO_LARGE", fragment: "the WebP image is 16383x16383 (268,402,689 pixels)" },
      300,
    ],
    [
      "a lossy WebP declaring 16383x16383 (VP8)",
      () => patched(fixture("image/lossy.webp"), 26, [0xff, 0x3f, 0xff, 0x3f]),
      { name: "ImageTooLargeError", code: "IMAGE_TOO_LARGE", fragment: "the WebP image is 16383x16383" },
      300,
    ],
    [
      "an extended WebP declaring a 20000x20000 canvas (VP8X)",
      () => patched(fixture("image/alpha.webp"), 24, [0x1f, 0x4e, 0x00, 0x1f, 0x4e, 0x00]),
      { name: "ImageTooLargeError", code: "IMAGE_TOO_LARGE", fragment: "the WebP image is 20000x20000 (400,000,000 pixels)" },
      300,
    ],
    [
      "a WebP cut in half",
      () => lossless.subarray(0, lossless.length >> 1),
      {
        name: "ImageError",
        code: "INVALID_IMAGE",
        fragment: `the WebP file is broken: its RIFF header declares ${lossless.length} bytes but the file has ${lossless.length >> 1}: it is truncated`,
      },
      300,
    ],
    [
      "a CMYK JPEG",
      () => fixture("image/cmyk.jpg"),
      { name: "UnsupportedImageFormatError", code: "UNSUPPORTED_IMAGE_FORMAT", fragment: "this JPEG is CMYK (4 inks, as print workflows save them), which the decoder cannot turn into RGB: convert it to RGB first" },
      300,
    ],
    [
      "a YCCK JPEG (Adobe transform 2)",
      () => {
        const cmyk = fixture("image/cmyk.jpg");
        const adobe = cmyk.findIndex((_, i) => cmyk[i] === 0xff && cmyk[i + 1] === 0xee);
        return patched(cmyk, adobe + 15, [2]);
      },
      { name: "UnsupportedImageFormatError", code: "UNSUPPORTED_IMAGE_FORMAT", fragment: "this JPEG is YCCK" },
      300,
    ],
    [
      "random bytes",
      () => Uint8Array.from({ length: 256 }, (_, i) => (i * 167 + 91) & 255),
      {
        name: "UnsupportedImageFormatError",
        code: "UNSUPPORTED_IMAGE_FORMAT",
        fragment: 'not a PNG, JPEG or WebP file: it starts 5b 02 a9 50 f7 9e 45 ec 93 3a e1 88 ... ("[..P..E..:.."), where a PNG starts 89 50 4e 47',
      },
      300,
    ],
    [
      "a text file",
      () => new TextEncoder().encode("name,width\ncat,3\n"),
      { name: "UnsupportedImageFormatError", code: "UNSUPPORTED_IMAGE_FORMAT", fragment: 'it starts 6e 61 6d 65 2c 77 69 64 74 68 0a 63 ... ("name,width.c")' },
      300,
    ],
    [
      "a PNG with one IDAT byte flipped",
      () => patched(tiny, IDAT + 8 + (idatLength >> 1), [tiny[IDAT + 8 + (idatLength >> 1)] ^ 0xff]),
      { name: "ImageError", code: "INVALID_IMAGE", fragment: `the PNG file is broken: its IDAT chunk at byte ${IDAT} fails its CRC check: the file is corrupt` },
      300,
    ],
    [
      "a PNG cut inside its IDAT",
      () => tiny.subarray(0, IDAT + 8 + (idatLength >> 1)),
      {
        name: "ImageError",
        code: "INVALID_IMAGE",
        fragment: `the PNG file is broken: it ends inside its IDAT chunk at byte ${IDAT} (${idatLength >> 1} of ${idatLength} data bytes present): the file is truncated`,
      },
      300,
    ],
    [
      "a PNG whose IDAT holds garbage under a correct CRC",
      () => pngWithIdat(Uint8Array.from({ length: 64 }, (_, i) => (i * 31 + 7) & 255)),
      { name: "ImageError", code: "INVALID_IMAGE", fragment: "the PNG file is broken: its chunks are whole, so its compressed pixel data (IDAT) or a header field is corrupt" },
      300,
    ],
  ];
  test.each(cases)("%s", async (_what, make, expected, maxRssMiB) => {
    const report = await decodeInChild(saved(`case-${cases.findIndex((c) => c[1] === make)}`, make()), maxRssMiB);
    expect(report.value).toBeUndefined();
    expect(report.error).toMatchObject({ name: expected.name, code: expected.code });
    expect(report.error!.message).toContain(expected.fragment);
    expect(report.error!.message).not.toContain("unwrap_throw");
  });

  test("caption() of a 16000x16000 PNG bomb (31 KB) is refused from its header, without the 1 GiB decode", async () => {
    const bomb = blackPng(16000, 16000);
    expect(bomb.length).toBeLessThan(64 * 1024);
    const report = await reportOf(
      runChild(
        `const m = await pg.PaliGemma.load(args.model, { device: "wasm" });
        try {
          return await m.caption(args.path, { maxNewTokens: 4 });
        } finally {
          m.dispose();
        }`,
        { args: { model: DEMO, path: saved("bomb.png", bomb) }, timeoutMs: 60_000, maxRssMiB: 600 },
      ),
    );
    expect(report.error).toMatchObject({ name: "ImageTooLargeError", code: "IMAGE_TOO_LARGE" });
    expect(report.error!.message).toBe(
      "the PNG image is 16000x16000 (256,000,000 pixels), above the limit of 100,000,000: shrink it first, or raise the maxImagePixels option",
    );
    expect(report.peakMiB).toBeLessThan(600);
  });
});

describe("the pixel limit", () => {
  test("is width x height against maxImagePixels, and the generated bomb is a valid PNG below it", async () => {
    const png = blackPng(1000, 600);
    const image = await decodeImage(png, { maxImagePixels: 600_000 });
    expect([image.width, image.height, image.channels]).toEqual([1000, 600, 3]);
    expect(image.data.every((v) => v === 0)).toBe(true);
    const e = await decodeImage(png, { maxImagePixels: 599_999 }).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(ImageTooLargeError);
    expect(e).toMatchObject({ code: "IMAGE_TOO_LARGE", width: 1000, height: 600, maxPixels: 599_999 });
    expect((e as Error).message).toContain("the PNG image is 1000x600 (600,000 pixels), above the limit of 599,999");
  });

  test("the header's size is the decoded size for every fixture format", async () => {
    const files = ["sub420.jpg", "progressive.jpg", "gray.jpg", "palette.png", "rgb16.png", "lossless.webp", "lossy.webp", "alpha.webp"];
    for (const name of files) {
      const bytes = fixture(`image/${name}`);
      const format = name.endsWith(".jpg") ? "jpeg" : name.endsWith(".png") ? "png" : "webp";
      const image = await decodeImage(bytes);
      expect({ name, ...readHeader(bytes, format) }).toEqual({ name, width: image.width, height: image.height });
    }
  });

  test("an ImageBitmap above it is refused before a canvas of its size is made", async () => {
    // Node has no ImageBitmap or canvas: a stand-in class makes toRGBImage take the browser's path,
    // which without the check goes on to ask for a canvas (an InputError here).
    class ImageBitmap {
      constructor(
        readonly width: number,
        readonly height: number,
      ) {}
    }
    (globalThis as Record<string, unknown>).ImageBitmap = ImageBitmap;
    try {
      const big = await toRGBImage(new ImageBitmap(30000, 20000) as never).catch((err: unknown) => err);
      expect(big).toBeInstanceOf(ImageTooLargeError);
      expect((big as Error).message).toBe(
        "the image is 30000x20000 (600,000,000 pixels), above the limit of 100,000,000: shrink it first, or raise the maxImagePixels option",
      );
      const small = await toRGBImage(new ImageBitmap(300, 200) as never).catch((err: unknown) => err);
      expect(small).toMatchObject({ code: "INVALID_INPUT", message: expect.stringContaining("no canvas") });
    } finally {
      delete (globalThis as Record<string, unknown>).ImageBitmap;
    }
  });

  const model = () => PaliGemma.load(DEMO, { device: "wasm", maxImagePixels: 5000 });

  test("a load option: decoded pixels and encoded files above it are refused by every task", async () => {
    const pg = await model();
    try {
      const raw = { width: 100, height: 60, channels: 3 as const, data: new Uint8Array(100 * 60 * 3) };
      const small = { width: 50, height: 100, channels: 1 as const, data: new Uint8Array(5000).fill(200) };
      for (const run of [() => pg.caption(raw), () => pg.detect(raw, "star"), () => pg.generate([small, raw], "caption en")]) {
        const e = await run().catch((err: unknown) => err);
        expect(e).toBeInstanceOf(ImageTooLargeError);
        expect((e as Error).message).toContain("the image is 100x60 (6,000 pixels), above the limit of 5,000");
      }
      const e = await pg.caption(blackPng(71, 71)).catch((err: unknown) => err);
      expect((e as Error).message).toContain("the PNG image is 71x71");
      expect((await pg.caption(small, { maxNewTokens: 2 })).text).toEqual(expect.any(String)); // at the limit: allowed
    } finally {
      pg.dispose();
    }
  });

  test("crosses to a worker engine, and its error comes back as the same class with its fields", async () => {
    // The built package, by its own name: worker threads run JavaScript, not this checkout's TypeScript.
    const built = await import("paligemma-edge");
    const pg = await built.PaliGemma.load(DEMO, { worker: true, device: "wasm", maxImagePixels: 5000 });
    try {
      const e = await pg.caption({ width: 100, height: 60, channels: 3, data: new Uint8Array(18000) }).catch((err: unknown) => err);
      expect(e).toBeInstanceOf(built.ImageTooLargeError);
      expect(e).toMatchObject({ code: "IMAGE_TOO_LARGE", width: 100, height: 60, maxPixels: 5000 });
    } finally {
      pg.dispose();
    }
  });

  test.each([["100", "a string"], [0, "a number"], [-1, "a number"], [Number.NaN, "a number"]])(
    "maxImagePixels: %j is an InputError before anything loads",
    async (limit, type) => {
      const e = await PaliGemma.load("/nonexistent/model", { maxImagePixels: limit as number }).catch((err: unknown) => err);
      expect(e).toBeInstanceOf(InputError);
      expect((e as InputError).code).toBe("INVALID_INPUT");
      expect((e as InputError).message).toContain(`maxImagePixels must be a positive number (or Infinity), got`);
      expect((e as InputError).message).toContain(`(${type})`);
    },
  );
});

test("the CLI refuses a file that is no image before it loads a model", async () => {
  const path = saved("notimage.txt", new TextEncoder().encode("just some notes\n"));
  const e = await promisify(execFile)(process.execPath, ["dist/cli.js", "caption", path], { encoding: "utf8" }).then(
    () => undefined,
    (err: { code: number; stdout: string; stderr: string }) => err,
  );
  expect(e?.code).toBe(1);
  expect(e?.stdout).toBe("");
  // One line: no bundled-model note, no progress bar, no "model loaded".
  expect(e?.stderr).toBe(
    'error: not a PNG, JPEG or WebP file: it starts 6a 75 73 74 20 73 6f 6d 65 20 6e 6f ... ("just some no"), where a PNG starts 89 50 4e 47, ' +
      'a JPEG ff d8 ff and a WebP "RIFF....WEBP": pass PNG, JPEG or WebP bytes, or decoded pixels ({ width, height, data })\n',
  );
});

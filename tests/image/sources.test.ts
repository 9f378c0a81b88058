// Images named rather than given: a path, a file: URL (string or URL), a data: URL, an
// http: URL, a Request and a Response all give the pixels of the same bytes decoded
// directly; what cannot be read or fetched is an ImageError that names it.
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ImageError, toRGBImage, UnsupportedImageFormatError } from "../../src/runtime/node.js";

const PATH = "tests/fixtures/image/sub420.jpg";
const BYTES = new Uint8Array(readFileSync(PATH));
let origin: string;
let close: () => void;

beforeAll(async () => {
  const server = createServer((req, res) => {
    if (req.url === "/image.jpg") res.writeHead(200, { "content-type": "image/jpeg" }).end(BYTES);
    else res.writeHead(404).end("no such thing");
  });
  await new Promise<void>((ready) => server.listen(0, "127.0.0.1", ready));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  close = () => server.close();
});
afterAll(() => close?.());

describe("images by path, URL, Request and Response", () => {
  it("every way of naming the file gives the pixels of its bytes", async () => {
    const want = await toRGBImage(BYTES);
    const fileUrl = pathToFileURL(resolve(PATH));
    const sources = {
      path: PATH,
      "absolute path": resolve(PATH),
      "file: URL": fileUrl,
      "file: URL string": fileUrl.href,
      "data: URL": `data:image/jpeg;base64,${Buffer.from(BYTES).toString("base64")}`,
      "http: URL": `${origin}/image.jpg`,
      "http: URL object": new URL(`${origin}/image.jpg`),
      Request: new Request(`${origin}/image.jpg`),
      Response: new Response(BYTES),
    };
    for (const [name, source] of Object.entries(sources)) {
      const got = await toRGBImage(source);
      expect([got.width, got.height], name).toEqual([want.width, want.height]);
      expect(got.data.every((v, i) => v === want.data[i]), name).toBe(true);
    }
  });

  it("a missing file, an HTTP error and a page that is not an image are typed errors", async () => {
    await expect(toRGBImage("no/such/photo.jpg")).rejects.toThrow(new ImageError("could not read the image no/such/photo.jpg: no such file"));
    await expect(toRGBImage(`${origin}/missing.png`)).rejects.toThrow(
      new ImageError(`could not fetch the image ${origin}/missing.png: HTTP 404`),
    );
    await expect(toRGBImage(new Response("<!doctype html><html></html>"))).rejects.toBeInstanceOf(UnsupportedImageFormatError);
    await expect(toRGBImage("http://127.0.0.1:1/x.png")).rejects.toThrow(/^could not fetch the image http:\/\/127\.0\.0\.1:1\/x\.png: /);
  });
});

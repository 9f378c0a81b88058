// A model folder on a server with an SPA fallback (vite's dev and preview servers answer
// every unknown path with index.html, status 200, text/html): optional files that come
// back as HTML are absent, required ones are a LoadError saying the URL is likely wrong.
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LoadError, PaliGemma } from "../../src/runtime/node.js";
import { onNodeWasm, SHAPES_PNG } from "../examples/reference.js";

const INDEX = "<!doctype html><html><body><script type=module src=/main.js></script></body></html>";
const FILES = ["config.json", "model.safetensors", "tokenizer.json"];
let origin: string;
let close: () => void;

beforeAll(async () => {
  const server = createServer((req, res) => {
    const name = req.url!.replace(/^\/model\//, "");
    if (req.url!.startsWith("/model/") && FILES.includes(name)) res.writeHead(200).end(readFileSync(`models/demo-shapes/${name}`));
    else if (req.url === "/untyped/config.json") res.writeHead(200).end(INDEX); // a page, without saying so
    else res.writeHead(200, { "content-type": "text/html" }).end(INDEX);
  });
  await new Promise<void>((ready) => server.listen(0, "127.0.0.1", ready));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  close = () => server.close();
});
afterAll(() => close?.());

describe("a server that answers missing files with its index.html", () => {
  it("optional files (generation_config.json, the shard index, vae-oid.npz) are absent", async () => {
    const image = new Uint8Array(readFileSync(SHAPES_PNG));
    const pg = await PaliGemma.load(`${origin}/model/`, { device: "wasm" });
    try {
      expect(await pg.caption(image)).toEqual(await onNodeWasm((local) => local.caption(image)));
      await expect(pg.segment(image, "star")).rejects.toThrow(/needs PaliGemma's mask decoder/);
    } finally {
      pg.dispose();
    }
  });

  it("a required file that is a page says so", async () => {
    await expect(PaliGemma.load(`${origin}/elsewhere/`, { device: "wasm" })).rejects.toThrow(
      new LoadError(`tokenizer.json in ${origin}/elsewhere/ got an HTML page, not JSON: is the URL right? (a dev server answers unknown paths with its index.html)`),
    );
    await expect(PaliGemma.load({ "tokenizer.json": `${origin}/model/tokenizer.json`, "config.json": `${origin}/untyped/config.json` }, { device: "wasm" })).rejects.toThrow(
      /^config\.json in the given files \(tokenizer\.json, config\.json\) got an HTML page, not JSON: is the URL right\?$/,
    );
  });
});

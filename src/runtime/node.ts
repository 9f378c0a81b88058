// Node entry: the portable core plus what Node does differently.
// - .wasm files are read from disk (Node's fetch has no file: URLs).
// - A model source that is a folder path is read with node:fs, streamed.
import { createReadStream } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { setWasmFetcher } from "../wasm/load.js";
import { setPathOpener } from "../weights/files.js";

setWasmFetcher(async (_name, url) => {
  const bytes = await readFile(url);
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
});

setPathOpener((folder) => ({
  where: folder,
  async open(name) {
    const path = join(folder, name);
    const info = await stat(path).catch(() => undefined);
    if (!info?.isFile()) return undefined;
    return {
      size: info.size,
      stream: () => Readable.toWeb(createReadStream(path)) as unknown as ReadableStream<Uint8Array>,
    };
  },
}));

export * from "../index.js";

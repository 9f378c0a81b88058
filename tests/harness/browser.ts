// Headless Chromium for tests: Debian's chromium driven by puppeteer-core, WebGPU on
// SwiftShader (the same CPU Vulkan driver Node's harness uses), and a static file
// server on the loopback interface, which pages need: WebGPU and module scripts only
// work in a secure context, and http://127.0.0.1 is one.
import { existsSync } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { extname, join, resolve, sep } from "node:path";
import puppeteer, { type Browser } from "puppeteer-core";

/** CHROMIUM overrides Debian's path. */
export const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";

/**
 * What Chromium needs to expose navigator.gpu headless on Linux: WebGPU is off there
 * without --enable-unsafe-webgpu, and the adapter is forced to SwiftShader so a
 * machine with a GPU runs the same driver as one without.
 */
export const WEBGPU_FLAGS = ["--enable-unsafe-webgpu", "--use-webgpu-adapter=swiftshader"];

/**
 * Launches headless Chromium with a fresh temporary profile (puppeteer's default,
 * deleted on close). --no-sandbox: CI runs as root, where Chromium's sandbox refuses
 * to start.
 */
export async function launchChromium(options: { webgpu?: boolean } = {}): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`no Chromium at ${CHROMIUM}: install Debian's chromium (apt-get install -y chromium) or set CHROMIUM`);
  }
  return puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", ...(options.webgpu ? WEBGPU_FLAGS : [])],
  });
}

const TYPES: Record<string, string> = {
  ".html": "text/html",
  ".js": "text/javascript",
  ".mjs": "text/javascript",
  ".json": "application/json",
  ".wasm": "application/wasm", // WebAssembly.instantiateStreaming insists on it
  ".wgsl": "text/plain",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".webp": "image/webp",
};

export interface FileServer {
  /** http://127.0.0.1:<port>, with no trailing slash. */
  origin: string;
  close(): Promise<void>;
}

/** COOP/COEP: a page served with them is crossOriginIsolated (SharedArrayBuffer, so WASM threads). */
export const ISOLATION_HEADERS = { "cross-origin-opener-policy": "same-origin", "cross-origin-embedder-policy": "require-corp" };

/** Serves the files under `root`, as they are, on 127.0.0.1 at a free port; `headers` go on every file. */
export async function serveFiles(root: string, headers: Record<string, string> = {}): Promise<FileServer> {
  const base = resolve(root);
  const server = createServer(async (request, response) => {
    const path = join(base, decodeURIComponent(new URL(request.url ?? "/", "http://x").pathname));
    const type = TYPES[extname(path)];
    const isFile = await stat(path).then((s) => s.isFile(), () => false);
    if (!path.startsWith(base + sep) || !type || !isFile) {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { "content-type": type, "cache-control": "no-store", ...headers }).end(await readFile(path));
  });
  await new Promise<void>((listening) => server.listen(0, "127.0.0.1", listening));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    close: () => new Promise((closed) => server.close(() => closed())),
  };
}

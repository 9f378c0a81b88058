// A local stand-in for the Hugging Face hub serving one folder's files as a repository
// (`/<repo>/resolve/<revision>/<file>`): Content-Length, sha256 ETags on .safetensors as
// the hub gives for LFS files, Range requests, and the hub's EntryNotFound 404. It logs
// each request, and can send weights slowly so that a test can stop a download midway.
// For browser tests it also serves, from the same origin (no CORS), the built SDK at
// `/dist/` with the image codecs it imports, and a page at `/` that puts it at `window.sdk`.
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { extname, join, resolve, sep } from "node:path";

const DIST = resolve("dist");
const CODECS = resolve("node_modules/@jsquash");
// dist/index.js imports the codecs by package name: the import map says where they are.
const PAGE = `<!doctype html><title>hub</title>
<script type="importmap">{ "imports": { "@jsquash/": "/node_modules/@jsquash/" } }</script>
<script type="module">window.sdk = await import("/dist/index.js");</script>`;
const TYPES: Record<string, string> = { ".js": "text/javascript", ".wasm": "application/wasm", ".json": "application/json" };

export interface HubServer {
  endpoint: string;
  /** Each request: file and Range header. */
  requests: { file: string; range?: string }[];
  close(): Promise<void>;
}

/** Serves the files of `folder` as `repo` at any revision; `slow`: .safetensors bodies go out 64 KiB every 20 ms. */
export async function hubServer(folder: string, repo: string, opts: { slow?: boolean } = {}): Promise<HubServer> {
  const files = new Map(readdirSync(folder).filter((f) => statSync(join(folder, f)).isFile()).map((f) => [f, new Uint8Array(readFileSync(join(folder, f)))]));
  const requests: HubServer["requests"] = [];
  const prefix = new RegExp(`^/${repo}/resolve/[^/]+/(.+)$`);
  const server = createServer((req, res) => {
    const pathname = new URL(req.url!, "http://x").pathname;
    if (pathname === "/") return void res.writeHead(200, { "content-type": "text/html" }).end(PAGE);
    for (const [at, root] of [["/dist/", DIST], ["/node_modules/@jsquash/", CODECS]]) {
      const path = resolve(root, "." + decodeURIComponent(pathname.slice(at.length - 1)));
      if (pathname.startsWith(at) && path.startsWith(root + sep) && existsSync(path) && statSync(path).isFile()) {
        return void res.writeHead(200, { "content-type": TYPES[extname(path)] ?? "application/octet-stream" }).end(readFileSync(path));
      }
    }
    const name = decodeURIComponent(prefix.exec(pathname)?.[1] ?? "");
    requests.push({ file: name, range: req.headers.range });
    const body = files.get(name);
    if (!body) return void res.writeHead(404, { "x-error-code": "EntryNotFound" }).end();
    const lfs = name.endsWith(".safetensors");
    const start = Number(/^bytes=(\d+)-$/.exec(req.headers.range ?? "")?.[1] ?? 0);
    const headers: Record<string, string | number> = {
      "content-length": body.length - start,
      etag: `"${lfs ? createHash("sha256").update(body).digest("hex") : "small"}"`,
    };
    if (start > 0) headers["content-range"] = `bytes ${start}-${body.length - 1}/${body.length}`;
    res.writeHead(start > 0 ? 206 : 200, headers);
    if (!lfs || !opts.slow) return void res.end(body.subarray(start));
    const send = (at: number) => {
      if (res.destroyed) return;
      if (at >= body.length) return void res.end();
      res.write(body.subarray(at, at + 65536));
      setTimeout(() => send(at + 65536), 20);
    };
    send(start);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

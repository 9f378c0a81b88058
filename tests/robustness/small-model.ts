// A small random PaliGemma checkpoint for the robustness tests, and ways to serve it:
// written into a folder (with hostile changes), or from a local HTTP server that logs
// every path it is asked for.
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { randomCheckpoint, writeSafetensors } from "../harness/checkpoints.js";

export const config = {
  model_type: "paligemma",
  image_token_index: 90,
  vision_config: { hidden_size: 16, intermediate_size: 24, num_hidden_layers: 2, num_attention_heads: 2, image_size: 8, patch_size: 4 },
  text_config: {
    model_type: "gemma", hidden_size: 16, intermediate_size: 20, num_hidden_layers: 3,
    num_attention_heads: 2, num_key_value_heads: 1, head_dim: 8, vocab_size: 96,
  },
};
export const tensors = randomCheckpoint(config, 3);
export const weights = writeSafetensors(tensors);
const json = (x: unknown) => new TextEncoder().encode(JSON.stringify(x));
export const configBytes = json(config);

/** The model's files, with `changes` applied (a string value is JSON-encoded unless it is bytes). */
export function modelFiles(changes: Record<string, unknown> = {}): Record<string, Uint8Array> {
  const files: Record<string, Uint8Array> = { "config.json": configBytes, "model.safetensors": weights };
  for (const [name, v] of Object.entries(changes)) {
    if (v === undefined) delete files[name];
    else files[name] = v instanceof Uint8Array ? v : json(v);
  }
  return files;
}

/** A fresh folder holding `files` (names may have folders). */
export function folderOf(files: Record<string, Uint8Array>): string {
  const dir = mkdtempSync(join(tmpdir(), "pg-robust-model-"));
  for (const [name, bytes] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), bytes);
  }
  return dir;
}

/** A config.json with `path` ("text_config.rope_theta") set to `value`. */
export function configWith(path: string, value: unknown): Record<string, unknown> {
  const c = structuredClone(config) as Record<string, unknown>;
  const keys = path.split(".");
  let at = c;
  for (const k of keys.slice(0, -1)) at = at[k] as Record<string, unknown>;
  at[keys.at(-1)!] = value;
  return c;
}

export interface LocalServer {
  origin: string;
  /** Every path asked for, decoded as the server sees it. */
  paths: string[];
  close(): Promise<void>;
}

/** An HTTP server on 127.0.0.1; `handle` answers each request. */
export async function localServer(handle: (req: IncomingMessage, res: ServerResponse) => void): Promise<LocalServer> {
  const paths: string[] = [];
  const server = createServer((req, res) => {
    paths.push(decodeURIComponent(new URL(req.url!, "http://x").pathname));
    handle(req, res);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    paths,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** Serves `files` under `/model/` (404 elsewhere), as a static file server would. */
export function fileServer(files: Record<string, Uint8Array>, root: Record<string, Uint8Array> = {}): Promise<LocalServer> {
  return localServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url!, "http://x").pathname);
    const body = path.startsWith("/model/") ? files[path.slice("/model/".length)] : root[path.slice(1)];
    if (!body) return void res.writeHead(404).end();
    res.writeHead(200, { "content-length": body.length }).end(body);
  });
}

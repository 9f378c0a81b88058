// Issue 16, item 2 (and the weight_map types of item 4): nothing outside the model folder,
// its URL prefix or its cache entry is ever read. A checkpoint names files (an index's
// weight_map); each must be a plain relative name; the hub's revision and repository id
// follow the hub's rules; a symlink out of the folder is refused. Each is a LoadError
// naming the file.
import { mkdirSync, mkdtempSync, readdirSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import { LoadError, PaliGemmaError } from "../../src/errors.js";
import { PaliGemmaForConditionalGeneration } from "../../src/model/paligemma.js";
import { ReferenceBackend } from "../reference/backend.js";
import { fileServer, folderOf, type LocalServer, modelFiles, tensors, weights } from "./small-model.js";

const load = (source: Parameters<typeof PaliGemmaForConditionalGeneration.load>[0], opts = {}) =>
  PaliGemmaForConditionalGeneration.load(source, { backend: new ReferenceBackend(), ...opts });

/** The error `promise` rejects with; fails when it resolves. */
async function failure(promise: Promise<unknown>): Promise<PaliGemmaError> {
  const outcome = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (outcome === undefined) throw new Error("expected a rejection, but it resolved");
  return outcome as PaliGemmaError;
}

function expectLoadError(e: PaliGemmaError, fragment: string) {
  expect(e).toBeInstanceOf(LoadError);
  expect(e.code).toBe("LOAD_FAILED");
  expect(e.message).toContain(fragment);
}

/** An index that puts every tensor in `shard`. */
const indexTo = (shard: unknown) => ({ weight_map: Object.fromEntries([...tensors.keys()].map((n) => [n, shard])) });

let server: LocalServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe("folder sources", () => {
  test.each(["../secret.safetensors", "../../../../etc/passwd", "/etc/passwd", "shards/../../secret.safetensors"])(
    "an index entry %s outside the folder is refused, naming it",
    async (shard) => {
      // A valid checkpoint beside the folder: loading it would succeed, so only the check stops it.
      const outer = mkdtempSync(join(tmpdir(), "pg-robust-outer-"));
      writeFileSync(join(outer, "secret.safetensors"), weights);
      const dir = join(outer, "a", "model");
      mkdirSync(dir, { recursive: true });
      for (const [name, bytes] of Object.entries(modelFiles({ "model.safetensors.index.json": indexTo(shard) }))) {
        writeFileSync(join(dir, name), bytes);
      }
      expectLoadError(await failure(load(dir)), `${JSON.stringify(shard)} (a file of ${dir}) is not a file name inside the model`);
    },
  );

  test.each([42, null, ["model.safetensors"]])("a weight_map value %j is a LoadError, not a TypeError", async (shard) => {
    const dir = folderOf(modelFiles({ "model.safetensors.index.json": indexTo(shard) }));
    expectLoadError(await failure(load(dir)), `weight_map["${[...tensors.keys()][0]}"] is ${JSON.stringify(shard)}, expected a file name`);
  });

  test("a weight_map that is an array is a LoadError", async () => {
    const dir = folderOf(modelFiles({ "model.safetensors.index.json": { weight_map: ["model.safetensors"] } }));
    expectLoadError(await failure(load(dir)), "has no weight_map object");
  });

  test("a symlink inside the folder pointing outside it is refused", async () => {
    const dir = folderOf(modelFiles({ "config.json": undefined }));
    symlinkSync("/etc/passwd", join(dir, "config.json"));
    expectLoadError(await failure(load(dir)), `config.json in ${dir} is a link to /etc/passwd, outside the model folder`);
  });

  test("symlinks inside the folder, and a Hugging Face cache snapshot's links into its blobs, load", async () => {
    const inner = folderOf(modelFiles({ "model.safetensors": undefined, "real/model.safetensors": weights }));
    symlinkSync("real/model.safetensors", join(inner, "model.safetensors"));
    (await load(inner)).dispose();

    const repo = join(mkdtempSync(join(tmpdir(), "pg-robust-hf-")), "models--test--tiny");
    const snapshot = join(repo, "snapshots", "0123abcd");
    mkdirSync(join(repo, "blobs"), { recursive: true });
    mkdirSync(snapshot, { recursive: true });
    for (const [name, bytes] of Object.entries(modelFiles())) {
      writeFileSync(join(repo, "blobs", `blob-${name}`), bytes);
      symlinkSync(`../../blobs/blob-${name}`, join(snapshot, name));
    }
    (await load(snapshot)).dispose();
  });
});

describe("URL sources", () => {
  test.each(["../secret.safetensors", "..%2fsecret.safetensors", "%2e%2e/secret.safetensors", "x?y=../../secret.safetensors"])(
    "an index entry %s makes no request outside the URL prefix",
    async (shard) => {
      server = await fileServer(modelFiles({ "model.safetensors.index.json": indexTo(shard) }), { "secret.safetensors": weights });
      const e = await failure(load(`${server.origin}/model/`));
      if (shard.includes("..") && !shard.includes("%")) {
        expectLoadError(e, "is not a file name inside the model");
      } else {
        // Encoded: a name with % or ? is one odd file name inside the prefix, which is absent.
        expectLoadError(e, "not found");
      }
      expect(server.paths.filter((p) => !p.startsWith("/model/"))).toEqual([]);
    },
  );
});

describe("hub sources", () => {
  test.each(["..", ".", "main/../../other", "a..b", "refs//x", "-x y", ""])("revision %j is refused before any request", async (revision) => {
    const cache = mkdtempSync(join(tmpdir(), "pg-robust-cache-"));
    const e = await failure(load("hf://test/tiny", { endpoint: "http://127.0.0.1:9", cache, revision }));
    expectLoadError(e, `revision ${JSON.stringify(revision)} is not a branch, tag or commit name`);
    expect(readdirSync(cache)).toEqual([]);
  });

  test.each(["test/--x", "test/x--y", "test/..x", "-test/x", "test/x.", "a/b/c", `test/${"x".repeat(100)}`])(
    "repository id %s is refused by the hub's rules",
    async (repo) => {
      expectLoadError(await failure(load(`hf://${repo}`, { endpoint: "http://127.0.0.1:9", cache: false })), "is not a Hugging Face repository id");
    },
  );

  test("revisions and ids the hub uses still pass (refs/pr/1, a commit, dots and dashes)", async () => {
    server = await fileServer({});
    for (const [repo, revision] of [["google/paligemma-3b-pt-224", "refs/pr/1"], ["a.b-c_d/e.f-g", "0123456789abcdef0123456789abcdef01234567"]]) {
      // A 404 without the hub's error code: the request was made, so the names were accepted.
      const e = await failure(load(`hf://${repo}`, { endpoint: server.origin, cache: false, revision }));
      expectLoadError(e, "config.json not found");
    }
  });
});

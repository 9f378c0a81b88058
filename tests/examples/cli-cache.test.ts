// `paligemma-edge cache ls | rm` as a user runs it (node dist/cli.js), on a cache folder
// filled by real loads from a local hub: ls prints what PaliGemma.cache.list() holds,
// rm deletes what PaliGemma.cache.delete() would, and both find the default folder
// through XDG_CACHE_HOME as loads do.
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PaliGemma } from "../../src/runtime/node.js";
import { hubServer, type HubServer } from "../harness/hub-server.js";
import { DEMO_MODEL } from "./reference.js";

const run = promisify(execFile);

async function cli(env: Record<string, string>, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ["dist/cli.js", ...args], { encoding: "utf8", env: { ...process.env, ...env } });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const { code, stdout, stderr } = e as { code: number; stdout: string; stderr: string };
    return { code, stdout, stderr };
  }
}

const BYTES = ["config.json", "model.safetensors", "tokenizer.json"].reduce((n, f) => n + statSync(join(DEMO_MODEL, f)).size, 0);
const MB = `${(BYTES / 1e6).toFixed(1)} MB`;

let hub: HubServer;
let xdg: string;
let cache: string;
beforeAll(async () => {
  hub = await hubServer(DEMO_MODEL, "test/demo");
  xdg = mkdtempSync(join(tmpdir(), "pg-cli-cache-"));
  cache = join(xdg, "paligemma-edge"); // the default folder under XDG_CACHE_HOME
  for (const revision of ["main", "v1.0"]) {
    (await PaliGemma.load("test/demo", { device: "wasm", endpoint: hub.endpoint, cache, revision })).dispose();
  }
});
afterAll(() => hub.close());

describe("paligemma-edge cache", () => {
  it("ls prints repo, revision, size, state and folder of each entry; --json gives PaliGemma.cache.list()", async () => {
    const r = await cli({ XDG_CACHE_HOME: xdg }, "cache", "ls");
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trimEnd().split("\n").map((l) => l.split(/\s{2,}/));
    expect(lines).toEqual([
      ["REPO", "REVISION", "SIZE", "STATE", "LOCATION"],
      ["test/demo", "main", MB, "complete", join(cache, "test", "demo", "main")],
      ["test/demo", "v1.0", MB, "complete", join(cache, "test", "demo", "v1.0")],
    ]);
    const json = await cli({}, "cache", "ls", "--json", "--cache", cache);
    expect(JSON.parse(json.stdout)).toEqual(await PaliGemma.cache.list({ cache }));
  });

  it("rm REPO --revision R deletes that revision only; rm of what is not cached exits 1", async () => {
    const r = await cli({}, "cache", "rm", "test/demo", "--revision", "v1.0", "--cache", cache);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`deleted test/demo (revision v1.0), ${MB}, from ${join(cache, "test", "demo", "v1.0")}\n`);
    expect(existsSync(join(cache, "test", "demo", "v1.0"))).toBe(false);
    expect((await PaliGemma.cache.list({ cache })).map((m) => m.revision)).toEqual(["main"]);
    const again = await cli({}, "cache", "rm", "test/demo", "--revision", "v1.0", "--cache", cache);
    expect([again.code, again.stderr]).toEqual([1, "test/demo (revision v1.0) is not in the cache\n"]);
  });

  it("rm REPO deletes every revision; then ls says the cache is empty", async () => {
    const r = await cli({ XDG_CACHE_HOME: xdg }, "cache", "rm", "test/demo");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("deleted test/demo (revision main)");
    expect(await PaliGemma.cache.has("test/demo", { cache })).toBe(false);
    const ls = await cli({ XDG_CACHE_HOME: xdg }, "cache", "ls");
    expect([ls.code, ls.stdout, ls.stderr]).toEqual([0, "", "the cache is empty\n"]);
  });

  it("bad usage exits 2 saying what is wrong; a bad repository id is the SDK's error", async () => {
    const none = await cli({}, "cache");
    expect([none.code, none.stderr.split("\n")[0]]).toEqual([2, "error: cache needs ls or rm"]);
    const unknown = await cli({}, "cache", "prune");
    expect(unknown.stderr.split("\n")[0]).toBe('error: unknown cache command "prune": use ls or rm');
    const noRepo = await cli({}, "cache", "rm");
    expect([noRepo.code, noRepo.stderr.split("\n")[0]]).toEqual([2, "error: cache rm needs a REPO (owner/name)"]);
    const bad = await cli({}, "cache", "rm", "../etc", "--cache", cache);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^error: "\.\.\/etc" is not a Hugging Face repository id/);
  });
});

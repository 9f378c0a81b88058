// `paligemma-edge cache ls | rm REPO [--revision R]`: the hub download cache from the
// command line (PaliGemma.cache). ls prints one line per repository and revision:
// repo, revision, bytes, whether a load would download nothing, and its folder.
import { parseArgs } from "node:util";
import { type CachedModel, PaliGemma } from "../../src/runtime/node.js";

export const CACHE_USAGE = `usage: paligemma-edge cache ls [--cache DIR] [--json]
       paligemma-edge cache rm REPO [--revision R] [--cache DIR]

  ls                 what hub loads downloaded: repo, revision, size, complete or not, folder
  rm REPO            delete a repository's files (every revision, or --revision R)
  --cache DIR        the cache folder (default: $XDG_CACHE_HOME/paligemma-edge or ~/.cache/paligemma-edge)`;

const human = (bytes: number) =>
  bytes >= 1e9 ? `${(bytes / 1e9).toFixed(2)} GB` : bytes >= 1e6 ? `${(bytes / 1e6).toFixed(1)} MB` : `${(bytes / 1e3).toFixed(1)} kB`;

/** Columns padded to their widest cell. */
function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]))).join("  ")).join("\n") + "\n";
}

/** Runs `cache ...`; returns the exit code. Usage errors throw `usageError(message)`. */
export async function cacheCommand(argv: string[], usageError: (message: string) => Error): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { cache: { type: "string" }, revision: { type: "string" }, json: { type: "boolean", default: false } },
  });
  const [action, repo, ...extra] = positionals;
  const cache = values.cache ? { cache: values.cache } : {};
  if (action === "ls") {
    if (repo !== undefined) throw usageError(`cache ls takes no REPO (got "${repo}")`);
    const models = await PaliGemma.cache.list(cache);
    if (values.json) {
      process.stdout.write(JSON.stringify(models) + "\n");
    } else if (!models.length) {
      process.stderr.write("the cache is empty\n");
    } else {
      const row = (m: CachedModel) => [m.repo, m.revision, human(m.size), m.complete ? "complete" : "incomplete", m.location];
      process.stdout.write(table([["REPO", "REVISION", "SIZE", "STATE", "LOCATION"], ...models.map(row)]));
    }
    return 0;
  }
  if (action === "rm") {
    if (!repo) throw usageError("cache rm needs a REPO (owner/name)");
    if (extra.length) throw usageError(`cache rm takes one REPO (got also "${extra.join(" ")}")`);
    const removed = await PaliGemma.cache.delete(repo, { ...cache, revision: values.revision });
    if (!removed.length) {
      process.stderr.write(`${repo}${values.revision ? ` (revision ${values.revision})` : ""} is not in the cache\n`);
      return 1;
    }
    for (const m of removed) process.stdout.write(`deleted ${m.repo} (revision ${m.revision}), ${human(m.size)}, from ${m.location}\n`);
    return 0;
  }
  throw usageError(action ? `unknown cache command "${action}": use ls or rm` : "cache needs ls or rm");
}

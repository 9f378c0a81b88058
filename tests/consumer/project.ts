// The consumer project (tests/consumer/project): what a user of the installed package
// writes, copied into a temporary folder outside this repository, and the checks run
// there (package.test.ts, which installs the packed tarball).
import { execFile } from "node:child_process";
import { cpSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";

export const PROJECT = "tests/consumer/project";
export const TSCONFIGS = ["tsconfig.node.json", "tsconfig.dom.json", "tsconfig.bundler.json"];

/** Copies the project's files into `dir`, with a package.json naming `dependencies`. */
export function writeProject(dir: string, dependencies: Record<string, string> = {}): void {
  cpSync(PROJECT, dir, { recursive: true });
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module", dependencies }, null, 2));
}

/** Runs `file args` in `cwd` (`env` entries that are undefined unset); rejects with everything it printed when it fails. */
export async function run(
  file: string,
  args: string[],
  cwd: string,
  env: Record<string, string | undefined> = {},
): Promise<{ stdout: string; stderr: string }> {
  try {
    return await promisify(execFile)(file, args, { cwd, encoding: "utf8", env: { ...process.env, NO_COLOR: "1", ...env }, maxBuffer: 64 << 20 });
  } catch (e) {
    const { stdout, stderr } = e as { stdout?: string; stderr?: string };
    throw new Error(`${file} ${args.join(" ")} failed in ${cwd}:\n${stdout ?? ""}\n${stderr ?? ""}\n${(e as Error).message}`);
  }
}

/**
 * Type-checks the project's files under each tsconfig with `tsc`, and its Deno file with
 * `deno check`. Correct calls must compile and every @ts-expect-error must be an error.
 */
export async function typeCheck(dir: string, tsc: string, deno: string): Promise<void> {
  for (const config of TSCONFIGS) await run(process.execPath, [tsc, "-p", config], dir);
  await run(deno, ["check", "--no-lock", "types/deno.ts", "types/common.ts"], dir);
}

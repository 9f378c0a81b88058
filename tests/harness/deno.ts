// Running a script under Deno from a Node test: the binary the `deno` devDependency
// installs, no permissions unless asked, input on stdin, what it printed returned.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { resolve } from "node:path";

/** DENO overrides the devDependency's binary. */
export const DENO = process.env.DENO ?? resolve("node_modules/.bin/deno");

export interface DenoOptions {
  /** Written to the script's stdin, which is then closed. */
  input?: string;
  /** Deno flags before the script: permissions (`--allow-read=...`) and the like. */
  flags?: string[];
  /** Added to this process's environment. */
  env?: Record<string, string>;
}

/** Runs `deno run <flags> <script>`; resolves to its stdout, rejects with its stderr. */
export function runDeno(script: string, options: DenoOptions = {}): Promise<string> {
  if (!existsSync(DENO)) {
    return Promise.reject(new Error(`no Deno at ${DENO}: run npm ci (the \`deno\` devDependency ships it) or set DENO`));
  }
  // --no-prompt: a missing permission fails instead of waiting for an answer on a tty.
  // --no-lock: running a test script must not write a deno.lock into the checkout.
  const args = ["run", "--no-prompt", "--no-lock", ...(options.flags ?? []), script];
  const child = spawn(DENO, args, { env: { ...process.env, NO_COLOR: "1", ...options.env } });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (s: string) => (stdout += s));
  child.stderr.setEncoding("utf8").on("data", (s: string) => (stderr += s));
  child.stdin.end(options.input ?? "");
  return new Promise((done, fail) => {
    child.on("error", fail);
    child.on("close", (code, signal) => {
      if (code === 0) done(stdout);
      else fail(new Error(`deno ${args.join(" ")} exited with ${signal ?? code}:\n${stderr}`));
    });
  });
}

// Hostile input runs in a child process against the built package (dist/node.js), with a
// wall-clock limit, a heap cap and a resident-memory cap (WASM memory and ArrayBuffers
// are outside V8's heap: a watchdog kills the child when its RSS passes the cap), so a
// regression to a crash, a hang or a runaway allocation fails one test instead of
// taking the suite down. The script's last line of
// stdout is a JSON report: what it returned, or the error it threw (class, code, message),
// and the child's peak resident memory.
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export const DIST = resolve("dist/node.js");
export const DEMO = resolve("models/demo-shapes");
export const TINY = resolve("tests/fixtures/tiny-pg1");

/** The children run the build: one older than src/ would test old code. */
function checkBuild(): void {
  const built = statSync(DIST, { throwIfNoEntry: false })?.mtimeMs ?? 0;
  const newest = readdirSync("src", { recursive: true, withFileTypes: true })
    .filter((f) => f.isFile())
    .reduce((t, f) => Math.max(t, statSync(join(f.parentPath, f.name)).mtimeMs), 0);
  if (built < newest) throw new Error("dist/ is older than src/: run `npm run build` (npm test does) before these tests");
}

export interface ChildReport {
  /** The value the body returned (JSON), when it did not throw. */
  value?: unknown;
  error?: { name: string; code?: string; message: string };
  /** Peak resident set of the child, MiB. */
  peakMiB: number;
}

export interface ChildResult {
  /** null when the child was killed (by the limit or a signal). */
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  /** Killed for passing maxRssMiB. */
  overMemory: boolean;
  report?: ChildReport;
  stderr: string;
}

/**
 * Runs `body` (the inside of an async function; `pg` is the package, `args` the JSON
 * `args`) in a fresh Node process.
 */
export function runChild(
  body: string,
  {
    args = {},
    timeoutMs = 30_000,
    maxHeapMiB = 512,
    maxRssMiB = Infinity,
    env = {},
  }: { args?: unknown; timeoutMs?: number; maxHeapMiB?: number; maxRssMiB?: number; env?: Record<string, string> } = {},
): Promise<ChildResult> {
  checkBuild();
  const dir = mkdtempSync(join(tmpdir(), "pg-robust-"));
  const script = join(dir, "child.mjs");
  writeFileSync(
    script,
    `process.env.VK_ICD_FILENAMES ??= "/usr/lib/chromium/vk_swiftshader_icd.json";
const pg = await import(${JSON.stringify(DIST)});
const args = JSON.parse(process.env.PG_ARGS);
const peakMiB = () => process.resourceUsage().maxRSS / 1024;
let report;
try {
  const value = await (async () => { ${body} })();
  report = { value, peakMiB: peakMiB() };
} catch (e) {
  report = { error: { name: e?.name, code: e?.code, message: String(e?.message ?? e) }, peakMiB: peakMiB() };
}
process.stdout.write("\\n" + JSON.stringify(report) + "\\n");
process.exit(0);
`,
  );
  return new Promise((done) => {
    const child = spawn(process.execPath, [`--max-old-space-size=${maxHeapMiB}`, script], {
      env: { ...process.env, ...env, PG_ARGS: JSON.stringify(args) },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, timeoutMs);
    let overMemory = false;
    const watchdog = Number.isFinite(maxRssMiB)
      ? setInterval(() => {
          if (residentMiB(child.pid!) > maxRssMiB) {
            overMemory = true;
            child.kill("SIGKILL");
          }
        }, 20)
      : undefined;
    child.on("close", (exitCode, signal) => {
      clearTimeout(timer);
      clearInterval(watchdog);
      const last = stdout.trim().split("\n").pop();
      let report: ChildReport | undefined;
      try {
        report = last ? (JSON.parse(last) as ChildReport) : undefined;
      } catch {
        report = undefined;
      }
      done({ exitCode, signal, timedOut, overMemory, report, stderr: stderr.slice(-4000) });
    });
  });
}

/** VmRSS of a live process, MiB (Linux); 0 once it is gone. */
function residentMiB(pid: number): number {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0) / 1024;
  } catch {
    return 0;
  }
}

/** The child's report, failing with what went wrong when it crashed, hung or ran over its memory. */
export async function reportOf(result: Promise<ChildResult>): Promise<ChildReport> {
  const r = await result;
  if (r.overMemory) throw new Error(`the child's resident memory passed its cap (killed)\n${r.stderr}`);
  if (r.timedOut) throw new Error(`the child hung (killed after its time limit)\n${r.stderr}`);
  if (!r.report) throw new Error(`the child died (exit ${r.exitCode}, signal ${r.signal})\n${r.stderr}`);
  return r.report;
}

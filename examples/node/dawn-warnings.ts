// Dawn (the `webgpu` package) prints a warning for each Vulkan driver it probes and turns
// down, e.g. Mesa's lavapipe:
//   Warning: Vulkan shaderUniform*ArrayDynamicIndexing required.
//    - While initializing adapter (backend=BackendType::Vulkan)
//       at InitializeImpl (.../dawn/native/vulkan/PhysicalDeviceVk.cpp:257)
// Native code writes it to file descriptor 2, past Node's streams, and Dawn has no switch
// for it, so the CLI cannot hold it back in its own process. Instead the CLI runs itself
// as a child whose stderr comes through a pipe, and relays all of it but those blocks.
import { spawn } from "node:child_process";
import process from "node:process";

const CHILD = "PALIGEMMA_EDGE_CLI_RELAYED";

/**
 * In the parent: runs this script again as a child and resolves with its exit code once
 * its stderr is relayed. In that child: undefined (run the CLI), and when the parent's
 * stderr is a terminal, the child's says so too, so the progress bar still redraws in place.
 */
export async function relayWithoutDawnWarnings(): Promise<number | undefined> {
  if (process.env[CHILD]) {
    if (process.env[CHILD] === "tty") process.stderr.isTTY = true;
    return undefined;
  }
  const child = spawn(process.execPath, [...process.execArgv, process.argv[1], ...process.argv.slice(2)], {
    stdio: ["inherit", "inherit", "pipe"],
    env: { ...process.env, [CHILD]: process.stderr.isTTY ? "tty" : "pipe" },
  });
  const filter = dawnWarningFilter((text) => process.stderr.write(text));
  child.stderr.setEncoding("utf8").on("data", filter.write);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((done) =>
    child.on("close", (c, s) => done([c, s])),
  );
  filter.end();
  if (signal) process.kill(process.pid, signal); // die of the same signal (Ctrl-C), as the shell expects
  return code ?? 1;
}

/** Dawn's block: "Warning: " first, then lines of its cause and where, then a blank line. */
const WARNING = "Warning: ";
const CONTINUATIONS = [" - ", "    at "];
const FROM_DAWN = /While initializing adapter|dawn[\\/]native[\\/]/;

/** Whether `line`, perhaps cut short, is or may become a line starting with `prefix`. */
const mayStart = (line: string, prefix: string) => line.startsWith(prefix) || prefix.startsWith(line);

/**
 * Passes text on as it comes, except blocks that begin with "Warning: " and name Dawn's
 * adapter probing: those are held until the block ends, then dropped. A line that cannot
 * begin or continue such a block passes before its newline comes (a progress bar redrawn
 * with \r), and the rest of that line after it.
 */
export function dawnWarningFilter(out: (text: string) => void): { write: (text: string) => void; end: () => void } {
  let held = ""; // a Warning block so far, newlines included
  let partial = ""; // a line without its newline yet, held back
  let passing = false; // part of the current line has passed already: so does the rest
  const settle = () => {
    if (held && !FROM_DAWN.test(held)) out(held);
    held = "";
  };
  const continues = (line: string, whole: boolean) =>
    held !== "" && ((whole && line === "") || CONTINUATIONS.some((c) => (whole ? line.startsWith(c) : mayStart(line, c))));
  /** A whole line, with its newline ("" for the last one, without). */
  const line = (text: string, newline: string) => {
    if (passing) out(text + newline);
    else if (continues(text, true)) held += text + newline;
    else {
      settle();
      if (text.startsWith(WARNING)) held = text + newline;
      else out(text + newline);
    }
    passing = false;
  };
  return {
    write(text) {
      const lines = (partial + text).split("\n");
      partial = lines.pop()!;
      for (const l of lines) line(l, "\n");
      if (partial && (passing || !(mayStart(partial, WARNING) || continues(partial, false)))) {
        if (!passing) settle();
        out(partial);
        partial = "";
        passing = true;
      }
    },
    end() {
      if (partial) line(partial, "");
      settle();
    },
  };
}

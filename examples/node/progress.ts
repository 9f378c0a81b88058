// The CLI's progress bar on stderr: one line per file, redrawn in place on a terminal
// with the file's stage (its reading, quantizing and uploading interleave) and the whole
// load's share; elsewhere (pipes, CI logs) a single line when
// each file is loaded onto the device.
import type { LoadProgress } from "../../src/runtime/node.js";

const MB = 1024 * 1024;
const WIDTH = 30;

const mb = (n: number) => (n / MB).toFixed(1);
const kb = (n: number) => (n / 1024).toFixed(1);

/** `verb` is what the line says of a file read to its end ("loaded" by a task, "quantized" by quantize). */
export function progressBar(stream: NodeJS.WriteStream = process.stderr, verb = "loaded"): (p: LoadProgress) => void {
  let current = "";
  return ({ stage, file, loaded, total, overall }) => {
    if (stage === "ready") {
      if (stream.isTTY && current) stream.write("\n");
      current = "";
      return;
    }
    const done = total !== undefined && loaded >= total;
    // Small files (config.json) in kB: "0.0/0.0 MB" would say nothing.
    const [unit, f] = (total ?? loaded) < MB ? ["kB", kb] : ["MB", mb];
    const size = total === undefined ? `${f(loaded)} ${unit}` : `${f(loaded)}/${f(total)} ${unit}`;
    if (!stream.isTTY) {
      if (done && stage === "read") stream.write(`${verb} ${file} (${size})\n`);
      return;
    }
    // The tracker sends at most ~10 events a second per file and stage: each is drawn.
    if (file !== current && current) stream.write("\n");
    current = file!;
    const filled = total ? Math.round((WIDTH * loaded) / total) : 0;
    const bar = total ? `[${"#".repeat(filled)}${".".repeat(WIDTH - filled)}] ${Math.floor((100 * loaded) / total)}%` : "";
    const all = overall.total ? ` (all files: ${Math.floor((100 * overall.loaded) / overall.total)}%)` : "";
    stream.write(`\r\x1b[2K${file} ${stage} ${bar} ${size}${all}`);
  };
}

// The CLI's progress bar on stderr: one line per file, redrawn in place on a terminal;
// elsewhere (pipes, CI logs) a single line when each file is done.
import type { LoadProgress } from "../../src/runtime/node.js";

const MB = 1024 * 1024;
const WIDTH = 30;

/** `verb` is what the line says of a file read to its end ("loaded" by a task, "quantized" by quantize); a hub download says "downloaded". */
export function progressBar(stream: NodeJS.WriteStream = process.stderr, verb = "loaded"): (p: LoadProgress) => void {
  let current = "";
  let lastDraw = 0;
  return ({ stage, file, loaded, total }) => {
    const done = total !== undefined && loaded >= total;
    const size = total === undefined ? `${(loaded / MB).toFixed(1)} MB` : `${(loaded / MB).toFixed(1)}/${(total / MB).toFixed(1)} MB`;
    if (!stream.isTTY) {
      if (done) stream.write(`${stage === "download" ? "downloaded" : verb} ${file} (${size})\n`);
      return;
    }
    // Redraw at most ~20 times a second: a terminal write per chunk slows big downloads.
    const now = performance.now();
    if (file === current && !done && now - lastDraw < 50) return;
    lastDraw = now;
    if (file !== current && current) stream.write("\n");
    current = file;
    const filled = total ? Math.round((WIDTH * loaded) / total) : 0;
    const bar = total ? `[${"#".repeat(filled)}${".".repeat(WIDTH - filled)}] ${Math.floor((100 * loaded) / total)}%` : "";
    stream.write(`\r\x1b[2K${file} ${bar} ${size}`);
    if (done) {
      stream.write("\n");
      current = "";
    }
  };
}

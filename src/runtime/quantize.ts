// quantize(src, dst, { dtype }) for Node (and Deno): any checkpoint the SDK loads, written
// to the folder `dst` in the quantized format (src/weights/quantize-checkpoint.ts).
import { mkdir, open, readdir, rename } from "node:fs/promises";
import { join } from "node:path";
import { InputError } from "../errors.js";
import { type FetchOptions, type ModelSource, resolveSource } from "../weights/files.js";
import { trackerOf, withTracker } from "../weights/progress.js";
import { COPIED, type OutputFolder, quantizeCheckpoint, type QuantizeOptions, type QuantizeResult } from "../weights/quantize-checkpoint.js";

export type { QuantizeOptions, QuantizeResult };

function folder(dir: string): OutputFolder {
  return {
    async create(name) {
      const file = await open(join(dir, name), "w");
      return {
        async write(bytes) {
          for (let done = 0; done < bytes.length; ) done += (await file.write(bytes, done, bytes.length - done)).bytesWritten;
        },
        close: () => file.close(),
      };
    },
    rename: (from, to) => rename(join(dir, from), join(dir, to)),
  };
}

/** Writes `source` quantized to `dtype` into the folder `dst` (created; it must be empty). */
export async function quantize(source: ModelSource, dst: string, opts: QuantizeOptions & FetchOptions): Promise<QuantizeResult> {
  await mkdir(dst, { recursive: true });
  const present = await readdir(dst);
  if (present.length) throw new InputError(`${dst} is not empty (${present.slice(0, 3).join(", ")}${present.length > 3 ? ", ..." : ""}): quantize writes into a new or empty folder`);
  const { tracker } = trackerOf(opts);
  const files = resolveSource(source, withTracker(opts, tracker));
  await tracker.plan(files, COPIED);
  const result = await quantizeCheckpoint(files, folder(dst), opts);
  tracker.ready();
  return result;
}

// The one check every file name a checkpoint gives goes through before it is opened: its
// own module so that files.ts (which resolves hub sources) and hub.ts share it without
// importing each other.
import { LoadError } from "../errors.js";

/**
 * Names come from files too (an index's weight_map), so each is checked to be a relative
 * path of plain names before anything is opened: nothing outside the model folder, URL
 * prefix or cache entry can be reached. Returns the name.
 */
export function checkFileName(name: unknown, where: string): string {
  const plain = (part: string) => part !== "" && part !== "." && part !== ".." && !/[\\:\x00-\x1f]/.test(part);
  if (typeof name !== "string" || !name.split("/").every(plain)) {
    throw new LoadError(
      `${JSON.stringify(name)} (a file of ${where}) is not a file name inside the model: expected a relative path of plain names, ` +
        'without empty, "." or ".." parts, "\\" or ":"',
    );
  }
  return name;
}

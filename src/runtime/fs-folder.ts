// A model folder on disk as ModelFiles (Node; Deno through its node: modules). Nothing
// outside the folder is read: a symlink whose target leaves it is refused, except where
// the folder is a snapshot in Hugging Face's own cache (`models--owner--name/snapshots/<rev>`),
// whose files are links into that repository's `blobs/`.
import { realpath, stat } from "node:fs/promises";
import { isAbsolute, join, resolve, sep } from "node:path";
import { LoadError } from "../errors.js";
import type { ModelFiles } from "../weights/files.js";
import { localFile } from "./fs-cache.js";

const HF_SNAPSHOT = /^(.*[\\/]models--[^\\/]+)[\\/]snapshots[\\/][^\\/]+$/;

const inside = (path: string, folder: string) => path.startsWith(folder.endsWith(sep) ? folder : folder + sep);

/** The folder's real path; a LoadError when there is no such folder (not "config.json not found"). */
async function folderRoot(folder: string): Promise<string> {
  const info = await stat(folder).catch(() => undefined);
  if (!info) throw new LoadError(`the model folder ${folder} does not exist${isAbsolute(folder) ? "" : ` (${resolve(folder)})`}`);
  if (!info.isDirectory()) throw new LoadError(`${folder} is a file, not a model folder (one with config.json, model.safetensors and tokenizer.json)`);
  return realpath(folder);
}

export function folderFiles(folder: string): ModelFiles {
  let real: Promise<string> | undefined;
  const files: ModelFiles = {
    where: folder,
    // Opening a file here only checks and stats it.
    size: async (name) => (await files.open(name))?.size ?? null,
    async open(name) {
      real ??= folderRoot(folder);
      const root = await real;
      const target = await realpath(join(folder, name)).catch(() => undefined);
      if (target === undefined) return undefined;
      const snapshot = HF_SNAPSHOT.exec(root);
      if (!inside(target, root) && !(snapshot && inside(target, join(snapshot[1], "blobs")))) {
        throw new LoadError(`${name} in ${folder} is a link to ${target}, outside the model folder: refused`);
      }
      return localFile(target);
    },
  };
  return files;
}

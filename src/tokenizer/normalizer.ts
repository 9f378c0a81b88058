// tokenizer.json's "normalizer": what text goes through before BPE. Added tokens
// marked `normalized: false` are matched before it, the rest after it. This SDK
// reads the normalisers Gemma's tokenizers use: Replace, and Sequence of them.
import { TokenizerError } from "../errors.js";
import { readReplace } from "./replace.js";

export type Normalizer = (text: string) => string;

export function createNormalizer(config: unknown): Normalizer | null {
  if (config === null || config === undefined) return null;
  const c = config as Record<string, unknown>;
  switch (c.type) {
    case "Replace":
      return readReplace(c, "normalizer");
    case "Sequence": {
      if (!Array.isArray(c.normalizers)) throw new TokenizerError("normalizer Sequence needs a normalizers array");
      const steps = c.normalizers.map(createNormalizer).filter((n): n is Normalizer => n !== null);
      return (text) => steps.reduce((t, step) => step(t), text);
    }
    default:
      throw new TokenizerError(`unsupported normalizer ${JSON.stringify(c.type)}: Replace and Sequence are supported (Gemma's tokenizers use them)`);
  }
}

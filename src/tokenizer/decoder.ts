// tokenizer.json's "decoder": token strings back to text. Each step maps a list
// of strings to a list of strings, as in Hugging Face's `decode_chain`; Gemma's is
// Sequence [Replace "▁" -> " ", ByteFallback, Fuse].
import { TokenizerError } from "../errors.js";
import { readReplace } from "./replace.js";

export type Decoder = (tokens: string[]) => string;

type Step = (tokens: string[]) => string[];

const BYTE_TOKEN = /^<0x[0-9A-Fa-f]{2}>$/;
// Default options: each decode() call drops a leading byte-order mark, as Hugging Face's does.
const utf8 = new TextDecoder();

/**
 * Runs of <0xNN> tokens become the text their bytes spell in UTF-8. Each run is
 * decoded on its own with TextDecoder's defaults (invalid bytes become U+FFFD, a
 * leading byte-order mark is dropped), as Hugging Face's JS ByteFallback does.
 */
const byteFallback: Step = (tokens) => {
  const out: string[] = [];
  let run: number[] = [];
  const flush = () => {
    if (run.length) out.push(utf8.decode(Uint8Array.from(run)));
    run = [];
  };
  for (const token of tokens) {
    if (token.length === 6 && BYTE_TOKEN.test(token)) {
      run.push(parseInt(token.slice(3, 5), 16));
    } else {
      flush();
      out.push(token);
    }
  }
  flush();
  return out;
};

function createStep(config: unknown): Step {
  const c = (config ?? {}) as Record<string, unknown>;
  switch (c.type) {
    case "Sequence": {
      if (!Array.isArray(c.decoders)) throw new TokenizerError("decoder Sequence needs a decoders array");
      const steps = c.decoders.map(createStep);
      return (tokens) => steps.reduce((t, step) => step(t), tokens);
    }
    case "Replace": {
      const replace = readReplace(c, "decoder");
      return (tokens) => tokens.map(replace);
    }
    case "ByteFallback":
      return byteFallback;
    case "Fuse":
      return (tokens) => [tokens.join("")];
    default:
      throw new TokenizerError(
        `unsupported decoder ${JSON.stringify(c.type)}: Replace, ByteFallback, Fuse and Sequence are supported (Gemma's tokenizers use them)`,
      );
  }
}

export function createDecoder(config: unknown): Decoder {
  // Without a decoder, Hugging Face joins the tokens with spaces.
  if (config === null || config === undefined) return (tokens) => tokens.join(" ");
  const step = createStep(config);
  return (tokens) => step(tokens).join("");
}

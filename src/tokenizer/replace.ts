// The Replace step both tokenizer.json's normalizer and its decoder may hold:
// { type: "Replace", pattern: { String: from }, content: to }. Gemma's normaliser
// turns " " into "▁" (U+2581, SentencePiece's word marker); its decoder turns it back.
import { TokenizerError } from "../errors.js";

export function readReplace(config: Record<string, unknown>, where: string): (text: string) => string {
  const from = (config.pattern as { String?: unknown } | undefined)?.String;
  const to = config.content;
  if (typeof from !== "string" || from === "" || typeof to !== "string") {
    throw new TokenizerError(
      `${where} Replace needs pattern { String: "<non-empty text>" } and a string content (regex patterns are not supported), got ${JSON.stringify(config)}`,
    );
  }
  // Literal replacement, as in Hugging Face's Rust tokenizers: "$" in `to` is escaped
  // so that replaceAll does not expand "$&" and the like.
  const literal = to.replaceAll("$", "$$$$");
  return (text) => text.replaceAll(from, literal);
}

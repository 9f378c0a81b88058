// tokenizer.json's "post_processor": the ids encode({ addSpecialTokens: true })
// puts around the text. Gemma's is TemplateProcessing with single = [<bos>, A]:
// a leading <bos>. Only the single-sequence template is needed (no text pairs).
import { TokenizerError } from "../errors.js";

export interface Template {
  prefix: number[];
  suffix: number[];
}

export function readTemplate(config: unknown): Template {
  const template: Template = { prefix: [], suffix: [] };
  if (config === null || config === undefined) return template;
  const c = config as { type?: unknown; single?: unknown; special_tokens?: Record<string, { ids?: unknown }> };
  if (c.type !== "TemplateProcessing" || !Array.isArray(c.single)) {
    throw new TokenizerError(`unsupported post_processor ${JSON.stringify(c.type)}: TemplateProcessing is supported (Gemma's tokenizers use it)`);
  }
  let side = template.prefix;
  for (const item of c.single as Record<string, { id?: unknown }>[]) {
    if (item.Sequence) {
      side = template.suffix;
      continue;
    }
    const name = item.SpecialToken?.id;
    const ids = typeof name === "string" ? c.special_tokens?.[name]?.ids : undefined;
    if (!Array.isArray(ids) || !ids.every((id) => Number.isInteger(id) && id >= 0)) {
      throw new TokenizerError(`post_processor template item ${JSON.stringify(item)} has no ids in special_tokens`);
    }
    side.push(...(ids as number[]));
  }
  return template;
}

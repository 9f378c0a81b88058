// The prompts PaliGemma was trained with (big_vision's task prefixes). Every caller
// builds them here, so the SDK, the CLI and the examples ask the same questions.
import { InputError } from "../errors.js";

type Many<T> = T | T[];

function lang(code: string | undefined): string {
  const l = code ?? "en";
  if (!/^[a-zA-Z-]{2,10}$/.test(l)) throw new InputError(`lang must be a language code like "en" or "zh-CN", got ${JSON.stringify(code)}`);
  return l;
}

function labels(list: Many<string>): string {
  const all = Array.isArray(list) ? list : [list];
  if (all.length === 0 || all.some((l) => typeof l !== "string" || !l.trim() || l.includes(";"))) {
    throw new InputError(`labels must be non-empty strings without ";", got ${JSON.stringify(list)}`);
  }
  return all.map((l) => l.trim()).join(" ; ");
}

export const prompts = {
  /** "caption en" (short) or "describe en" (long). */
  caption: (o: { lang?: string; length?: "short" | "long" } = {}) => `${o.length === "long" ? "describe" : "caption"} ${lang(o.lang)}`,
  answer: (question: string, o: { lang?: string } = {}) => {
    if (typeof question !== "string" || !question.trim()) throw new InputError("answer needs a non-empty question");
    return `answer ${lang(o.lang)} ${question}`;
  },
  ocr: () => "ocr",
  /** "detect cat ; dog" */
  detect: (what: Many<string>) => `detect ${labels(what)}`,
  segment: (what: Many<string>) => `segment ${labels(what)}`,
};

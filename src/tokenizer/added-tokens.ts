// Added tokens (tokenizer.json's added_tokens: <bos>, <start_of_turn>, "\n",
// PaliGemma's <image>, <loc0123>...) are cut out of the text before BPE and map
// straight to their ids. The splitting mirrors Hugging Face's JS tokenizer
// (`encode_text`): tokens with `normalized: false` are matched in the raw text,
// scanning left to right and taking the longest token that starts at each
// position; what is left is normalised, then split again on the `normalized: true`
// tokens (matched in normalised form); `lstrip`/`rstrip` trim the whitespace
// beside a token. What remains goes to BPE.
import { TokenizerError } from "../errors.js";
import type { Normalizer } from "./normalizer.js";

export interface AddedToken {
  id: number;
  content: string;
  /** Dropped by decode({ skipSpecialTokens: true }). */
  special: boolean;
  /** Matched after normalisation rather than in the raw text. */
  normalized: boolean;
  lstrip: boolean;
  rstrip: boolean;
}

/** Validates tokenizer.json's added_tokens, with Hugging Face's defaults. */
export function readAddedTokens(config: unknown): AddedToken[] {
  if (config === null || config === undefined) return [];
  if (!Array.isArray(config)) throw new TokenizerError("added_tokens must be an array");
  return config.map((t: Record<string, unknown>) => {
    if (typeof t?.content !== "string" || t.content === "" || !Number.isInteger(t.id) || (t.id as number) < 0) {
      throw new TokenizerError(`added_tokens entries need a non-empty string content and an id >= 0, got ${JSON.stringify(t)}`);
    }
    const special = t.special === true;
    return {
      id: t.id as number,
      content: t.content,
      special,
      normalized: typeof t.normalized === "boolean" ? t.normalized : !special,
      lstrip: t.lstrip === true,
      rstrip: t.rstrip === true,
    };
  });
}

interface TrieNode {
  next: Map<number, TrieNode>;
  word?: string;
}

/** Leftmost, then longest, matches of a set of strings, over UTF-16 code units. */
class Splitter {
  private readonly root: TrieNode = { next: new Map() };

  constructor(words: Iterable<string>) {
    for (const word of words) {
      let node = this.root;
      for (let i = 0; i < word.length; i++) {
        const c = word.charCodeAt(i);
        let child = node.next.get(c);
        if (!child) node.next.set(c, (child = { next: new Map() }));
        node = child;
      }
      node.word = word;
    }
  }

  /** The text cut into matches and the stretches between them, in order. */
  split(text: string): string[] {
    if (this.root.next.size === 0) return [text];
    const out: string[] = [];
    let start = 0;
    let i = 0;
    while (i < text.length) {
      let node: TrieNode | undefined = this.root;
      let match: string | undefined;
      for (let j = i; j < text.length && (node = node.next.get(text.charCodeAt(j))); j++) {
        if (node.word !== undefined) match = node.word;
      }
      if (match === undefined) {
        i++;
        continue;
      }
      if (i > start) out.push(text.slice(start, i));
      out.push(match);
      i += match.length;
      start = i;
    }
    if (start < text.length) out.push(text.slice(start));
    return out;
  }
}

/** A piece of encoded text: an added token's id, or text for BPE. */
export type Piece = number | string;

export class AddedTokens {
  /** Content (and normalised content) -> token; a later token with the same string wins. */
  private readonly byString = new Map<string, AddedToken>();
  private readonly raw: Splitter;
  private readonly normalized: Splitter;

  constructor(
    tokens: readonly AddedToken[],
    private readonly normalize: Normalizer | null,
  ) {
    const raw: string[] = [];
    const normalized: string[] = [];
    for (const token of tokens) {
      this.byString.set(token.content, token);
      if (token.normalized && normalize) {
        const form = normalize(token.content);
        this.byString.set(form, token);
        normalized.push(form);
      } else {
        raw.push(token.content);
      }
    }
    this.raw = new Splitter(raw);
    this.normalized = new Splitter(normalized);
  }

  /** The text as added-token ids and normalised text pieces for BPE. */
  split(text: string): Piece[] {
    const out: Piece[] = [];
    for (const section of this.stripped(this.raw.split(text))) {
      if (section === "") continue;
      const token = this.byString.get(section);
      if (token) {
        out.push(token.id);
        continue;
      }
      const normalized = this.normalize ? this.normalize(section) : section;
      if (normalized === "") continue;
      const whole = this.byString.get(normalized);
      if (whole) {
        out.push(whole.id);
        continue;
      }
      for (const sub of this.stripped(this.normalized.split(normalized))) {
        if (sub !== "") out.push(this.byString.get(sub)?.id ?? sub);
      }
    }
    return out;
  }

  /** lstrip/rstrip: trims whitespace off the neighbours of tokens that ask for it. */
  private stripped(sections: string[]): string[] {
    sections.forEach((section, i) => {
      const token = this.byString.get(section);
      if (!token) return;
      if (token.lstrip && i > 0) sections[i - 1] = sections[i - 1].trimEnd();
      if (token.rstrip && i < sections.length - 1) sections[i + 1] = sections[i + 1].trimStart();
    });
    return sections;
  }
}

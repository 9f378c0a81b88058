// The Tokenizer over tokenizer.wasm. Encoding: added tokens are cut out and the
// rest normalised in JS (added-tokens.ts), then every text piece is BPE-encoded in
// WASM in one call, then the post-processor's template is put around the ids.
// Decoding: ids -> token strings (cached) -> the decoder chain (decoder.ts).
import { DisposedError, InputError } from "../errors.js";
import type { AddedTokens } from "./added-tokens.js";
import type { Decoder } from "./decoder.js";
import { LOC_TOKENS, SEG_TOKENS } from "./paligemma-tokens.js";
import type { Template } from "./post-processor.js";
import type { DecodeOptions, EncodeOptions, Encoding, Tokenizer } from "./tokenizer.js";
import type { TokenizerWasm } from "./tokenizer-wasm.js";

export interface BpeTokenizerParts {
  added: AddedTokens;
  template: Template;
  decoder: Decoder;
  /** Contents of the tokens marked special, which skipSpecialTokens drops. */
  special: Set<string>;
  /** What an id without a token decodes as (Hugging Face's behaviour); none if the file has no unk_token. */
  unkToken: string | undefined;
  bosId: number;
  eosId: number;
  padId: number;
  imageTokenId: number;
  locBase: number;
  segBase: number;
}

export class BpeTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly bosId: number;
  readonly eosId: number;
  readonly padId: number;
  readonly imageTokenId: number;
  readonly locBase: number;
  readonly segBase: number;
  private wasm: TokenizerWasm | undefined;
  /** Token strings decoded from WASM memory so far, by id. */
  private readonly tokens: (string | null | undefined)[];

  constructor(
    wasm: TokenizerWasm,
    private readonly parts: BpeTokenizerParts,
  ) {
    this.wasm = wasm;
    this.vocabSize = wasm.vocabSize;
    this.tokens = new Array(this.vocabSize).fill(undefined);
    ({
      bosId: this.bosId,
      eosId: this.eosId,
      padId: this.padId,
      imageTokenId: this.imageTokenId,
      locBase: this.locBase,
      segBase: this.segBase,
    } = parts);
  }

  encode(text: string, opts: EncodeOptions = {}): Encoding {
    if (typeof text !== "string") throw new InputError(`encode needs a string, got ${typeof text}`);
    const pieces = this.parts.added.split(text);
    const plan = new Int32Array(pieces.length * 2);
    const texts: string[] = [];
    pieces.forEach((piece, i) => {
      if (typeof piece === "number") {
        plan[2 * i] = piece;
      } else {
        plan[2 * i] = -1;
        plan[2 * i + 1] = piece.length;
        texts.push(piece);
      }
    });
    const ids = this.live().encode(plan, texts.join(""));
    const { prefix, suffix } = this.parts.template;
    if (opts.addSpecialTokens === false || prefix.length + suffix.length === 0) return { ids };
    const withSpecial = new Int32Array(prefix.length + ids.length + suffix.length);
    withSpecial.set(prefix);
    withSpecial.set(ids, prefix.length);
    withSpecial.set(suffix, prefix.length + ids.length);
    return { ids: withSpecial };
  }

  decode(ids: ArrayLike<number>, opts: DecodeOptions = {}): string {
    this.live();
    const tokens: string[] = [];
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      // The cache answers almost every id; the checks run on the rest.
      let token = this.tokens[id];
      if (token === undefined) {
        if (!Number.isInteger(id)) throw new InputError(`decode needs integer ids, got ${id} at index ${i}`);
        token = this.idToToken(id);
      }
      token ??= this.parts.unkToken;
      if (token === undefined) {
        throw new InputError(`id ${id} is not in the vocabulary (0..${this.vocabSize - 1}) and the tokenizer has no unk_token`);
      }
      if (opts.skipSpecialTokens && this.parts.special.has(token)) continue;
      tokens.push(token);
    }
    return this.parts.decoder(tokens);
  }

  tokenToId(token: string): number | undefined {
    return this.live().findToken(token);
  }

  idToToken(id: number): string | undefined {
    const wasm = this.live();
    if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) return undefined;
    // null: looked up, no token has this id.
    let token = this.tokens[id];
    if (token === undefined) token = this.tokens[id] = wasm.token(id) ?? null;
    return token ?? undefined;
  }

  locTokenId(i: number): number {
    if (!Number.isInteger(i) || i < 0 || i >= LOC_TOKENS) throw new InputError(`location token index must be 0..${LOC_TOKENS - 1}, got ${i}`);
    return this.locBase + i;
  }

  segTokenId(i: number): number {
    if (!Number.isInteger(i) || i < 0 || i >= SEG_TOKENS) throw new InputError(`segmentation token index must be 0..${SEG_TOKENS - 1}, got ${i}`);
    return this.segBase + i;
  }

  dispose(): void {
    // Dropping the instance frees its memory (the vocabulary and merge tables, ~30 MB for Gemma).
    this.wasm = undefined;
  }

  private live(): TokenizerWasm {
    if (!this.wasm) throw new DisposedError("the tokenizer");
    return this.wasm;
  }
}

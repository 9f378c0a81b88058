// The tokenizer contract the rest of the SDK (the processor, the tasks) is written
// against. It reproduces Hugging Face `tokenizers` on a tokenizer.json: BPE with
// byte fallback, added tokens matched before normalisation, the post-processor's
// <bos>, and the decoder chain. PaliGemma's extra tokens are always present:
// <loc0000>..<loc1023>, <seg000>..<seg127> and <image>.

export interface EncodeOptions {
  /** Add what the post-processor's template adds (Gemma: a leading <bos>). Default true. */
  addSpecialTokens?: boolean;
}

export interface DecodeOptions {
  /**
   * Drop tokens the tokenizer.json marks `special` (<bos>, <eos>, <pad>, <image>...).
   * <locNNNN> and <segNNN> are not special (as in Hugging Face PaliGemma), so they
   * stay in the text for the detection and segmentation parsers. Default false.
   */
  skipSpecialTokens?: boolean;
}

export interface Encoding {
  ids: Int32Array;
}

export interface Tokenizer {
  /** Highest token id + 1, added tokens included (257153 for PaliGemma). */
  readonly vocabSize: number;
  readonly bosId: number;
  readonly eosId: number;
  readonly padId: number;
  /** The <image> placeholder token (257152 for PaliGemma). */
  readonly imageTokenId: number;
  /** Id of <loc0000>; <locNNNN> is locBase + NNNN. */
  readonly locBase: number;
  /** Id of <seg000>; <segNNN> is segBase + NNN. */
  readonly segBase: number;

  encode(text: string, opts?: EncodeOptions): Encoding;
  /** Ids outside the vocabulary decode as the unknown token, as in Hugging Face. */
  decode(ids: ArrayLike<number>, opts?: DecodeOptions): string;
  tokenToId(token: string): number | undefined;
  idToToken(id: number): string | undefined;
  /** Id of <locNNNN> for 0 <= i < 1024. */
  locTokenId(i: number): number;
  /** Id of <segNNN> for 0 <= i < 128. */
  segTokenId(i: number): number;
  /** Releases the WASM instance; the tokenizer must not be used afterwards. */
  dispose(): void;
}

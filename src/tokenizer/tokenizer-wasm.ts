// The JS side of tokenizer.wasm (assembly/tokenizer.ts): one instance per
// tokenizer, holding the vocabulary, the merge rules and BPE. This file only
// moves bytes in and out of its memory and turns its error codes into
// TokenizerErrors; what the bytes mean is decided in load.ts and bpe-tokenizer.ts.
import { TokenizerError } from "../errors.js";
import { instantiateWasm } from "../wasm/load.js";

interface TokenizerExports {
  memory: WebAssembly.Memory;
  allocate(bytes: number): number;
  release(ptr: number): void;
  indexJson(start: number, end: number, out: number, cap: number): number;
  errorAddress(): number;
  loadVocab(start: number, end: number, count: number): number;
  addTokens(count: number, ids: number, lengths: number, bytes: number): number;
  findToken(ptr: number, length: number): number;
  vocabSize(): number;
  tokenBytes(id: number): number;
  tokenLength(id: number): number;
  loadMerges(start: number, end: number, count: number): number;
  configure(byteFallback: number, unkId: number, fuseUnk: number, ignoreMerges: number): void;
  encode(text: number, plan: number, pieces: number, out: number): number;
}

/** A byte range [start, end) of the tokenizer.json held in WASM memory. */
export interface Span {
  start: number;
  end: number;
}

/** A value in the tokenizer.json: where it is, how many elements it has if it is an array or object. */
export interface JsonEntry extends Span {
  count: number;
  /** The keys of an object value, for the top-level sections only. */
  children: Map<string, JsonEntry>;
}

type Slot = "entries" | "text" | "plan" | "out" | "bytes";

const utf8 = new TextEncoder();
// ignoreBOM: a token may legitimately start with U+FEFF.
const utf8Decoder = new TextDecoder("utf-8", { ignoreBOM: true });

export class TokenizerWasm {
  private readonly buffers = new Map<Slot, { ptr: number; bytes: number }>();
  private json: { ptr: number; end: number } | undefined;

  private constructor(private readonly wasm: TokenizerExports) {}

  static async create(): Promise<TokenizerWasm> {
    return new TokenizerWasm(await instantiateWasm<TokenizerExports>("tokenizer"));
  }

  /** Copies the tokenizer.json into WASM memory; returns the span of the whole document. */
  putJson(source: string | Uint8Array): Span {
    if (typeof source !== "string") {
      const ptr = this.wasm.allocate(source.length);
      this.bytes(ptr, source.length).set(source);
      this.json = { ptr, end: ptr + source.length };
      return { start: ptr, end: ptr + source.length };
    }
    // Encode straight into WASM memory. Most of a tokenizer.json is ASCII, so guess a
    // little over one byte per code unit and finish the rest in a larger buffer if needed.
    let bytes = source.length + (source.length >> 3) + 16;
    let ptr = this.wasm.allocate(bytes);
    let { read, written } = utf8.encodeInto(source, this.bytes(ptr, bytes));
    if (read < source.length) {
      const larger = written + (source.length - read) * 3;
      const next = this.wasm.allocate(larger);
      this.bytes(next, written).set(this.bytes(ptr, written));
      this.wasm.release(ptr);
      [ptr, bytes] = [next, larger];
      written += utf8.encodeInto(source.substring(read), this.bytes(ptr + written, bytes - written)).written;
    }
    this.json = { ptr, end: ptr + written };
    return { start: ptr, end: ptr + written };
  }

  /** Frees the JSON once the vocabulary and merges are read from it. */
  releaseJson(): void {
    if (this.json) this.wasm.release(this.json.ptr);
    this.json = undefined;
  }

  /** The document's top-level keys and, for object values, their keys: one pass over the file. */
  index(doc: Span): Map<string, JsonEntry> {
    let cap = 64;
    for (;;) {
      const out = this.scratch("entries", cap * 24);
      const count = this.wasm.indexJson(doc.start, doc.end, out, cap);
      if (count < 0) throw this.syntaxError("tokenizer.json");
      if (count > cap) {
        cap = count;
        continue;
      }
      const fields = new Uint32Array(this.wasm.memory.buffer, out, count * 6);
      const top = new Map<string, JsonEntry>();
      const all: JsonEntry[] = [];
      for (let i = 0; i < count; i++) {
        const [parent, keyStart, keyEnd, start, end, elements] = fields.subarray(6 * i, 6 * i + 6);
        const key = JSON.parse(`"${this.text({ start: keyStart, end: keyEnd })}"`) as string;
        const entry: JsonEntry = { start, end, count: elements, children: new Map() };
        all.push(entry);
        (parent === 0 ? top : all[parent - 1].children).set(key, entry);
      }
      return top;
    }
  }

  /** The JSON value at span, parsed by JSON.parse (for the small parts of the file). */
  value(span: Span): unknown {
    return JSON.parse(this.text(span));
  }

  loadVocab(entry: JsonEntry): number {
    if (this.bytes(entry.start, 1)[0] !== 0x7b) throw new TokenizerError("model.vocab must be an object of token: id");
    const count = this.wasm.loadVocab(entry.start, entry.end, entry.count);
    if (count === -2) {
      throw new TokenizerError(`model.vocab maps a token to ${this.near()}: ids must be integers from 0 to 2^24`);
    }
    if (count < 0) throw this.syntaxError("model.vocab");
    return count;
  }

  loadMerges(entry: JsonEntry): number {
    if (this.bytes(entry.start, 1)[0] !== 0x5b) throw new TokenizerError("model.merges must be an array of rules");
    const count = this.wasm.loadMerges(entry.start, entry.end, entry.count);
    if (count === -3) {
      throw new TokenizerError(`model.merges has a rule that is neither "left right" nor ["left", "right"]: ${this.near()}`);
    }
    if (count === -4) {
      throw new TokenizerError(`model.merges has a rule whose tokens (or whose merged token) are not in model.vocab: ${this.near()}`);
    }
    if (count < 0) throw this.syntaxError("model.merges");
    return count;
  }

  /** Adds tokens by id, in order; an id may get a new string, a string may not get a new id. */
  addTokens(tokens: readonly { id: number; content: string }[]): void {
    const encoded = tokens.map((t) => utf8.encode(t.content));
    const total = encoded.reduce((n, b) => n + b.length, 0);
    const ids = this.scratch("plan", tokens.length * 8);
    const bytes = this.scratch("bytes", total);
    const idView = new Int32Array(this.wasm.memory.buffer, ids, tokens.length * 2);
    const byteView = this.bytes(bytes, total);
    let at = 0;
    tokens.forEach((t, i) => {
      idView[i] = t.id;
      idView[tokens.length + i] = encoded[i].length;
      byteView.set(encoded[i], at);
      at += encoded[i].length;
    });
    const conflict = this.wasm.addTokens(tokens.length, ids, ids + tokens.length * 4, bytes);
    if (conflict >= 0) {
      const { id, content } = tokens[conflict];
      throw new TokenizerError(
        `added token ${JSON.stringify(content)} has id ${id} but the vocabulary already gives it id ${this.findToken(content)}: ` +
          "a token string must keep one id",
      );
    }
  }

  configure(byteFallback: boolean, unkId: number, fuseUnk: boolean, ignoreMerges: boolean): void {
    this.wasm.configure(+byteFallback, unkId, +fuseUnk, +ignoreMerges);
  }

  get vocabSize(): number {
    return this.wasm.vocabSize();
  }

  findToken(token: string): number | undefined {
    const max = token.length * 3;
    const ptr = this.scratch("bytes", max);
    const { written } = utf8.encodeInto(token, this.bytes(ptr, max));
    const id = this.wasm.findToken(ptr, written);
    return id < 0 ? undefined : id;
  }

  token(id: number): string | undefined {
    const length = this.wasm.tokenLength(id);
    if (length < 0) return undefined;
    return utf8Decoder.decode(this.bytes(this.wasm.tokenBytes(id), length));
  }

  /**
   * Encodes a plan: pairs (id, 0) emit id; (-1, n) BPE-encode the next n UTF-16 code
   * units of text (the text pieces concatenated).
   */
  encode(plan: Int32Array, text: string): Int32Array {
    const pieces = plan.length / 2;
    const outCap = text.length * 3 + pieces;
    const textPtr = this.scratch("text", text.length * 2);
    const planPtr = this.scratch("plan", plan.length * 4);
    const outPtr = this.scratch("out", outCap * 4);
    const units = new Uint16Array(this.wasm.memory.buffer, textPtr, text.length);
    for (let i = 0; i < text.length; i++) units[i] = text.charCodeAt(i);
    new Int32Array(this.wasm.memory.buffer, planPtr, plan.length).set(plan);
    const count = this.wasm.encode(textPtr, planPtr, pieces, outPtr);
    return new Int32Array(this.wasm.memory.buffer, outPtr, count).slice();
  }

  private bytes(ptr: number, length: number): Uint8Array {
    return new Uint8Array(this.wasm.memory.buffer, ptr, length);
  }

  private text(span: Span): string {
    return utf8Decoder.decode(this.bytes(span.start, span.end - span.start));
  }

  /** The JSON from where the WASM reader stopped: one value if it starts with one, else a few bytes. */
  private near(): string {
    const at = this.wasm.errorAddress();
    const snippet = this.text({ start: at, end: Math.min(this.json?.end ?? at, at + 80) });
    return JSON.stringify(/^("(?:[^"\\]|\\.)*"|\[[^\]]*\]|[^,\]}]*)/.exec(snippet)?.[0] || snippet);
  }

  private syntaxError(what: string): TokenizerError {
    const offset = this.json ? this.wasm.errorAddress() - this.json.ptr : 0;
    return new TokenizerError(`${what} is not valid JSON at byte ${offset}, near ${this.near()}`);
  }

  /** A buffer of at least `bytes` for this slot; it stays valid until the slot is asked for more. */
  private scratch(slot: Slot, bytes: number): number {
    const held = this.buffers.get(slot);
    if (held && held.bytes >= bytes) return held.ptr;
    if (held) this.wasm.release(held.ptr);
    const ptr = this.wasm.allocate(Math.max(bytes, 64));
    this.buffers.set(slot, { ptr, bytes: Math.max(bytes, 64) });
    return ptr;
  }
}

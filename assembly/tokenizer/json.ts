// A small JSON reader over UTF-8 bytes in this module's memory: enough to walk a
// tokenizer.json without building JS objects for its 256k-entry vocabulary and
// 580k merges (JSON.parse of Gemma's file alone takes about a second). indexJson
// lists the sections and the model's fields with their spans and element counts in
// one pass; vocab.ts and merges.ts then read their spans with readString/readInt.
// Positions are absolute addresses; every reader returns -1 on malformed input and
// leaves the offending address in `failedAt`.

export let failedAt: usize = 0;
/** Length in bytes of the string the last readString wrote. */
export let stringLength: usize = 0;
/** The value the last readInt read. */
export let intValue: i64 = 0;

// Deeper nesting than this is not a tokenizer.json; refusing it keeps recursion bounded.
const MAX_DEPTH: i32 = 256;

export function fail(at: usize): isize {
  failedAt = at;
  return -1;
}

@inline
function isSpace(b: u32): bool {
  return b == 0x20 || b == 0x0a || b == 0x0d || b == 0x09;
}

export function skipSpace(p: usize, end: usize): usize {
  while (p < end && isSpace(load<u8>(p))) p++;
  return p;
}

@inline
function hexValue(b: u32): i32 {
  if (b - 0x30 < 10) return <i32>(b - 0x30);
  const lower = b | 0x20;
  if (lower - 0x61 < 6) return <i32>(lower - 0x61 + 10);
  return -1;
}

/** The 4 hex digits at p as a UTF-16 code unit, or -1. */
function hex4(p: usize, end: usize): i32 {
  if (p + 4 > end) return -1;
  let v = 0;
  for (let i: usize = 0; i < 4; i++) {
    const d = hexValue(load<u8>(p + i));
    if (d < 0) return -1;
    v = (v << 4) | d;
  }
  return v;
}

/**
 * Writes code point cp as UTF-8 at out and returns the byte count. Lone surrogates
 * get the same 3-byte form as other BMP code points (WTF-8), so a vocabulary token
 * holding one still matches text holding one, as in Hugging Face's JS tokenizer.
 */
export function writeUtf8(cp: u32, out: usize): usize {
  if (cp < 0x80) {
    store<u8>(out, <u8>cp);
    return 1;
  }
  if (cp < 0x800) {
    store<u8>(out, <u8>(0xc0 | (cp >> 6)));
    store<u8>(out + 1, <u8>(0x80 | (cp & 0x3f)));
    return 2;
  }
  if (cp < 0x10000) {
    store<u8>(out, <u8>(0xe0 | (cp >> 12)));
    store<u8>(out + 1, <u8>(0x80 | ((cp >> 6) & 0x3f)));
    store<u8>(out + 2, <u8>(0x80 | (cp & 0x3f)));
    return 3;
  }
  store<u8>(out, <u8>(0xf0 | (cp >> 18)));
  store<u8>(out + 1, <u8>(0x80 | ((cp >> 12) & 0x3f)));
  store<u8>(out + 2, <u8>(0x80 | ((cp >> 6) & 0x3f)));
  store<u8>(out + 3, <u8>(0x80 | (cp & 0x3f)));
  return 4;
}

/**
 * Reads the string starting at the quote at p, writes it unescaped as UTF-8 at out
 * (never more bytes than the escaped form has, so out may be sized by the span) and
 * returns the address after the closing quote. out = 0 only validates and skips.
 */
export function readString(p: usize, end: usize, out: usize): isize {
  if (p >= end || load<u8>(p) != 0x22) return fail(p);
  p++;
  let n: usize = 0;
  while (p < end) {
    const b = <u32>load<u8>(p);
    if (b == 0x22) {
      stringLength = n;
      return p + 1;
    }
    if (b < 0x20) return fail(p);
    if (b != 0x5c) {
      if (out) store<u8>(out + n, <u8>b);
      n++;
      p++;
      continue;
    }
    if (p + 1 >= end) return fail(p);
    const e = <u32>load<u8>(p + 1);
    let c: u32 = 0;
    if (e == 0x22 || e == 0x5c || e == 0x2f) c = e;
    else if (e == 0x62) c = 0x08;
    else if (e == 0x66) c = 0x0c;
    else if (e == 0x6e) c = 0x0a;
    else if (e == 0x72) c = 0x0d;
    else if (e == 0x74) c = 0x09;
    else if (e != 0x75) return fail(p);
    if (e != 0x75) {
      if (out) store<u8>(out + n, <u8>c);
      n++;
      p += 2;
      continue;
    }
    const unit = hex4(p + 2, end);
    if (unit < 0) return fail(p);
    let cp = <u32>unit;
    p += 6;
    // A high surrogate escape followed by a low one is one astral code point.
    if (cp >= 0xd800 && cp < 0xdc00 && p + 1 < end && load<u8>(p) == 0x5c && load<u8>(p + 1) == 0x75) {
      const low = hex4(p + 2, end);
      if (low >= 0xdc00 && low < 0xe000) {
        cp = 0x10000 + ((cp - 0xd800) << 10) + (<u32>low - 0xdc00);
        p += 6;
      }
    }
    if (out) n += writeUtf8(cp, out + n);
    else n += cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
  }
  return fail(p);
}

function skipDigits(p: usize, end: usize): usize {
  while (p < end && <u32>load<u8>(p) - 0x30 < 10) p++;
  return p;
}

function skipNumber(p: usize, end: usize): isize {
  const start = p;
  if (p < end && load<u8>(p) == 0x2d) p++;
  const intStart = p;
  p = skipDigits(p, end);
  if (p == intStart || (load<u8>(intStart) == 0x30 && p - intStart > 1)) return fail(start);
  if (p < end && load<u8>(p) == 0x2e) {
    const q = skipDigits(p + 1, end);
    if (q == p + 1) return fail(start);
    p = q;
  }
  if (p < end && (load<u8>(p) | 0x20) == 0x65) {
    p++;
    if (p < end && (load<u8>(p) == 0x2b || load<u8>(p) == 0x2d)) p++;
    const q = skipDigits(p, end);
    if (q == p) return fail(start);
    p = q;
  }
  return p;
}

/** Reads an integer written without fraction or exponent into intValue. */
export function readInt(p: usize, end: usize): isize {
  const after = skipNumber(p, end);
  if (after < 0) return -1;
  let q = p;
  const negative = load<u8>(q) == 0x2d;
  if (negative) q++;
  let v: i64 = 0;
  for (; q < <usize>after; q++) {
    const d = <u32>load<u8>(q) - 0x30;
    if (d >= 10 || v > 0xffffffff) return fail(p);
    v = v * 10 + d;
  }
  intValue = negative ? -v : v;
  return after;
}

function skipLiteral(p: usize, end: usize, word: string): isize {
  const n = <usize>word.length;
  if (p + n > end) return fail(p);
  for (let i: usize = 0; i < n; i++) {
    if (<u32>load<u8>(p + i) != <u32>word.charCodeAt(<i32>i)) return fail(p);
  }
  return p + n;
}

/** Elements (or entries) of the last array (or object) skipValueAt finished; 0 after a scalar. */
let lastCount: u32 = 0;

/** Skips the value at p and returns the address after it. */
function skipValueAt(p: usize, end: usize, depth: i32): isize {
  lastCount = 0;
  if (p >= end) return fail(p);
  const b = load<u8>(p);
  if (b == 0x22) return readString(p, end, 0);
  if (b == 0x74) return skipLiteral(p, end, "true");
  if (b == 0x66) return skipLiteral(p, end, "false");
  if (b == 0x6e) return skipLiteral(p, end, "null");
  if (b != 0x7b && b != 0x5b) return skipNumber(p, end);
  if (depth >= MAX_DEPTH) return fail(p);
  const isObject = b == 0x7b;
  const close: u8 = isObject ? 0x7d : 0x5d;
  p = skipSpace(p + 1, end);
  if (p < end && load<u8>(p) == close) return p + 1;
  let count: u32 = 0;
  while (true) {
    if (isObject) {
      const afterKey = readString(p, end, 0);
      if (afterKey < 0) return -1;
      p = skipSpace(afterKey, end);
      if (p >= end || load<u8>(p) != 0x3a) return fail(p);
      p = skipSpace(p + 1, end);
    }
    const after = skipValueAt(p, end, depth + 1);
    if (after < 0) return -1;
    count++;
    p = skipSpace(after, end);
    if (p >= end) return fail(p);
    const c = load<u8>(p);
    if (c == close) {
      lastCount = count;
      return p + 1;
    }
    if (c != 0x2c) return fail(p);
    p = skipSpace(p + 1, end);
  }
}

// indexJson's output: 6 u32 per entry.
let entries: usize = 0;
let entryCap: i32 = 0;
let entryCount: i32 = 0;

/**
 * Lists the keys of the object at p; with nest, also the keys of each value that is an
 * object, right after its own entry. Returns the address after the object.
 */
function listObject(p: usize, end: usize, parent: i32, nest: bool): isize {
  if (p >= end || load<u8>(p) != 0x7b) return fail(p);
  p = skipSpace(p + 1, end);
  if (p < end && load<u8>(p) == 0x7d) return p + 1;
  while (true) {
    const afterKey = readString(p, end, 0);
    if (afterKey < 0) return -1;
    const keyStart = p + 1;
    const keyEnd = <usize>afterKey - 1;
    p = skipSpace(afterKey, end);
    if (p >= end || load<u8>(p) != 0x3a) return fail(p);
    p = skipSpace(p + 1, end);
    const index = entryCount++;
    let after: isize;
    if (nest && load<u8>(p) == 0x7b) {
      after = listObject(p, end, index + 1, false);
      lastCount = <u32>(entryCount - index - 1);
    } else {
      after = skipValueAt(p, end, 2);
    }
    if (after < 0) return -1;
    if (index < entryCap) {
      const e = entries + <usize>index * 24;
      store<u32>(e, parent);
      store<u32>(e, <u32>keyStart, 4);
      store<u32>(e, <u32>keyEnd, 8);
      store<u32>(e, <u32>p, 12);
      store<u32>(e, <u32>after, 16);
      store<u32>(e, lastCount, 20);
    }
    p = skipSpace(after, end);
    if (p >= end) return fail(p);
    const c = load<u8>(p);
    if (c == 0x7d) return p + 1;
    if (c != 0x2c) return fail(p);
    p = skipSpace(p + 1, end);
  }
}

/**
 * One pass over the document [start, end), which must be a JSON object: for its keys
 * and the keys of its object values (tokenizer.json's sections and model fields), 6
 * u32 at out: parent (0 at the top, else the parent's index + 1), key start and end
 * (inside the quotes, still escaped), value start and end, and the value's element
 * count if it is an array or object. Writes at most cap entries; returns how many
 * there are, or -1 if the document is not a JSON object (failedAt: where).
 */
export function indexJson(start: usize, end: usize, out: usize, cap: i32): i32 {
  entries = out;
  entryCap = cap;
  entryCount = 0;
  const after = listObject(skipSpace(start, end), end, 0, true);
  if (after < 0) return -1;
  if (skipSpace(after, end) != end) return <i32>fail(after);
  return entryCount;
}

/** failedAt, for the JS side's error messages. */
export function errorAddress(): usize {
  return failedAt;
}

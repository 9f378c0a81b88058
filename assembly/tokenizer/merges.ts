// BPE merge rules, read straight from tokenizer.json's model.merges: a hash table
// from the pair (left id, right id) to the rule's rank (its index in the list; a
// lower rank merges first) and the id of the merged token.
import { fail, readString, skipSpace, stringLength } from "./json";
import { findToken } from "./vocab";

const EMPTY: u64 = u64.MAX_VALUE;

// Slots of 16 bytes: pair key (left << 32 | right), rank, merged id.
let slots: usize = 0;
let slotMask: u32 = 0;

// Where each rule's strings are unescaped, while loading.
let scratch: usize = 0;

@inline
function pairKey(left: i32, right: i32): u64 {
  return (<u64>(<u32>left) << 32) | <u64>(<u32>right);
}

@inline
function slotOf(key: u64): u32 {
  // Fibonacci hashing: the multiply spreads both ids over the high bits.
  return <u32>((key * 0x9e3779b97f4a7c15) >> 40) & slotMask;
}

/** The slot holding the rule for (left, right), or -1 if there is none. */
@inline
export function findMerge(left: i32, right: i32): i32 {
  const key = pairKey(left, right);
  let i = slotOf(key);
  while (true) {
    const s = slots + (<usize>i << 4);
    const k = load<u64>(s);
    if (k == key) return <i32>i;
    if (k == EMPTY) return -1;
    i = (i + 1) & slotMask;
  }
}

@inline
export function mergeRank(slot: i32): i32 {
  return load<i32>(slots + (<usize>slot << 4), 8);
}

@inline
export function mergedId(slot: i32): i32 {
  return load<i32>(slots + (<usize>slot << 4), 12);
}

function addMerge(left: i32, right: i32, merged: i32, rank: i32): void {
  const key = pairKey(left, right);
  let i = slotOf(key);
  while (true) {
    const s = slots + (<usize>i << 4);
    const k = load<u64>(s);
    // A repeated pair keeps its last rank, as a Map built from the list would.
    if (k == EMPTY || k == key) {
      store<u64>(s, key);
      store<i32>(s, rank, 8);
      store<i32>(s, merged, 12);
      return;
    }
    i = (i + 1) & slotMask;
  }
}

/** Looks up left = scratch[0, leftLen) and right right after it, then the two joined. */
function addRule(leftLen: usize, rightLen: usize, rank: i32): bool {
  const left = findToken(scratch, leftLen);
  const right = findToken(scratch + leftLen, rightLen);
  const merged = findToken(scratch, leftLen + rightLen);
  if (left < 0 || right < 0 || merged < 0) return false;
  addMerge(left, right, merged, rank);
  return true;
}

/**
 * Reads model.merges spanning [start, end), count rules (indexJson counted them): a
 * JSON array of "left right" strings (split at the first space, then the second, like
 * Hugging Face's JS tokenizer) or of [left, right] pairs. Returns count, or with
 * failedAt at the rule: -1 not a JSON array, -3 a rule of neither form, -4 a rule
 * naming a token (or a merged token) that is not in the vocabulary.
 */
export function loadMerges(start: usize, end: usize, count: i32): i32 {
  // Called once per instance (one tokenizer per instance).
  // At most 2/3 full, so probes stay short.
  let capacity: u32 = 16;
  while (capacity < <u32>count + (<u32>count >> 1)) capacity <<= 1;
  slots = heap.alloc(<usize>capacity << 4);
  memory.fill(slots, 0xff, <usize>capacity << 4);
  slotMask = capacity - 1;
  // Rules are unescaped here; none is longer than the whole array's text.
  scratch = heap.alloc(end - start);

  let p = skipSpace(start, end);
  if (p >= end || load<u8>(p) != 0x5b) return <i32>fail(p);
  p = skipSpace(p + 1, end);
  for (let rank = 0; rank < count; rank++) {
    const rule = p;
    const kind = load<u8>(p);
    if (kind == 0x22) {
      p = <usize>readString(p, end, scratch);
      const len = stringLength;
      let space: usize = 0;
      while (space < len && load<u8>(scratch + space) != 0x20) space++;
      if (space == len) {
        fail(rule);
        return -3;
      }
      let rightEnd = space + 1;
      while (rightEnd < len && load<u8>(scratch + rightEnd) != 0x20) rightEnd++;
      // Close the gap so left and right sit back to back, as addRule wants (a byte loop:
      // memory.copy is a call out of WASM, slow for a few bytes).
      for (let k = space; k + 1 < rightEnd; k++) store<u8>(scratch + k, load<u8>(scratch + k + 1));
      if (!addRule(space, rightEnd - space - 1, rank)) {
        fail(rule);
        return -4;
      }
    } else if (kind == 0x5b) {
      const afterLeft = readString(skipSpace(p + 1, end), end, scratch);
      if (afterLeft < 0) {
        fail(rule);
        return -3;
      }
      const leftLen = stringLength;
      p = skipSpace(<usize>afterLeft, end);
      const afterRight = p < end && load<u8>(p) == 0x2c ? readString(skipSpace(p + 1, end), end, scratch + leftLen) : -1;
      p = afterRight < 0 ? end : skipSpace(<usize>afterRight, end);
      if (p >= end || load<u8>(p) != 0x5d) {
        fail(rule);
        return -3;
      }
      p++;
      if (!addRule(leftLen, stringLength, rank)) {
        fail(rule);
        return -4;
      }
    } else {
      fail(rule);
      return -3;
    }
    // indexJson already checked the array's syntax: a comma or the closing bracket follows.
    p = skipSpace(skipSpace(p, end) + 1, end);
  }
  heap.free(scratch);
  scratch = 0;
  return count;
}

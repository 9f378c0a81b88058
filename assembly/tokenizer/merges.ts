// BPE merge rules, read straight from tokenizer.json's model.merges: a hash table
// from the pair (left id, right id) to the rule's rank (its index in the list; a
// lower rank merges first) and the id of the merged token.
import { resize } from "./resize";
import { fail, readString, skipSpace, skipValue, stringLength } from "./json";
import { findToken } from "./vocab";

const EMPTY: u64 = u64.MAX_VALUE;

// Slots of 16 bytes: pair key (left << 32 | right), rank, merged id.
let slots: usize = 0;
let slotMask: u32 = 0;

// Where each rule's strings are unescaped; grows to the longest rule.
let scratch: usize = 0;
let scratchCap: usize = 0;

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
 * Reads model.merges spanning [start, end): a JSON array of "left right" strings
 * (split at the first space, then the second, like Hugging Face's JS tokenizer) or of
 * [left, right] pairs. Returns the number of rules, or with failedAt at the rule:
 * -1 not a JSON array, -3 a rule of neither form, -4 a rule naming a token (or a
 * merged token) that is not in the vocabulary.
 */
export function loadMerges(start: usize, end: usize): i32 {
  let p = skipSpace(start, end);
  if (p >= end || load<u8>(p) != 0x5b) return <i32>fail(p);
  const first = skipSpace(p + 1, end);
  // First pass: count rules to size the table (at most ~2/3 full).
  let count = 0;
  p = first;
  if (p < end && load<u8>(p) == 0x5d) {
    p++;
  } else {
    while (true) {
      const after = skipValue(p, end);
      if (after < 0) return -1;
      count++;
      p = skipSpace(after, end);
      if (p >= end) return <i32>fail(p);
      const c = load<u8>(p);
      p++;
      if (c == 0x5d) break;
      if (c != 0x2c) return <i32>fail(p - 1);
      p = skipSpace(p, end);
    }
  }
  if (skipSpace(p, end) != end) return <i32>fail(p);
  let capacity: u32 = 16;
  while (capacity < <u32>count + (<u32>count >> 1)) capacity <<= 1;
  slots = heap.alloc(<usize>capacity << 4);
  memory.fill(slots, 0xff, <usize>capacity << 4);
  slotMask = capacity - 1;

  p = first;
  for (let rank = 0; rank < count; rank++) {
    const after = <usize>skipValue(p, end);
    if (after - p > scratchCap) {
      scratchCap = max(after - p, scratchCap * 2);
      scratch = resize(scratch, scratchCap);
    }
    const kind = load<u8>(p);
    if (kind == 0x22) {
      readString(p, after, scratch);
      const len = stringLength;
      let space: usize = 0;
      while (space < len && load<u8>(scratch + space) != 0x20) space++;
      if (space == len) {
        fail(p);
        return -3;
      }
      let rightEnd = space + 1;
      while (rightEnd < len && load<u8>(scratch + rightEnd) != 0x20) rightEnd++;
      // Close the gap so left and right sit back to back, as addRule wants.
      memory.copy(scratch + space, scratch + space + 1, rightEnd - space - 1);
      if (!addRule(space, rightEnd - space - 1, rank)) {
        fail(p);
        return -4;
      }
    } else if (kind == 0x5b) {
      let q = skipSpace(p + 1, after);
      const afterLeft = readString(q, after, scratch);
      if (afterLeft < 0) {
        fail(p);
        return -3;
      }
      const leftLen = stringLength;
      q = skipSpace(<usize>afterLeft, after);
      if (q >= after || load<u8>(q) != 0x2c) {
        fail(p);
        return -3;
      }
      q = skipSpace(q + 1, after);
      const afterRight = readString(q, after, scratch + leftLen);
      if (afterRight < 0 || skipSpace(<usize>afterRight, after) != after - 1) {
        fail(p);
        return -3;
      }
      if (!addRule(leftLen, stringLength, rank)) {
        fail(p);
        return -4;
      }
    } else {
      fail(p);
      return -3;
    }
    p = skipSpace(skipSpace(after, end) + 1, end);
  }
  return count;
}

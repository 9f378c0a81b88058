// The vocabulary: every token's UTF-8 bytes in one arena, a table from id to
// those bytes, and an open-addressing hash table from bytes to id. Tokens come
// from tokenizer.json's model.vocab (read here straight from the JSON bytes) and
// then its added tokens. An added token may give an id a new string (the old string
// still maps to the id, as in Hugging Face); it may not give a string a new id.
import { fail, intValue, readInt, readString, skipSpace, stringLength } from "./json";
import { resize } from "./resize";

// Arena of token bytes, append-only.
let arena: usize = 0;
let arenaUsed: usize = 0;
let arenaCap: usize = 0;

// By id: where the token's bytes start in the arena and how many (-1: no token has this id).
let idStart: usize = 0; // u32[idCap]
let idLength: usize = 0; // i32[idCap]
let idCap: i32 = 0;
let idCount: i32 = 0; // highest id + 1

// Hash table slots of 16 bytes: key start (in the arena), key length, id + 1 (0 = empty), hash.
// Keys are stored apart from the id table because an added token may give an id a new
// string while the old string keeps mapping to it.
let slots: usize = 0;
let slotMask: u32 = 0;
let slotUsed: i32 = 0;

/** FNV-1a over the bytes: short keys, and good enough spread for linear probing. */
function hashBytes(p: usize, len: usize): u32 {
  let h: u32 = 0x811c9dc5;
  for (let i: usize = 0; i < len; i++) h = (h ^ load<u8>(p + i)) * 0x01000193;
  return h;
}

function nextPow2(n: u32): u32 {
  return n <= 1 ? 1 : 1 << (32 - clz(n - 1));
}

function allocSlots(capacity: u32): void {
  slots = heap.alloc(<usize>capacity << 4);
  memory.fill(slots, 0, <usize>capacity << 4);
  slotMask = capacity - 1;
}

function placeSlot(keyStart: usize, len: usize, id: i32, h: u32): void {
  let i = h & slotMask;
  while (true) {
    const s = slots + (<usize>i << 4);
    const stored = load<i32>(s, 8);
    if (stored == 0) {
      store<u32>(s, <u32>(keyStart - arena));
      store<u32>(s, <u32>len, 4);
      store<i32>(s, id + 1, 8);
      store<u32>(s, h, 12);
      slotUsed++;
      return;
    }
    if (load<u32>(s, 12) == h && load<u32>(s, 4) == <u32>len && memory.compare(arena + load<u32>(s), keyStart, len) == 0) {
      store<i32>(s, id + 1, 8);
      return;
    }
    i = (i + 1) & slotMask;
  }
}

/** Keeps the table at most half full so probes stay short. */
function reserveSlots(more: i32): void {
  if (<u32>(slotUsed + more) * 2 <= slotMask + 1) return;
  const oldSlots = slots;
  const oldCap: u32 = oldSlots ? slotMask + 1 : 0;
  allocSlots(nextPow2(<u32>(slotUsed + more) * 2));
  slotUsed = 0;
  for (let i: u32 = 0; i < oldCap; i++) {
    const s = oldSlots + (<usize>i << 4);
    const id = load<i32>(s, 8);
    if (id != 0) placeSlot(arena + load<u32>(s), load<u32>(s, 4), id - 1, load<u32>(s, 12));
  }
  if (oldSlots) heap.free(oldSlots);
}

function reserveIds(id: i32): void {
  if (id < idCap) return;
  const cap = <i32>nextPow2(<u32>id + 1);
  idStart = resize(idStart, <usize>cap << 2);
  idLength = resize(idLength, <usize>cap << 2);
  memory.fill(idLength + (<usize>idCap << 2), 0xff, <usize>(cap - idCap) << 2);
  idCap = cap;
}

function reserveArena(bytes: usize): void {
  if (arenaUsed + bytes <= arenaCap) return;
  // Keys in the hash table are arena offsets, so moving the arena is harmless.
  arenaCap = max(arenaCap * 2, arenaUsed + bytes);
  arena = resize(arena, arenaCap);
}

/** Records the token whose bytes were just appended at arena + arenaUsed. */
function commitToken(id: i32, len: usize): void {
  const keyStart = arena + arenaUsed;
  reserveIds(id);
  store<u32>(idStart + (<usize>id << 2), <u32>arenaUsed);
  store<i32>(idLength + (<usize>id << 2), <i32>len);
  if (id >= idCount) idCount = id + 1;
  placeSlot(keyStart, len, id, hashBytes(keyStart, len));
  arenaUsed += len;
}

/** The id of the token with these bytes, or -1. */
export function findToken(p: usize, len: usize): i32 {
  if (slotMask == 0) return -1;
  const h = hashBytes(p, len);
  let i = h & slotMask;
  while (true) {
    const s = slots + (<usize>i << 4);
    const id = load<i32>(s, 8);
    if (id == 0) return -1;
    if (load<u32>(s, 12) == h && load<u32>(s, 4) == <u32>len && memory.compare(arena + load<u32>(s), p, len) == 0) {
      return id - 1;
    }
    i = (i + 1) & slotMask;
  }
}

// Ids above this are not a vocabulary; refusing them bounds the id table.
const MAX_ID: i64 = 1 << 24;

/**
 * Reads model.vocab, the JSON object { token: id } spanning [start, end) with count
 * entries (indexJson counted them). Returns count, -1 if it is not such an object
 * (failedAt: where), or -2 if an id is not an integer in [0, 2^24) (failedAt: that value).
 */
export function loadVocab(start: usize, end: usize, count: i32): i32 {
  // Unescaped keys are never longer than their JSON text, so the span bounds the arena.
  reserveArena(end - start);
  reserveSlots(count);
  let p = skipSpace(start, end);
  if (p >= end || load<u8>(p) != 0x7b) return <i32>fail(p);
  p = skipSpace(p + 1, end);
  if (p < end && load<u8>(p) == 0x7d) return 0;
  while (true) {
    const afterKey = readString(p, end, arena + arenaUsed);
    if (afterKey < 0) return -1;
    const len = stringLength;
    p = skipSpace(afterKey, end);
    if (p >= end || load<u8>(p) != 0x3a) return <i32>fail(p);
    p = skipSpace(p + 1, end);
    const afterId = readInt(p, end);
    if (afterId < 0 || intValue < 0 || intValue >= MAX_ID) {
      fail(p);
      return -2;
    }
    commitToken(<i32>intValue, len);
    p = skipSpace(afterId, end);
    if (p >= end) return <i32>fail(p);
    const c = load<u8>(p);
    if (c == 0x7d) return count;
    if (c != 0x2c) return <i32>fail(p);
    p = skipSpace(p + 1, end);
  }
}

/**
 * Adds tokens after the vocabulary (tokenizer.json's added_tokens): count ids (i32),
 * their byte lengths (i32), and their UTF-8 bytes back to back. Returns -1, or the
 * index of the first token whose string already has another id (it and the rest are
 * not added): merges are resolved to ids, so a string must keep the id they saw.
 */
export function addTokens(count: i32, ids: usize, lengths: usize, bytes: usize): i32 {
  reserveSlots(count);
  for (let i = 0; i < count; i++) {
    const len = <usize>load<i32>(lengths + (<usize>i << 2));
    const id = load<i32>(ids + (<usize>i << 2));
    const existing = findToken(bytes, len);
    if (existing >= 0 && existing != id) return i;
    reserveArena(len);
    memory.copy(arena + arenaUsed, bytes, len);
    commitToken(id, len);
    bytes += len;
  }
  return -1;
}

/** Highest token id + 1. */
export function vocabSize(): i32 {
  return idCount;
}

/** Where id's bytes are (valid until the next token is added), or 0 if no token has it. */
export function tokenBytes(id: i32): usize {
  if (id < 0 || id >= idCount || load<i32>(idLength + (<usize>id << 2)) < 0) return 0;
  return arena + load<u32>(idStart + (<usize>id << 2));
}

/** How many bytes id's token has, or -1 if no token has it. */
export function tokenLength(id: i32): i32 {
  if (id < 0 || id >= idCount) return -1;
  return load<i32>(idLength + (<usize>id << 2));
}

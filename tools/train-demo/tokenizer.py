"""Builds the demo model's tokenizer.json, and encodes text with it for training.

Gemma's shape, as scripts/make-tiny-tokenizer.mjs and Hugging Face's PaliGemma have it:
" " -> "▁" normaliser, no pre-tokenizer, BPE with byte fallback, <bos> template, and
Replace/ByteFallback/Fuse decoder. The vocabulary:

    0 <pad>, 1 <eos>, 2 <bos>, 3 <unk>, 4..259 <0x00>..<0xFF>,
    "▁", "\\n", printable ASCII, then one chain of pieces per word of scenes.py's world
    ("▁c", "▁ci", ... "▁circle") so every word is one token,
    <loc0000>..<loc1023>, <seg000>..<seg127>, and <image> last (as in PaliGemma,
    where they follow Gemma's 256000 pieces).

Merges: "▁"-word chains first, then bare-word chains for the words that open a prompt
or an answer (they have no "▁" before them). A "▁" chain's left side always starts
with "▁", and all of them rank before the bare chains, so a known "▁word" always ends
as one piece; the few bare chains share no pair that would split another (main()
checks that every word of 2000 scenes' texts is one token).

`Tokenizer.encode` is a plain Python BPE over this file (no `tokenizers` package on
Debian); check_tokenizer.mjs verifies the SDK's loadTokenizer gives the same ids and
decodes them back for every text scenes.py writes.

    python3 tokenizer.py out/tokenizer.json
"""
from __future__ import annotations

import json
import re
import sys

import scenes

SPACE = "\u2581"
SPECIALS = ["<pad>", "<eos>", "<bos>", "<unk>"]
PAD, EOS, BOS = 0, 1, 2
LOCS = [f"<loc{i:04d}>" for i in range(1024)]
SEGS = [f"<seg{i:03d}>" for i in range(128)]
IMAGE = "<image>"


def words() -> list[str]:
    return scenes.vocabulary() + [";"]


def start_words() -> list[str]:
    """Words that begin a prompt (the task prefix) or an answer (captions start "a"/"two"...)."""
    return ["caption", "detect", "segment", "answer", "a"] + scenes.NUMBERS[2:]


def _chains(ws: list[str], prefix: str) -> list[tuple[str, str]]:
    merges, seen = [], set()
    for w in ws:
        sym = [*(prefix + w)] if prefix else [*w]
        if len(sym) < 2:
            continue
        left = sym[0]
        for ch in sym[1:]:
            if (left, ch) not in seen:
                seen.add((left, ch))
                merges.append((left, ch))
            left += ch
    return merges


def build() -> dict:
    vocab: dict[str, int] = {}

    def put(t: str) -> None:
        if t not in vocab:
            vocab[t] = len(vocab)

    for s in SPECIALS:
        put(s)
    for b in range(256):
        put(f"<0x{b:02X}>")
    put(SPACE)
    put("\n")
    for c in range(0x21, 0x7F):
        put(chr(c))
    merges = _chains(words(), SPACE) + _chains(start_words(), "")
    for a, b in merges:
        put(a + b)
    for t in LOCS + SEGS + [IMAGE]:
        put(t)

    def added(t: str, special: bool) -> dict:
        return dict(id=vocab[t], content=t, single_word=False, lstrip=False, rstrip=False, normalized=False,
                    special=special)

    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        # <loc>/<seg> are not special, as in Hugging Face's PaliGemma: they carry the answers.
        "added_tokens": [added(t, True) for t in SPECIALS] + [added(t, False) for t in LOCS + SEGS]
        + [added(IMAGE, True)],
        "normalizer": {"type": "Replace", "pattern": {"String": " "}, "content": SPACE},
        "pre_tokenizer": None,
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "<bos>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "<bos>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": "<bos>", "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {"<bos>": {"id": "<bos>", "ids": [BOS], "tokens": ["<bos>"]}},
        },
        "decoder": {"type": "Sequence", "decoders": [
            {"type": "Replace", "pattern": {"String": SPACE}, "content": " "},
            {"type": "ByteFallback"},
            {"type": "Fuse"},
        ]},
        "model": {
            "type": "BPE", "dropout": None, "unk_token": "<unk>", "continuing_subword_prefix": None,
            "end_of_word_suffix": None, "fuse_unk": True, "byte_fallback": True, "ignore_merges": False,
            "vocab": vocab, "merges": [f"{a} {b}" for a, b in merges],
        },
    }


class Tokenizer:
    """Encodes text exactly as the SDK's loadTokenizer does with this tokenizer.json (no <bos> added)."""

    def __init__(self, spec: dict):
        self.vocab: dict[str, int] = spec["model"]["vocab"]
        self.ranks = {tuple(m.split(" ")): i for i, m in enumerate(spec["model"]["merges"])}
        added = [t["content"] for t in spec["added_tokens"]]
        self.split = re.compile("(" + "|".join(re.escape(t) for t in sorted(added, key=len, reverse=True)) + ")")
        self.added = set(added)
        self.id_to_token = {i: t for t, i in self.vocab.items()}
        self.image_id = self.vocab[IMAGE]
        self.size = len(self.vocab)

    def _bpe(self, text: str) -> list[int]:
        sym = list(text.replace(" ", SPACE))
        while len(sym) > 1:
            pairs = [(self.ranks.get((a, b), 1 << 30), i) for i, (a, b) in enumerate(zip(sym, sym[1:]))]
            rank, i = min(pairs)
            if rank == 1 << 30:
                break
            sym[i:i + 2] = [sym[i] + sym[i + 1]]
        ids = []
        for s in sym:
            if s in self.vocab:
                ids.append(self.vocab[s])
            else:  # byte fallback
                ids.extend(self.vocab[f"<0x{b:02X}>"] for b in s.encode("utf-8"))
        return ids

    def encode(self, text: str) -> list[int]:
        ids = []
        for part in self.split.split(text):
            if part in self.added:
                ids.append(self.vocab[part])
            elif part:
                ids.extend(self._bpe(part))
        return ids

    def decode(self, ids: list[int]) -> str:
        out, pending = [], b""
        for i in ids:
            t = self.id_to_token[i]
            if re.fullmatch(r"<0x[0-9A-F]{2}>", t):
                pending += bytes([int(t[3:5], 16)])
                continue
            if pending:
                out.append(pending.decode("utf-8", "replace"))
                pending = b""
            out.append(t.replace(SPACE, " "))
        if pending:
            out.append(pending.decode("utf-8", "replace"))
        return "".join(out)


def load(path: str) -> Tokenizer:
    with open(path, encoding="utf-8") as f:
        return Tokenizer(json.load(f))


if __name__ == "__main__":
    out = sys.argv[1] if len(sys.argv) > 1 else "tokenizer.json"
    spec = build()
    with open(out, "w", encoding="utf-8") as f:
        json.dump(spec, f, ensure_ascii=False, indent=1)
        f.write("\n")
    tok = Tokenizer(spec)
    for seed in range(2000):
        for p, a in scenes.examples(scenes.make_scene(seed), codes=lambda o: range(16)):
            for text in (p, a):
                ids = tok.encode(text)
                assert tok.decode(ids) == text, text
                n_words = len(re.sub(r"<(loc|seg)\d+>", "", text).replace(",", "").replace("?", "").split())
                n_pieces = sum(1 for i in ids if tok.id_to_token[i] not in (SPACE, ",", "?") and not
                               re.fullmatch(r"<(loc|seg)\d+>", tok.id_to_token[i]))
                assert n_pieces == n_words, (text, [tok.id_to_token[i] for i in ids])
    print(f"wrote {out}: {tok.size} tokens (<image> = {tok.image_id}, <loc0000> = {spec['model']['vocab'][LOCS[0]]}, "
          f"<seg000> = {spec['model']['vocab'][SEGS[0]]}), {len(spec['model']['merges'])} merges")

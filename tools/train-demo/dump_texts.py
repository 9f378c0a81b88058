"""Writes the prompts and answers of N scenes with tokenizer.py's ids, for check_tokenizer.mjs.

    python3 dump_texts.py tokenizer.json texts.json [N=300]
"""
import json
import sys

import scenes
import tokenizer

tok = tokenizer.load(sys.argv[1])
n = int(sys.argv[3]) if len(sys.argv) > 3 else 300
rows = []
for seed in list(range(n)) + [scenes.SPLIT_OFFSET + i for i in range(n)]:
    for p, a in scenes.examples(scenes.make_scene(seed), codes=lambda o: [(o.box[0] * 7 + k) % 128 for k in range(16)]):
        rows += [{"text": p + "\n", "ids": tok.encode(p + "\n")}, {"text": a, "ids": tok.encode(a)}]
with open(sys.argv[2], "w", encoding="utf-8") as f:
    json.dump(rows, f, ensure_ascii=False)
print(f"wrote {len(rows)} texts")

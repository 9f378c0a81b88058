"""Writes the held-out scenes the SDK's demo-model tests score (tests/fixtures/demo-shapes/).

    python3 fixtures.py ../../tests/fixtures/demo-shapes --count 40
    python3 fixtures.py --demo-image ../../examples/assets/shapes.png

scenes.json lists, per held-out scene (seed scenes.SPLIT_OFFSET + i, never trained on),
its image file (PNG, 112x112 RGB) and each task's prompt with what a perfect model
answers: the caption; detect's boxes [x0, y0, x1, y1] (pixels, x1/y1 exclusive) and
labels in reading order; segment's boxes and visible masks (112x112 bits, row-major,
packed MSB first as numpy.packbits, base64); the count. Prompts are scenes.examples'.
"""
from __future__ import annotations

import argparse
import base64
import json
import os

import numpy as np

import scenes

DEMO_SEED = scenes.SPLIT_OFFSET + 1012  # three shapes, apart, beyond the test fixtures' seeds


def scene_entry(i: int, folder: str) -> dict:
    s = scenes.make_scene(scenes.SPLIT_OFFSET + i)
    name = f"scene-{i:03d}.png"
    scenes.write_png(os.path.join(folder, name), s.image)
    ex = dict(scenes.examples(s, codes=lambda o: [0] * 16))
    (caption,) = [a for p, a in ex.items() if p.startswith("caption")]
    (detect,) = [p for p in ex if p.startswith("detect")]
    (segment,) = [p for p in ex if p.startswith("segment")]
    (count,) = [p for p in ex if p.startswith("answer")]
    wanted = lambda prompt: [o for o in scenes.reading_order(s.objects) if o.cls in prompt.split(" ", 1)[1].split(" ; ")]
    return {
        "seed": s.seed, "image": name,
        "caption": {"prompt": "caption en", "answer": caption},
        "detect": {"prompt": detect, "objects": [{"label": o.cls, "box": list(o.box)} for o in wanted(detect)]},
        "segment": {"prompt": segment, "objects": [
            {"label": o.cls, "box": list(o.box), "mask": base64.b64encode(np.packbits(o.mask)).decode()}
            for o in wanted(segment)]},
        "count": {"prompt": count, "answer": ex[count]},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("folder", nargs="?")
    ap.add_argument("--count", type=int, default=40)
    ap.add_argument("--demo-image", help="write the demo's example scene (a held-out seed) as PNG")
    args = ap.parse_args()
    if args.folder:
        os.makedirs(args.folder, exist_ok=True)
        entries = [scene_entry(i, args.folder) for i in range(args.count)]
        with open(os.path.join(args.folder, "scenes.json"), "w") as f:
            json.dump({"size": scenes.SIZE, "scenes": entries}, f, indent=1)
            f.write("\n")
        print(f"wrote {len(entries)} scenes to {args.folder}")
    if args.demo_image:
        scenes.write_png(args.demo_image, scenes.make_scene(DEMO_SEED).image)
        print(f"wrote {args.demo_image} (seed {DEMO_SEED})")


if __name__ == "__main__":
    main()

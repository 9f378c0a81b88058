"""Renders scenes once into an .npz, so training is not bound by numpy drawing (~25 ms a scene).

    python3 render.py --first 0 --count 30000 --out runs/train.npz
    python3 render.py --first 1000000000 --count 200 --out runs/held.npz   # scenes.SPLIT_OFFSET

Files of consecutive seeds (--first 0 and --first 24000, say) train as one (Data(a, b)),
so more scenes can be rendered side by side, one process a core.

Holds what training needs and nothing it can recompute: images (uint8 [S, 112, 112, 3]),
and per object (back to front within a scene) its scene index, class, colour and size
(indices into scenes.CLASSES / COLOURS / SIZES), visible box, and mask64 packed to bits
(the VQ-VAE encodes it into <seg> codes once the codec is trained). `load` rebuilds
scenes.Scene objects (object masks left out) that scenes.examples accepts.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import scenes

COLOURS, SIZES = list(scenes.COLOURS), list(scenes.SIZES)


def render(first: int, count: int, path: str) -> None:
    images, obj_scene, obj_attr, obj_box, obj_mask = [], [], [], [], []
    t = time.time()
    for i in range(count):
        s = scenes.make_scene(first + i)
        images.append(s.image)
        for o in s.objects:
            obj_scene.append(i)
            obj_attr.append((scenes.CLASSES.index(o.cls), COLOURS.index(o.colour), SIZES.index(o.size)))
            obj_box.append(o.box)
            obj_mask.append(np.packbits(scenes.mask64(o)))
        if (i + 1) % 2000 == 0:
            print(f"{i + 1}/{count} scenes, {(time.time() - t) / (i + 1) * 1000:.0f} ms each", flush=True)
    np.savez(path, first=first, images=np.stack(images), obj_scene=np.array(obj_scene, np.int32),
             obj_attr=np.array(obj_attr, np.int8), obj_box=np.array(obj_box, np.int16), obj_mask=np.stack(obj_mask))


class Data:
    """Rendered files of consecutive seeds, as one: scene(i) -> scenes.Scene without object
    masks; mask64(k) for object k."""

    def __init__(self, *paths: str):
        zs = [np.load(p) for p in paths]
        self.first = int(zs[0]["first"])
        starts = np.cumsum([0] + [len(z["images"]) for z in zs])
        for z, start in zip(zs, starts):
            if int(z["first"]) != self.first + start:
                raise ValueError(f"{paths}: files must hold consecutive seeds, in order")
        self.images = np.concatenate([z["images"] for z in zs])
        self.obj_scene = np.concatenate([z["obj_scene"] + start for z, start in zip(zs, starts)])
        self.obj_attr, self.obj_box, self.obj_mask = (np.concatenate([z[k] for z in zs])
                                                      for k in ("obj_attr", "obj_box", "obj_mask"))
        self.objects_of = np.split(np.arange(len(self.obj_scene)), np.flatnonzero(np.diff(self.obj_scene)) + 1)

    def __len__(self) -> int:
        return len(self.images)

    def scene(self, i: int) -> scenes.Scene:
        objs = []
        for k in self.objects_of[i]:
            c, col, size = self.obj_attr[k]
            obj = scenes.Obj(scenes.CLASSES[c], COLOURS[col], SIZES[size], tuple(int(v) for v in self.obj_box[k]), None)
            obj.index = int(k)  # which mask64 row is this object's
            objs.append(obj)
        return scenes.Scene(self.first + i, self.images[i], objs)

    def mask64(self, k: int) -> np.ndarray:
        return np.unpackbits(self.obj_mask[k])[:64 * 64].reshape(64, 64).astype(bool)

    def masks64(self) -> np.ndarray:
        return np.unpackbits(self.obj_mask, axis=1)[:, :64 * 64].reshape(-1, 64, 64).astype(bool)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--first", type=int, default=0)
    ap.add_argument("--count", type=int, default=30000)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    render(args.first, args.count, args.out)
    print(f"wrote {args.out}")

"""Deterministic synthetic scenes for the demo PaliGemma (issue 6).

One integer seed -> one 112x112 RGB scene of 1-4 shapes on a textured background,
drawn back to front (later shapes occlude earlier ones), plus everything the model is
trained on: a caption, detect / segment / count prompts and their answers in
PaliGemma's token grammar (src/tasks/detect.ts):

    <locY0><locX0><locY1><locX1> label ; ...                       detect
    <locY0><locX0><locY1><locX1><seg..>x16 label ; ...              segment

A box is the visible mask's pixel box, (x0, y0) inclusive, (x1, y1) exclusive. Each
coordinate becomes loc = round(c / 112 * 1024), clipped to 1023; detect.ts reads it
back as round(loc / 1024 * 112), which returns c exactly at this image size
(checked in self_test). The <seg> codes come from the VQ-VAE encoder (vqvae.py) run
on `mask64`: the visible mask cropped to the box and resized to 64x64, which is
what the SDK's mask decoder pastes back into the box.

numpy only. `python3 scenes.py --preview out.png` writes a grid of examples and
prints their texts; `python3 scenes.py --self-test` checks determinism and locs.
"""
from __future__ import annotations

import argparse
import zlib
from dataclasses import dataclass, field

import numpy as np

SIZE = 112  # image side in pixels (the model's vision_config.image_size)
SUPERSAMPLE = 4  # shapes are antialiased by 4x4 supersampling
MAX_OBJECTS = 3

CLASSES = ["circle", "square", "triangle", "star", "cross"]
PLURAL = {c: c + ("es" if c.endswith("s") else "s") for c in CLASSES}
COLOURS = {  # named colour -> RGB; backgrounds are kept grey-ish so these stay unambiguous
    "red": (215, 35, 35),
    "green": (35, 165, 55),
    "blue": (35, 75, 215),
    "yellow": (240, 215, 35),
    "purple": (135, 50, 185),
    "orange": (245, 135, 25),
    "white": (248, 248, 248),
}
SIZES = {"small": (9.0, 12.5), "large": (19.0, 25.0)}  # circumradius ranges in pixels
NUMBERS = ["zero", "one", "two", "three", "four"]
MIN_VISIBLE = 0.6  # an occluded shape keeps at least this fraction of its pixels
SPLIT_OFFSET = 1_000_000_000  # held-out seeds: SPLIT_OFFSET + i; training seeds: 0, 1, 2, ...


@dataclass
class Obj:
    cls: str
    colour: str
    size: str
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 of the visible mask; x1, y1 exclusive
    mask: np.ndarray = field(repr=False)  # bool [SIZE, SIZE], visible pixels only

    @property
    def words(self) -> str:
        return f"{self.size} {self.colour} {self.cls}"


@dataclass
class Scene:
    seed: int
    image: np.ndarray = field(repr=False)  # uint8 [SIZE, SIZE, 3]
    objects: list[Obj]  # back to front, as drawn


# ---------------------------------------------------------------- drawing

def _polygon(cls: str, r: float, rot: float) -> tuple[np.ndarray, np.ndarray] | None:
    """Vertices in polar form (angles ascending over one turn, radii) of a star-shaped polygon."""
    if cls == "square":  # vertices on the diagonals, so the sides are axis-aligned before rotation
        n, radii, rot = 4, [r * 0.85], rot + np.pi / 4
    elif cls == "triangle":
        n, radii = 3, [r]
    elif cls == "star":
        n, radii = 10, [r, r * 0.45]
    elif cls == "cross":  # a plus sign: 12 vertices, arms one third of the width
        a = r * 0.75
        pts = [(a / 3, a), (a / 3, a / 3), (a, a / 3), (a, -a / 3), (a / 3, -a / 3), (a / 3, -a),
               (-a / 3, -a), (-a / 3, -a / 3), (-a, -a / 3), (-a, a / 3), (-a / 3, a / 3), (-a / 3, a)]
        xy = np.array(pts)
        ang = np.arctan2(xy[:, 1], xy[:, 0]) + rot
        rad = np.hypot(xy[:, 0], xy[:, 1])
        order = np.argsort(np.mod(ang, 2 * np.pi))
        return np.mod(ang, 2 * np.pi)[order], rad[order]
    else:
        return None
    ang = np.mod(rot - np.pi / 2 + np.arange(n) * 2 * np.pi / n, 2 * np.pi)
    rad = np.array([radii[i % len(radii)] for i in range(n)])
    order = np.argsort(ang)
    return ang[order], rad[order]


def _coverage(cls: str, cx: float, cy: float, r: float, rot: float) -> np.ndarray:
    """f32 [SIZE, SIZE] fraction of each pixel inside the shape (computed in the shape's window only)."""
    s = SUPERSAMPLE
    x0, y0 = max(0, int(cx - r) - 1), max(0, int(cy - r) - 1)
    x1, y1 = min(SIZE, int(cx + r) + 2), min(SIZE, int(cy + r) + 2)
    dx = (np.arange(x0 * s, x1 * s) + 0.5)[None, :] / s - cx
    dy = (np.arange(y0 * s, y1 * s) + 0.5)[:, None] / s - cy
    dist = np.hypot(dx, dy)
    poly = _polygon(cls, r, rot)
    if poly is None:  # circle
        inside = dist <= r
    else:
        # Boundary radius along each pixel's ray from the centre: between vertices
        # (a0, r0) and (a1, r1), r(phi) = r0 r1 sin(a1-a0) / (r0 sin(phi-a0) + r1 sin(a1-phi)).
        ang, rad = poly
        phi = np.mod(np.arctan2(dy, dx), 2 * np.pi)
        a1_all = np.append(ang, ang[0] + 2 * np.pi)
        r1_all = np.append(rad, rad[0])
        a0_all = np.insert(ang, 0, ang[-1] - 2 * np.pi)
        r0_all = np.insert(rad, 0, rad[-1])
        k = np.searchsorted(ang, phi, side="right")  # phi lies in [a0_all[k], a1_all[k])
        a0, r0, a1, r1 = a0_all[k], r0_all[k], a1_all[k], r1_all[k]
        bound = r0 * r1 * np.sin(a1 - a0) / (r0 * np.sin(phi - a0) + r1 * np.sin(a1 - phi))
        inside = dist <= bound
    cov = np.zeros((SIZE, SIZE), np.float32)
    cov[y0:y1, x0:x1] = inside.reshape(y1 - y0, s, x1 - x0, s).mean(axis=(1, 3))
    return cov


def _background(rng: np.random.Generator) -> np.ndarray:
    """f32 [SIZE, SIZE, 3] in [0, 255]: a muted base colour with noise, stripes, checks or a gradient."""
    base = rng.uniform(70, 170) + rng.uniform(-18, 18, size=3)
    y, x = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    kind = rng.integers(4)
    amp = rng.uniform(10, 30)
    if kind == 0:  # stripes at a random angle
        th, period = rng.uniform(0, np.pi), rng.uniform(6, 20)
        t = np.sin((x * np.cos(th) + y * np.sin(th)) * 2 * np.pi / period)
    elif kind == 1:  # checks
        c = rng.integers(6, 16)
        t = ((x // c + y // c) % 2) * 2 - 1
    elif kind == 2:  # gradient
        th = rng.uniform(0, 2 * np.pi)
        t = ((x - SIZE / 2) * np.cos(th) + (y - SIZE / 2) * np.sin(th)) / (SIZE / 2)
    else:  # blotches: upsampled coarse noise
        coarse = rng.uniform(-1, 1, size=(8, 8))
        t = np.kron(coarse, np.ones((SIZE // 8 + 1, SIZE // 8 + 1)))[:SIZE, :SIZE]
    img = base[None, None, :] + amp * t[..., None] + rng.normal(0, 6, size=(SIZE, SIZE, 3))
    return np.clip(img, 0, 255)


def make_scene(seed: int) -> Scene:
    """The scene of `seed`: same seed, same pixels and texts, on any machine."""
    rng = np.random.default_rng(seed)
    img = _background(rng)
    n = int(rng.integers(1, MAX_OBJECTS + 1))
    for _attempt in range(100):
        specs, covs = [], []
        for _ in range(n):
            size = str(rng.choice(list(SIZES)))
            r = rng.uniform(*SIZES[size])
            specs.append(dict(cls=str(rng.choice(CLASSES)), colour=str(rng.choice(list(COLOURS))), size=size,
                              cx=rng.uniform(r, SIZE - r), cy=rng.uniform(r, SIZE - r), r=r,
                              rot=rng.uniform(-0.35, 0.35)))
            covs.append(_coverage(specs[-1]["cls"], specs[-1]["cx"], specs[-1]["cy"], r, specs[-1]["rot"]))
        full = [c >= 0.5 for c in covs]
        visible = []
        for i in range(n):
            v = full[i].copy()
            for j in range(i + 1, n):
                v &= ~full[j]
            visible.append(v)
        if all(v.sum() >= MIN_VISIBLE * max(f.sum(), 1) and v.sum() >= 30 for v, f in zip(visible, full)):
            break
    else:
        raise RuntimeError(f"seed {seed}: no layout with every shape visible after 100 tries")
    objects = []
    for spec, cov, vis in zip(specs, covs, visible):
        rgb = np.array(COLOURS[spec["colour"]], np.float32) + rng.uniform(-12, 12, size=3)
        shade = rng.normal(0, 4, size=(SIZE, SIZE, 1))
        img = img * (1 - cov[..., None]) + np.clip(rgb + shade, 0, 255) * cov[..., None]
        ys, xs = np.nonzero(vis)
        box = (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)
        objects.append(Obj(spec["cls"], spec["colour"], spec["size"], box, vis))
    return Scene(seed, np.round(img).astype(np.uint8), objects)


# ---------------------------------------------------------------- texts

def loc(c: int) -> int:
    """A pixel coordinate -> PaliGemma's location bin (detect.ts inverts it)."""
    return min(1023, int(round(c / SIZE * 1024)))


def loc_tokens(box: tuple[int, int, int, int]) -> str:
    x0, y0, x1, y1 = box
    return "".join(f"<loc{loc(c):04d}>" for c in (y0, x0, y1, x1))


def reading_order(objs: list[Obj]) -> list[Obj]:
    """Left to right by box centre, then top to bottom: the order every answer lists objects in."""
    return sorted(objs, key=lambda o: (o.box[0] + o.box[2], o.box[1] + o.box[3]))


def caption(scene: Scene) -> str:
    """'a small red circle and two large blue squares': identical shapes grouped, in reading order."""
    groups: dict[str, int] = {}
    for o in reading_order(scene.objects):
        groups[o.words] = groups.get(o.words, 0) + 1
    parts = [f"a {w}" if k == 1 else f"{NUMBERS[k]} {w.rsplit(' ', 1)[0]} {PLURAL[w.rsplit(' ', 1)[1]]}"
             for w, k in groups.items()]
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def mask64(obj: Obj) -> np.ndarray:
    """bool [64, 64]: the visible mask cropped to its box, nearest-neighbour resized (pixel centres)."""
    x0, y0, x1, y1 = obj.box
    crop = obj.mask[y0:y1, x0:x1]
    ys = np.minimum(((np.arange(64) + 0.5) * (y1 - y0) / 64).astype(int), y1 - y0 - 1)
    xs = np.minimum(((np.arange(64) + 0.5) * (x1 - x0) / 64).astype(int), x1 - x0 - 1)
    return crop[ys][:, xs]


def detect_answer(scene: Scene, classes: list[str]) -> str:
    objs = [o for o in reading_order(scene.objects) if o.cls in classes]
    return " ; ".join(f"{loc_tokens(o.box)} {o.cls}" for o in objs)


def segment_answer(scene: Scene, classes: list[str], codes) -> str:
    """codes(obj) -> 16 ints in [0, 128): the VQ-VAE encoder's indices for mask64(obj)."""
    objs = [o for o in reading_order(scene.objects) if o.cls in classes]
    out = []
    for o in objs:
        seg = "".join(f"<seg{int(c):03d}>" for c in codes(o))
        out.append(f"{loc_tokens(o.box)}{seg} {o.cls}")
    return " ; ".join(out)


def examples(scene: Scene, codes=None) -> list[tuple[str, str]]:
    """(prompt, answer) pairs for one scene; the segment pair only when `codes` is given.

    Prompts are the SDK's (src/tasks/prompts.ts): "caption en", "detect a ; b",
    "segment a", "answer en how many circles?". The query classes are drawn from the
    scene's seed, so the set is as deterministic as the image.
    """
    rng = np.random.default_rng([scene.seed, 1])
    present = sorted({o.cls for o in scene.objects}, key=CLASSES.index)
    out = [("caption en", caption(scene))]
    # detect: every class (the demo's question), one present class, or all present ones,
    # sometimes with an absent class mixed in
    u = rng.random()
    absent = [c for c in CLASSES if c not in present]
    if u < 0.15:
        query = list(CLASSES)
    else:
        query = [str(rng.choice(present))] if u < 0.55 else list(present)
        if absent and rng.random() < 0.3:
            query.append(str(rng.choice(absent)))
    out.append(("detect " + " ; ".join(query), detect_answer(scene, query)))
    if codes is not None:
        c = str(rng.choice(present))
        out.append((f"segment {c}", segment_answer(scene, [c], codes)))
    # count: a present class most of the time, else an absent one (answer 0)
    c = str(rng.choice(present)) if rng.random() < 0.8 or not absent else str(rng.choice(absent))
    out.append((f"answer en how many {PLURAL[c]}?", str(sum(o.cls == c for o in scene.objects))))
    return out


def vocabulary() -> list[str]:
    """Every word the prompts and answers use (tokenizer.py gives each its own piece)."""
    words = {"caption", "en", "detect", "segment", "answer", "how", "many", "a", "and"}
    words |= set(CLASSES) | set(PLURAL.values()) | set(COLOURS) | set(SIZES) | set(NUMBERS[2:])
    words |= {str(i) for i in range(MAX_OBJECTS + 1)}
    return sorted(words)


# ---------------------------------------------------------------- CLI

def preview(path: str, seeds: list[int]) -> None:
    """A grid of scenes, each with its visible boxes outlined in black, written as PNG (zlib only)."""
    cols = 4
    rows = (len(seeds) + cols - 1) // cols
    pad = 4
    grid = np.full((rows * (2 * SIZE + pad), cols * (SIZE + pad), 3), 255, np.uint8)
    for i, seed in enumerate(seeds):
        s = make_scene(seed)
        img = s.image.copy()
        masks = np.zeros((SIZE, SIZE, 3), np.uint8)
        for k, o in enumerate(s.objects):
            x0, y0, x1, y1 = o.box
            img[y0, x0:x1] = img[y1 - 1, x0:x1] = img[y0:y1, x0] = img[y0:y1, x1 - 1] = 0
            masks[o.mask] = np.array(COLOURS[o.colour]) // 2 + 40 * k
        r, c = divmod(i, cols)
        top, left = r * (2 * SIZE + pad), c * (SIZE + pad)
        grid[top:top + SIZE, left:left + SIZE] = img
        grid[top + SIZE:top + 2 * SIZE, left:left + SIZE] = masks
        print(f"seed {seed}:")
        for p, a in examples(s, codes=lambda o: [0] * 16):
            print(f"  {p!r} -> {a!r}")
    write_png(path, grid)


def write_png(path: str, rgb: np.ndarray) -> None:
    h, w, _ = rgb.shape
    raw = b"".join(b"\x00" + rgb[y].tobytes() for y in range(h))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + tag + data + zlib.crc32(tag + data).to_bytes(4, "big")

    ihdr = w.to_bytes(4, "big") + h.to_bytes(4, "big") + bytes([8, 2, 0, 0, 0])
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def self_test(n: int = 200) -> None:
    for c in range(SIZE + 1):  # detect.ts: round-half-even(loc / 1024 * SIZE), clipped to SIZE
        assert min(SIZE, int(round(loc(c) / 1024 * SIZE))) == c, c
    for seed in range(n):
        a, b = make_scene(seed), make_scene(seed)
        assert np.array_equal(a.image, b.image) and examples(a) == examples(b), seed
        for o in a.objects:
            assert o.mask.any() and mask64(o).shape == (64, 64)
    print(f"self-test ok: locs round-trip at {SIZE}px, {n} scenes deterministic")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--preview", metavar="PNG", help="write a grid of 16 example scenes (boxes + masks)")
    ap.add_argument("--seed", type=int, default=0, help="first seed of the preview")
    ap.add_argument("--self-test", action="store_true")
    args = ap.parse_args()
    if args.self_test:
        self_test()
    if args.preview:
        preview(args.preview, list(range(args.seed, args.seed + 16)))

"""Trains the demo PaliGemma on rendered scenes with PaliGemma's prefix-LM loss.

    python3 train.py --data runs/train.npz --tokenizer runs/tokenizer.json --out runs/stage1.pt --steps 3000
    python3 train.py ... --init runs/stage1.pt --out runs/vision.pt --vision-only --batch 64   # the tower alone
    python3 train.py ... --vae runs/vae-full.npz --init runs/vision.pt --out runs/final.pt --freeze-vision
    (README.md has the commands as they were run)

A row is `<image>`x N, `<bos>`, prompt + "\\n" (the prefix, full attention), answer,
`<eos>` (the suffix, causal); the loss is on the suffix only. A step takes `--batch`
scenes, encodes each image once and trains every task of those scenes (caption,
detect, count, and segment when a codec is given), one padded batch per task so short
answers are not padded to long ones; the step's loss is the sum of the tasks' means.

Four things make the model learn in a CPU budget without changing what is exported:
`<loc>` embedding rows (tied to the output layer) start as sinusoids of the bin number,
so near bins start with near logits; a loc target is half the exact bin, half a
Gaussian over neighbouring bins (a pixel is ~9 bins at 112 px); a training-only
probe on the vision tower's output (PatchProbe, not exported) is taught what lies under
4x4 points of every patch: the object's class, colour, size, box, place in reading order
and how many of its class the scene has (what every answer needs); and the first head of
decoder layer ATTEND_LAYER is taught, where a detect, segment or count answer starts, to
look at the patches of the classes the prompt names. Without the probe
the decoder learns the answers' language prior within a few hundred steps and then
waits a long time before it starts reading the image. The probe alone trains the tower
~20x faster a scene than the whole model does (--vision-only), and the decoder then
learns best on a frozen tower (--freeze-vision): trained jointly, its gradients blurred
the tower (probe_report: class under object points 0.88 -> 0.76 in 1000 steps). Without
the attention aid the decoder listed objects in reading order under whatever class was
asked and answered every count with "1": it had not learned to find a class.
"""
from __future__ import annotations

import argparse
import gc
import math
import os
import time
from dataclasses import asdict

import numpy as np
import torch
import torch.nn.functional as F

import evaluate
import render
import scenes
import tokenizer as tok
from model import Config, PaliGemma

LOC_SIGMA = 6.0  # bins
LOC_SOFT = 0.5  # share of a loc target spread over neighbouring bins
ATTEND_LAYER = 1  # decoder layer whose first head the attention aid teaches where to look
VALIDATION = range(40, 120)  # held-out scenes watched during training; tests/demo-model scores 0..39 (fixtures.py)


class PatchProbe(torch.nn.Module):
    """Linear heads on SigLIP's output: for SUB x SUB points per patch, what object_labels
    says of the object under the point (0 = background) and that object's box / image size."""

    SUB = 4
    KINDS = (len(scenes.CLASSES) + 1, len(scenes.COLOURS) + 1, len(scenes.SIZES) + 1,
             scenes.MAX_OBJECTS + 1, scenes.MAX_OBJECTS + 1)

    def __init__(self, c: Config):
        super().__init__()
        self.labels = torch.nn.Linear(c.v_hidden, self.SUB ** 2 * sum(self.KINDS))
        self.box = torch.nn.Linear(c.v_hidden, self.SUB ** 2 * 4)

    def loss(self, v, labels, boxes):
        """v [B, N, H]; labels [B, N, SUB², len(KINDS)] (0 background); boxes [B, N, SUB², 4]."""
        B, N, _ = v.shape
        logits = self.labels(v).view(B, N, self.SUB ** 2, -1).split(self.KINDS, -1)
        ce = sum(F.cross_entropy(l.reshape(-1, l.shape[-1]), labels[..., k].reshape(-1)) for k, l in enumerate(logits))
        inside = labels[..., 0] > 0
        l1 = (self.box(v).view(B, N, self.SUB ** 2, 4) - boxes).abs()[inside].mean() if inside.any() else 0.0
        return ce + 5 * l1


def point_objects(data: render.Data, cfg: Config) -> np.ndarray:
    """int32 [scenes, patches, SUB²]: the object (row of data.obj_*) under each probe point, or -1."""
    side = cfg.image_size // cfg.patch_size * PatchProbe.SUB
    centre = (np.arange(side) + 0.5) * cfg.image_size / side
    out = np.full((len(data), side, side), -1, np.int32)
    for i in range(len(data)):
        for k in data.objects_of[i]:
            x0, y0, x1, y1 = (int(v) for v in data.obj_box[k])
            mx = ((centre - x0) / (x1 - x0) * 64).astype(int)
            my = ((centre - y0) / (y1 - y0) * 64).astype(int)
            ok_x, ok_y = (mx >= 0) & (mx < 64), (my >= 0) & (my < 64)
            m = data.mask64(k)[np.clip(my, 0, 63)][:, np.clip(mx, 0, 63)] & ok_y[:, None] & ok_x[None, :]
            out[i][m] = k
    P, S = side // PatchProbe.SUB, PatchProbe.SUB
    return out.reshape(len(data), P, S, P, S).transpose(0, 1, 3, 2, 4).reshape(len(data), P * P, S * S)


def object_labels(data: render.Data) -> np.ndarray:
    """int64 [objects, 5], each >= 1: class, colour and size (+1), place in reading order (+1),
    and how many objects of its class the scene has. Every answer lists objects in reading
    order and counting asks for a class's total, so the decoder can read both off the patches."""
    out = np.zeros((len(data.obj_attr), 5), np.int64)
    out[:, :3] = data.obj_attr + 1
    for i in range(len(data)):
        s = data.scene(i)
        for rank, o in enumerate(scenes.reading_order(s.objects)):
            out[o.index, 3] = rank + 1
            out[o.index, 4] = sum(p.cls == o.cls for p in s.objects)
    return out


def probe_targets(data: render.Data, table: np.ndarray, objs: np.ndarray, size: int):
    """labels [..., 5] long (object_labels rows, 0 off objects) and boxes [..., 4] float for
    point_objects rows `objs`."""
    inside = objs >= 0
    k = np.where(inside, objs, 0)
    labels = np.where(inside[..., None], table[k], 0)
    boxes = data.obj_box[k].astype(np.float32) / size
    return torch.from_numpy(labels), torch.from_numpy(boxes)


def probe_report(model: PaliGemma, probe: PatchProbe, data: render.Data) -> str:
    """How well the probe reads the vision tower's output on points inside objects of
    held-out scenes: the first thing to check when answers are poor (the decoder can only
    use what the vision tower encodes)."""
    cfg = model.c
    v = model.vision_tower.vision_model(evaluate.pixels(data.images))
    labels, boxes = probe_targets(data, object_labels(data), point_objects(data, cfg), cfg.image_size)
    inside = labels[..., 0] > 0
    B, N, _ = v.shape
    logits = probe.labels(v).view(B, N, probe.SUB ** 2, -1).split(probe.KINDS, -1)
    acc = [float((l.argmax(-1) == labels[..., k])[inside].float().mean()) for k, l in enumerate(logits)]
    px = float((probe.box(v).view(B, N, probe.SUB ** 2, 4) - boxes).abs()[inside].mean()) * cfg.image_size
    names = ("class", "colour", "size", "rank", "count")
    return "probe on held-out objects: " + " ".join(f"{n} {a:.2f}" for n, a in zip(names, acc)) + f", box L1 {px:.1f} px"


class Tasks:
    """Token ids of every (prompt, answer) of a rendered file, grouped by task."""

    def __init__(self, data: render.Data, t: tok.Tokenizer, codes: np.ndarray | None):
        self.names = ["caption", "detect", "count"] + (["segment"] if codes is not None else [])
        memo: dict[str, list[int]] = {}

        def enc(s: str) -> list[int]:
            if s not in memo:
                memo[s] = t.encode(s)
            return memo[s]

        code_of = (lambda o: codes[o.index]) if codes is not None else None
        self.rows: dict[str, list[tuple[list[int], list[int]]]] = {n: [] for n in self.names}
        self.query: dict[str, list[int]] = {n: [] for n in self.names}
        for i in range(len(data)):
            for prompt, answer in scenes.examples(data.scene(i), code_of):
                self.rows[task_of(prompt)].append(([tok.BOS] + enc(prompt + "\n"), enc(answer) + [tok.EOS]))
                self.query[task_of(prompt)].append(query_of(prompt))


def query_of(prompt: str) -> int:
    """Bitmask of the classes (scenes.CLASSES order) a detect, segment or count prompt asks about; 0 for a caption."""
    words = prompt.rstrip("?").split(" ")
    if words[0] in ("detect", "segment"):
        names = " ".join(words[1:]).split(" ; ")
    else:
        names = [c for c in scenes.CLASSES if scenes.PLURAL[c] == words[-1]]
    return sum(1 << scenes.CLASSES.index(n) for n in names)


def patch_classes(data: render.Data, points: np.ndarray) -> np.ndarray:
    """int [scenes, patches]: bitmask of the classes of the objects under any probe point of each patch."""
    bits = np.where(points >= 0, 1 << data.obj_attr[np.maximum(points, 0), 0].astype(np.int64), 0)
    return np.bitwise_or.reduce(bits, axis=-1)


def attention_loss(model: PaliGemma, prefix, target):
    """-log of the attention that head 0 of layer ATTEND_LAYER gives, from the last prefix token
    (where the answer starts), to the patches of the queried classes (target [B, N] bool); rows
    whose classes are absent have nothing to find and are skipped."""
    rows = target.any(1)
    if not rows.any():
        return torch.zeros(())
    probs = model.language_model.model.layers[ATTEND_LAYER].self_attn.probs
    p = probs[torch.arange(len(prefix)), 0, prefix - 1, :target.shape[1]]
    return -torch.log((p * target).sum(1)[rows] + 1e-6).mean()


def task_of(prompt: str) -> str:
    return {"caption": "caption", "detect": "detect", "segment": "segment", "answer": "count"}[prompt.split(" ")[0]]


def batch(rows, n_image: int, image_token: int):
    """ids [B, T], prefix_len [B], targets [B, T] (-1 where no loss: prefix and padding)."""
    T = n_image + max(len(p) + len(a) for p, a in rows)
    ids = torch.zeros(len(rows), T, dtype=torch.long)
    targets = torch.full((len(rows), T), -1, dtype=torch.long)
    prefix = torch.zeros(len(rows), dtype=torch.long)
    for b, (p, a) in enumerate(rows):
        seq = [image_token] * n_image + p + a
        ids[b, :len(seq)] = torch.tensor(seq)
        P = n_image + len(p)
        prefix[b] = P
        targets[b, P - 1:len(seq) - 1] = torch.tensor(a)  # position i predicts token i + 1
    return ids, prefix, targets


def loss_fn(model: PaliGemma, h, targets, loc0: int):
    """Cross-entropy on the suffix (logits computed there only); a loc target is
    (1 - LOC_SOFT) exact + LOC_SOFT Gaussian."""
    keep = targets >= 0
    logp = F.log_softmax(model.logits(h[keep]), -1)
    t = targets[keep]
    nll = -logp.gather(1, t[:, None])[:, 0]
    is_loc = (t >= loc0) & (t < loc0 + 1024)
    if is_loc.any():
        bins = torch.arange(1024, dtype=torch.float32)
        w = torch.exp(-0.5 * ((bins[None] - (t[is_loc] - loc0)[:, None].float()) / LOC_SIGMA) ** 2)
        w = w / w.sum(1, keepdim=True)
        soft = -(w * logp[is_loc, loc0:loc0 + 1024]).sum(1)
        nll = nll.clone()
        nll[is_loc] = (1 - LOC_SOFT) * nll[is_loc] + LOC_SOFT * soft
    return nll.mean()


def init_embeddings(model: PaliGemma, loc0: int) -> None:
    """N(0, 0.02) as Gemma (the rows are also the output layer: unit-variance rows would start
    with logits of std sqrt(D)); rows of <loc0000>..<loc1023>: sin/cos of the bin at geometric
    frequencies, at the same norm."""
    emb = model.language_model.model.embed_tokens.weight
    D = emb.shape[1]
    torch.nn.init.normal_(emb, std=0.02)
    freqs = 2 * math.pi / torch.logspace(math.log10(16), math.log10(4096), D // 2)
    ang = torch.arange(1024, dtype=torch.float32)[:, None] * freqs[None]
    rows = torch.cat([ang.sin(), ang.cos()], 1)
    with torch.no_grad():
        emb[loc0:loc0 + 1024] = rows * (emb.norm(dim=1).mean() / rows.norm(dim=1).mean())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True, nargs="+", help="rendered files of consecutive seeds")
    ap.add_argument("--held", help="rendered held-out scenes, evaluated every --eval-every steps")
    ap.add_argument("--tokenizer", required=True)
    ap.add_argument("--vae", help="full codec npz (with encoder): adds the segment task")
    ap.add_argument("--vision-only", action="store_true",
                    help="train the vision tower and probe alone (no decoder tasks): ~20x cheaper a scene")
    ap.add_argument("--freeze-vision", action="store_true",
                    help="train projector and decoder on a fixed vision tower (no probe): after --vision-only, "
                         "so the decoder's early, noisy gradients cannot blur what the tower learned")
    ap.add_argument("--init", help="start from this checkpoint (.pt), or from an exported folder (probe starts afresh)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--minutes", type=float,
                    help="instead of --steps: train this long, the learning rate's cosine following the clock, "
                         "so the run ends annealed however fast the machine is")
    ap.add_argument("--batch", type=int, default=8, help="scenes per step (every task of each)")
    ap.add_argument("--probe-batch", type=int, default=0,
                    help="scenes per step for the probe, the first --batch of them also for the tasks (default --batch): "
                         "the vision tower learns from more scenes at little cost")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--eval-every", type=int, default=500)
    ap.add_argument("--log", type=int, default=50)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    t0 = time.time()
    tk = tok.load(args.tokenizer)
    loc0 = tk.vocab["<loc0000>"]
    data = render.Data(*args.data)
    codes = None
    if args.vae:
        import vqvae
        codec = vqvae.load_npz(args.vae)
        with torch.no_grad():
            codes = torch.cat([codec.encode(m) for m in np.array_split(data.masks64(), 64)]).numpy()
    tasks = Tasks(data, tk, codes) if not args.vision_only else None
    print(f"{len(data)} scenes, tasks {tasks.names if tasks else 'probe'}, prepared in {time.time() - t0:.0f}s", flush=True)

    ckpt = {}
    if args.init and os.path.isdir(args.init):  # an exported folder, e.g. ../../models/demo-shapes
        from check_model import load_exported
        model = load_exported(args.init).train()
        cfg = model.c
    elif args.init:
        ckpt = torch.load(args.init)
        cfg = Config(**ckpt["config"])
        model = PaliGemma(cfg)
        model.load_state_dict(ckpt["model"])
    else:
        cfg = Config(vocab=tk.size, image_token=tk.image_id)
        model = PaliGemma(cfg)
        init_embeddings(model, loc0)
    print(f"{sum(p.numel() for p in model.parameters()) / 1e6:.2f} M parameters", flush=True)
    probe = PatchProbe(cfg)
    if "probe" in ckpt:  # heads whose shape changed start afresh
        own = probe.state_dict()
        probe.load_state_dict({k: v for k, v in ckpt["probe"].items() if v.shape == own[k].shape}, strict=False)
    points, table = point_objects(data, cfg), object_labels(data)
    classes_at = patch_classes(data, points)
    if args.vision_only:
        params = list(model.vision_tower.named_parameters()) + list(probe.named_parameters())
    elif args.freeze_vision:
        params = [(n, p) for n, p in model.named_parameters() if not n.startswith("vision_tower.")]
    else:
        params = list(model.named_parameters()) + list(probe.named_parameters())
    decay = [p for n, p in params if p.dim() >= 2]
    other = [p for n, p in params if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": other, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.98))
    held = render.Data(args.held) if args.held else None

    def save():
        torch.save({"config": asdict(cfg), "model": model.state_dict(), "probe": probe.state_dict()}, args.out)

    g = np.random.default_rng(0)
    gc.freeze()  # millions of prepared token lists: the collector need not walk them every few steps
    t = time.time()
    logged = (tasks.names + ["attend"] if tasks else []) + ([] if args.freeze_vision else ["probe"])
    sums = {n: 0.0 for n in logged}
    step, last = 0, False
    while not last:
        step += 1
        done = (time.time() - t) / (60 * args.minutes) if args.minutes else step / args.steps
        last = done >= 1
        lr = args.lr * min(1.0, step / args.warmup) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(done, 1.0))))
        for group in opt.param_groups:
            group["lr"] = lr
        scene_ids = g.integers(len(data), size=max(args.batch, args.probe_batch))
        if args.freeze_vision:
            with torch.no_grad():
                vision = model.vision_tower.vision_model(evaluate.pixels(data.images[scene_ids]))
            loss = torch.zeros(())
        else:
            vision = model.vision_tower.vision_model(evaluate.pixels(data.images[scene_ids]))
            loss = probe.loss(vision, *probe_targets(data, table, points[scene_ids], cfg.image_size))
            sums["probe"] += loss.item()
        features = model.multi_modal_projector.linear(vision[:args.batch]) if tasks else None
        for name in tasks.names if tasks else []:
            rows = [tasks.rows[name][i] for i in scene_ids[:args.batch]]  # one example per task per scene
            ids, prefix, targets = batch(rows, cfg.num_patches, cfg.image_token)
            task_loss = loss_fn(model, model(features, ids, prefix), targets, loc0)
            sums[name] += task_loss.item()
            loss = loss + task_loss
            if name != "caption":
                query = np.array([tasks.query[name][i] for i in scene_ids[:args.batch]])
                attend = attention_loss(model, prefix, torch.from_numpy(classes_at[scene_ids[:args.batch]] & query[:, None] != 0))
                sums["attend"] += attend.item()
                loss = loss + attend
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_([p for _, p in params], 1.0)
        opt.step()
        if step % args.log == 0:
            print(f"step {step}: " + " ".join(f"{n} {v / args.log:.3f}" for n, v in sums.items()) +
                  f", lr {lr:.2e}, {(time.time() - t) / step:.2f} s/step", flush=True)
            sums = {n: 0.0 for n in sums}
        if step % 250 == 0 or last:
            save()
        if held is not None and (step % args.eval_every == 0 or last):
            model.eval()
            with torch.no_grad():
                print(probe_report(model, probe, held), flush=True)
                if tasks:
                    print(evaluate.report(model, held, tk, VALIDATION, codec if args.vae else None), flush=True)
            model.train()
    print(f"wrote {args.out} after {step} steps, {(time.time() - t) / 60:.1f} min")


if __name__ == "__main__":
    main()

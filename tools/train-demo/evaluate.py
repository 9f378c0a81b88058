"""Greedy decoding in torch and the four scores of issue 6, to watch training.

The SDK's own scores (tests/demo-model) are the ones that count; these are computed the
same way on a few held-out scenes so a run can be judged before export: caption
exact match, detection mean IoU (a predicted box counts only with the right label, in
reading order), counting accuracy, and segmentation mask IoU in the box's 64x64 frame
(predicted codes decoded by the codec vs the true mask64, box errors not included).
"""
from __future__ import annotations

import re

import numpy as np
import torch

import render
import scenes
import tokenizer as tok
from model import PaliGemma

LOC = re.compile(r"<loc(\d{4})><loc(\d{4})><loc(\d{4})><loc(\d{4})>((?:<seg\d{3}>)*) ?([a-z]+)?")


def pixels(images: np.ndarray) -> torch.Tensor:
    """uint8 [B, S, S, 3] -> f32 [B, 3, S, S], (x / 255 - 0.5) / 0.5 as the SDK's processor."""
    return (torch.from_numpy(images).float().permute(0, 3, 1, 2) / 255 - 0.5) / 0.5


def generate(model: PaliGemma, features, prefix: list[int], max_new: int = 80) -> list[int]:
    """Greedy, recomputing the whole row each step (fine at these sizes)."""
    c = model.c
    ids = [c.image_token] * c.num_patches + prefix
    P = len(ids)
    out = []
    for _ in range(max_new):
        h = model(features, torch.tensor([ids + out]), torch.tensor([P]))
        nxt = int(model.logits(h[0, -1]).argmax())
        if nxt == tok.EOS:
            break
        out.append(nxt)
    return out


def boxes(text: str) -> list[tuple[list[float], str, list[int]]]:
    """[(x0, y0, x1, y1) in pixels, label, seg codes] as detect.ts reads them."""
    out = []
    for m in LOC.finditer(text):
        y0, x0, y1, x1 = (round(int(v) / 1024 * scenes.SIZE) for v in m.groups()[:4])
        out.append(([x0, y0, x1, y1], m.group(6) or "", [int(s) for s in re.findall(r"<seg(\d{3})>", m.group(5))]))
    return out


def box_iou(a, b) -> float:
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def report(model: PaliGemma, data: render.Data, t: tok.Tokenizer, indices, codec=None) -> str:
    caption_ok, count_ok, det_ious, seg_ious, n = 0, 0, [], [], 0
    for i in indices:
        s = data.scene(i)
        features = model.image_features(pixels(data.images[i:i + 1]))
        code_of = (lambda o: codec.encode(data.mask64(o.index)[None])[0].tolist()) if codec is not None else None
        for prompt, answer in scenes.examples(s, code_of):
            got = t.decode(generate(model, features, [tok.BOS] + t.encode(prompt + "\n")))
            kind = prompt.split(" ")[0]
            if kind == "caption":
                caption_ok += got == answer
            elif kind == "answer":
                count_ok += got == answer
            elif kind == "detect":
                want, have = boxes(answer), boxes(got)
                for k, (b, label, _) in enumerate(want):
                    ok = k < len(have) and have[k][1] == label
                    det_ious.append(box_iou(b, have[k][0]) if ok else 0.0)
                det_ious.extend([0.0] * max(0, len(have) - len(want)))
            elif kind == "segment" and codec is not None:
                objs = [o for o in scenes.reading_order(s.objects) if o.cls == prompt.split(" ")[1]]
                have = boxes(got)
                for k, o in enumerate(objs):
                    if k < len(have) and len(have[k][2]) == 16:
                        m = codec.decode(torch.tensor([have[k][2]]))[0].numpy() > 0
                        seg_ious.append(float((m & data.mask64(o.index)).sum() / max((m | data.mask64(o.index)).sum(), 1)))
                    else:
                        seg_ious.append(0.0)
        n += 1
    seg = f", segment mask64 IoU {np.mean(seg_ious):.3f}" if seg_ious else ""
    return (f"held-out ({n} scenes): caption exact {caption_ok / n:.2f}, detect mIoU {np.mean(det_ious):.3f}, "
            f"count {count_ok / n:.2f}{seg}")

"""The demo model's mask codec: a small VQ-VAE whose decoder is PaliGemma's vae-oid decoder.

The decoder has vae-oid's module names and shapes exactly (src/model/mask-decoder.ts
reads them): `_vq_vae._embedding` [128, 512]; decoder.0 1x1 conv 512->128 + ReLU;
decoder.2 and decoder.3 residual blocks h + net(h), net = 3x3 conv, ReLU, 3x3 conv,
ReLU, 1x1 conv; decoder.4/6/8/10 ConvTranspose2d(k4 s2 p1) 128->128->64->32->16, each
+ ReLU; decoder.12 1x1 conv 16->1. So the SDK's loadMaskDecoder reads save_npz's file
as it reads vae-oid.npz. The encoder is ours (vae-oid's encoder is not read by the
SDK): 64x64 mask -> 4x4x512 grid, each cell quantised to its nearest codebook row;
those 16 indices, row-major, are the <seg> tokens of scenes.segment_answer.

Masks are trained as targets in {-1, +1} (the SDK treats decoder output > 0 as inside).

    python3 vqvae.py --scenes 1000 --steps 300 --out vae-demo.npz
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

import scenes

CODES, DIM, GRID = 128, 512, 4


class ResBlock(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(c, c, 3, padding=1), nn.ReLU(), nn.Conv2d(c, c, 3, padding=1), nn.ReLU(),
                                 nn.Conv2d(c, c, 1))

    def forward(self, x):
        return x + self.net(x)


class Quantizer(nn.Module):
    def __init__(self):
        super().__init__()
        self._embedding = nn.Parameter(torch.randn(CODES, DIM) * 0.1)  # vae-oid's name: no ".weight"

    def indices(self, z):  # z [N, DIM, 4, 4] -> [N, 16] row-major
        flat = z.permute(0, 2, 3, 1).reshape(-1, DIM)
        d = (flat * flat).sum(1, keepdim=True) - 2 * flat @ self._embedding.t() + (self._embedding ** 2).sum(1)[None]
        return d.argmin(1).view(z.shape[0], GRID * GRID)

    def lookup(self, idx):  # [N, 16] -> [N, DIM, 4, 4]
        return self._embedding[idx].view(-1, GRID, GRID, DIM).permute(0, 3, 1, 2)


class VQVAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(  # 64 -> 32 -> 16 -> 8 -> 4
            nn.Conv2d(1, 32, 4, 2, 1), nn.ReLU(), nn.Conv2d(32, 64, 4, 2, 1), nn.ReLU(),
            nn.Conv2d(64, 128, 4, 2, 1), nn.ReLU(), nn.Conv2d(128, 128, 4, 2, 1), nn.ReLU(),
            ResBlock(128), nn.Conv2d(128, DIM, 1))
        self._vq_vae = Quantizer()
        self.decoder = nn.Sequential(
            nn.Conv2d(DIM, 128, 1), nn.ReLU(),  # 0, 1
            ResBlock(128), ResBlock(128),  # 2, 3
            nn.ConvTranspose2d(128, 128, 4, 2, 1), nn.ReLU(),  # 4, 5
            nn.ConvTranspose2d(128, 64, 4, 2, 1), nn.ReLU(),  # 6, 7
            nn.ConvTranspose2d(64, 32, 4, 2, 1), nn.ReLU(),  # 8, 9
            nn.ConvTranspose2d(32, 16, 4, 2, 1), nn.ReLU(),  # 10, 11
            nn.Conv2d(16, 1, 1))  # 12

    def encode(self, masks):  # bool/float [N, 64, 64] -> codes [N, 16]
        x = torch.as_tensor(masks, dtype=torch.float32)[:, None] * 2 - 1
        return self._vq_vae.indices(self.encoder(x))

    def decode(self, codes):  # [N, 16] -> [N, 64, 64], > 0 inside
        return self.decoder(self._vq_vae.lookup(codes))[:, 0]

    def loss(self, masks, beta=0.25):
        x = masks[:, None] * 2 - 1
        z = self.encoder(x)
        q = self._vq_vae.lookup(self._vq_vae.indices(z))
        zq = z + (q - z).detach()  # straight-through
        rec = F.mse_loss(self.decoder(zq), x)
        vq = F.mse_loss(q, z.detach()) + beta * F.mse_loss(z, q.detach())
        return rec + vq, rec


def save_npz(model: VQVAE, path: str) -> None:
    """Every parameter under its state_dict name (vae-oid's), float32, as np.savez writes vae-oid.npz."""
    np.savez(path, **{k: v.detach().cpu().numpy().astype(np.float32) for k, v in model.state_dict().items()})


def masks_from_scenes(n: int, first_seed: int = 0) -> np.ndarray:
    """bool [M, 64, 64]: mask64 of every object of scenes first_seed .. first_seed + n - 1."""
    return np.stack([scenes.mask64(o) for s in range(first_seed, first_seed + n) for o in scenes.make_scene(s).objects])


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scenes", type=int, default=1000)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--out", default="vae-demo.npz")
    args = ap.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(os.cpu_count() or 1)

    t = time.time()
    train = masks_from_scenes(args.scenes)
    held = masks_from_scenes(100, scenes.SPLIT_OFFSET)
    print(f"{len(train)} training masks from {args.scenes} scenes, {len(held)} held-out, in {time.time() - t:.1f}s")
    # Rotations by 90 degrees and flips are masks of the same world: x8 data for free.
    train_t = torch.as_tensor(train, dtype=torch.float32)

    model = VQVAE()
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    g = torch.Generator().manual_seed(0)
    t = time.time()
    for step in range(1, args.steps + 1):
        idx = torch.randint(len(train_t), (args.batch,), generator=g)
        x = torch.rot90(train_t[idx], int(torch.randint(4, (1,), generator=g)), (1, 2))
        if torch.rand(1, generator=g) < 0.5:
            x = x.flip(2)
        loss, rec = model.loss(x)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 50 == 0 or step == args.steps:
            with torch.no_grad():  # restart codes no batch used, at random encoder outputs
                z = model.encoder(x[:, None] * 2 - 1).permute(0, 2, 3, 1).reshape(-1, DIM)
                used = torch.zeros(CODES, dtype=torch.bool)
                used[model._vq_vae.indices(model.encoder(train_t[:512, None] * 2 - 1)).flatten()] = True
                dead = (~used).nonzero().flatten()
                model._vq_vae._embedding[dead] = z[torch.randint(len(z), (len(dead),), generator=g)]
            print(f"step {step}: loss {loss.item():.4f} rec {rec.item():.4f}, {len(dead)} dead codes restarted, "
                  f"{(time.time() - t) / step * 1000:.0f} ms/step")
    model.eval()
    with torch.no_grad():
        rec = model.decode(model.encode(held)).numpy() > 0
    ious = [mask_iou(a, b) for a, b in zip(rec, held)]
    print(f"held-out mask IoU through encode -> 16 codes -> decode: mean {np.mean(ious):.3f}, min {np.min(ious):.3f}")
    save_npz(model, args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

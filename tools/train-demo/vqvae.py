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
    """Codebook trained by exponential moving averages of the encoder outputs assigned to
    each code (not by gradients): steadier on few steps, and dead codes are easy to revive."""

    def __init__(self, decay: float = 0.95):
        super().__init__()
        self.decay = decay
        self.register_buffer("_embedding", torch.randn(CODES, DIM) * 0.1)  # vae-oid's name: no ".weight"
        self.register_buffer("size", torch.zeros(CODES))
        self.register_buffer("total", torch.zeros(CODES, DIM))

    def indices(self, z):  # z [N, DIM, 4, 4] -> [N, 16] row-major
        flat = z.permute(0, 2, 3, 1).reshape(-1, DIM)
        d = (flat * flat).sum(1, keepdim=True) - 2 * flat @ self._embedding.t() + (self._embedding ** 2).sum(1)[None]
        return d.argmin(1).view(z.shape[0], GRID * GRID)

    def lookup(self, idx):  # [N, 16] -> [N, DIM, 4, 4]
        return self._embedding[idx].view(-1, GRID, GRID, DIM).permute(0, 3, 1, 2)

    @torch.no_grad()
    def update(self, z, idx, g: torch.Generator) -> int:
        """One EMA step on this batch; codes nearly unused are moved onto random latents of it.
        Returns how many were moved."""
        flat = z.permute(0, 2, 3, 1).reshape(-1, DIM)
        onehot = F.one_hot(idx.flatten(), CODES).float()
        self.size.mul_(self.decay).add_(onehot.sum(0), alpha=1 - self.decay)
        self.total.mul_(self.decay).add_(onehot.t() @ flat, alpha=1 - self.decay)
        n = self.size.sum()
        size = (self.size + 1e-5) / (n + CODES * 1e-5) * n  # Laplace smoothing: no division by 0
        self._embedding.copy_(self.total / size[:, None])
        dead = (self.size < 0.05).nonzero().flatten()
        pick = flat[torch.randint(len(flat), (len(dead),), generator=g)]
        self._embedding[dead] = pick
        self.total[dead] = pick
        self.size[dead] = 1.0
        return len(dead)


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

    def loss(self, masks, g: torch.Generator, beta=0.25):
        """Returns (loss, reconstruction loss, codes revived). The decoder's output is a
        logit (> 0 inside, as the SDK reads it), so reconstruction is binary cross-entropy."""
        z = self.encoder(masks[:, None] * 2 - 1)
        idx = self._vq_vae.indices(z)
        q = self._vq_vae.lookup(idx)
        zq = z + (q - z).detach()  # straight-through
        rec = F.binary_cross_entropy_with_logits(self.decoder(zq)[:, 0], masks)
        loss = rec + beta * F.mse_loss(z, q)
        revived = self._vq_vae.update(z.detach(), idx, g) if self.training else 0
        return loss, rec, revived


def save_npz(model: VQVAE, path: str, decoder_only: bool = False) -> None:
    """Tensors under their state_dict names (vae-oid's), float32, as np.savez writes vae-oid.npz.
    decoder_only: just what the SDK reads (codebook + decoder), for shipping."""
    keep = lambda k: not decoder_only or k == "_vq_vae._embedding" or k.startswith("decoder.")
    np.savez(path, **{k: v.detach().cpu().numpy().astype(np.float32) for k, v in model.state_dict().items() if keep(k)})


def load_npz(path: str) -> VQVAE:
    model = VQVAE()
    model.load_state_dict({k: torch.from_numpy(v) for k, v in np.load(path).items()})
    return model.eval()


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
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--out", default="vae-demo.npz")
    ap.add_argument("--log", type=int, default=50)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(args.threads)

    t = time.time()
    train = masks_from_scenes(args.scenes)
    held = masks_from_scenes(100, scenes.SPLIT_OFFSET)
    print(f"{len(train)} training masks from {args.scenes} scenes, {len(held)} held-out, in {time.time() - t:.1f}s")
    # Rotations by 90 degrees and flips are masks of the same world: x8 data for free.
    train_t = torch.as_tensor(train, dtype=torch.float32)

    model = VQVAE()
    opt = torch.optim.Adam([p for n, p in model.named_parameters()], lr=args.lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, args.lr, total_steps=args.steps, pct_start=0.05)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():  # codebook starts on encoder outputs, not on noise
        z = model.encoder(train_t[:256, None] * 2 - 1).permute(0, 2, 3, 1).reshape(-1, DIM)
        model._vq_vae._embedding.copy_(z[torch.randperm(len(z), generator=g)[:CODES]])
    t = time.time()
    revived = 0
    for step in range(1, args.steps + 1):
        idx = torch.randint(len(train_t), (args.batch,), generator=g)
        x = torch.rot90(train_t[idx], int(torch.randint(4, (1,), generator=g)), (1, 2))
        if torch.rand(1, generator=g) < 0.5:
            x = x.flip(2)
        loss, rec, r = model.loss(x, g)
        revived += r
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step % args.log == 0 or step == args.steps:
            print(f"step {step}: loss {loss.item():.4f} rec {rec.item():.4f}, {revived} codes revived, "
                  f"{(time.time() - t) / step * 1000:.0f} ms/step", flush=True)
            revived = 0
        if step % 500 == 0:
            save_npz(model, args.out)
    model.eval()
    with torch.no_grad():
        rec = model.decode(model.encode(held)).numpy() > 0
    ious = [mask_iou(a, b) for a, b in zip(rec, held)]
    print(f"held-out mask IoU through encode -> 16 codes -> decode: mean {np.mean(ious):.3f}, min {np.min(ious):.3f}")
    save_npz(model, args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

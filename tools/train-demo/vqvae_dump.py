"""Loads a vqvae.py .npz back into torch and dumps a few held-out masks' codes and decoded
masks as JSON, for check_mask_decoder.mjs.

    python3 vqvae_dump.py vae-demo.npz decoded.json
"""
import json
import sys

import torch

import scenes
import vqvae

model = vqvae.load_npz(sys.argv[1])
masks = vqvae.masks_from_scenes(4, scenes.SPLIT_OFFSET)
with torch.no_grad():
    codes = model.encode(masks)
    out = model.decode(codes)
with open(sys.argv[2], "w") as f:
    json.dump({"codes": codes.tolist(), "masks": out.numpy().round(6).tolist()}, f)
print(f"dumped {len(codes)} masks")

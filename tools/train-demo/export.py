"""Exports a trained checkpoint as a Hugging Face PaliGemma folder the SDK loads like any other.

    python3 export.py runs/stage2.pt runs/vae-full.npz runs/tokenizer.json ../../models/demo-shapes

Writes config.json (model.Config.to_json), model.safetensors (float16, HF names, lm_head
tied and not stored, as in Google's checkpoints), tokenizer.json, and vae-oid.npz (the
codebook and decoder only, as float16: the SDK never reads the encoder, and widens
float16 to the float32 it decodes in). model README.md is written
by hand.
"""
from __future__ import annotations

import json
import os
import shutil
import struct
import sys

import numpy as np
import torch

import tokenizer as tok
from model import Config


def write_safetensors(path: str, tensors: dict[str, np.ndarray]) -> None:
    """The safetensors layout: u64 header length, JSON header (offsets into the data), data."""
    header, offset, blobs = {}, 0, []
    for name, a in tensors.items():
        a = np.ascontiguousarray(a)
        header[name] = {"dtype": {np.float16: "F16", np.float32: "F32"}[a.dtype.type], "shape": list(a.shape),
                        "data_offsets": [offset, offset + a.nbytes]}
        blobs.append(a.tobytes())
        offset += a.nbytes
    head = json.dumps(header, separators=(",", ":")).encode()
    head += b" " * (-len(head) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(head)) + head + b"".join(blobs))


def export(ckpt_path: str, vae_path: str, tokenizer_path: str, out: str) -> None:
    ckpt = torch.load(ckpt_path)
    cfg = Config(**ckpt["config"])
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(cfg.to_json(bos=tok.BOS, eos=tok.EOS, pad=tok.PAD), f, indent=2)
        f.write("\n")
    tensors = {k: v.float().numpy().astype(np.float16) for k, v in ckpt["model"].items()}
    assert all(np.isfinite(a).all() for a in tensors.values()), "a weight overflows float16"
    write_safetensors(os.path.join(out, "model.safetensors"), tensors)
    shutil.copyfile(tokenizer_path, os.path.join(out, "tokenizer.json"))
    vae = np.load(vae_path)
    np.savez(os.path.join(out, "vae-oid.npz"), **{k: vae[k].astype(np.float16) for k in vae.files
                                                   if k == "_vq_vae._embedding" or k.startswith("decoder.")})
    sizes = {n: os.path.getsize(os.path.join(out, n)) for n in os.listdir(out)}
    print(f"wrote {out}: " + ", ".join(f"{n} {s / 1e6:.2f} MB" for n, s in sorted(sizes.items())))


if __name__ == "__main__":
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    export(*sys.argv[1:])

"""Greedy answers of an exported folder, computed in torch from the exported float16
weights, for check_model.mjs to compare with the SDK's.

    python3 check_model.py ../../models/demo-shapes runs/held.npz expected.json [--scenes 10]
"""
from __future__ import annotations

import argparse
import base64
import json
import os

import numpy as np
import torch

import evaluate
import render
import scenes
import tokenizer as tok
from model import Config, PaliGemma


def read_safetensors(path: str) -> dict[str, torch.Tensor]:
    with open(path, "rb") as f:
        raw = f.read()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + n])
    dtypes = {"F16": np.float16, "F32": np.float32}
    return {k: torch.from_numpy(np.frombuffer(raw, dtypes[v["dtype"]], offset=8 + n + v["data_offsets"][0],
                                              count=int(np.prod(v["shape"]))).reshape(v["shape"]).astype(np.float32))
            for k, v in header.items()}


def load_exported(folder: str) -> PaliGemma:
    with open(os.path.join(folder, "config.json")) as f:
        j = json.load(f)
    v, t = j["vision_config"], j["text_config"]
    cfg = Config(vocab=j["vocab_size"], image_token=j["image_token_index"], image_size=v["image_size"],
                 patch_size=v["patch_size"], v_hidden=v["hidden_size"], v_layers=v["num_hidden_layers"],
                 v_heads=v["num_attention_heads"], v_mlp=v["intermediate_size"], t_hidden=t["hidden_size"],
                 t_layers=t["num_hidden_layers"], t_heads=t["num_attention_heads"], head_dim=t["head_dim"],
                 t_mlp=t["intermediate_size"])
    model = PaliGemma(cfg)
    model.load_state_dict(read_safetensors(os.path.join(folder, "model.safetensors")))
    return model.eval()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("folder")
    ap.add_argument("held")
    ap.add_argument("out")
    ap.add_argument("--scenes", type=int, default=10)
    args = ap.parse_args()
    model = load_exported(args.folder)
    tk = tok.load(os.path.join(args.folder, "tokenizer.json"))
    data = render.Data(args.held)
    rows = []
    with torch.no_grad():
        for i in range(args.scenes):
            features = model.image_features(evaluate.pixels(data.images[i:i + 1]))
            for prompt, _ in scenes.examples(data.scene(i), codes=lambda o: [0] * 16):
                ids = evaluate.generate(model, features, [tok.BOS] + tk.encode(prompt + "\n"), max_new=100)
                rows.append({"scene": i, "prompt": prompt, "ids": ids + ([tok.EOS] if len(ids) < 100 else [])})
    images = {i: base64.b64encode(data.images[i].tobytes()).decode() for i in range(args.scenes)}
    with open(args.out, "w") as f:
        json.dump({"size": scenes.SIZE, "images": images, "rows": rows}, f)
    print(f"wrote {len(rows)} greedy answers to {args.out}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Writes tests/fixtures/quant/cases.safetensors: random f32 matrices and their q4/q8
quantization computed with numpy from the format's text (README.md, "Quantized weights"),
independently of src/weights/quantize.ts, which tests/weights/quantize.test.ts checks
against it bit for bit.

    python3 tools/quant_fixture.py     (numpy only; deterministic: seed 20261202)

The format, as the issue states it: per row of W [N, K], groups of 32 consecutive
elements along K, the last zero-padded to Kp = ceil(K / 32) * 32;
scale = f16(max|w| / 7) (q4) or f16(max|w| / 127) (q8), a group of zeros has scale 0;
q = clamp(round(w / scale), -8, 7) or clamp(round(w / scale), -127, 127), round half to
even, arithmetic in f32; qweight U32 [N, Kp / 8] (q4: nibble k % 8 of word k / 8, low
first, holding q + 8) or [N, Kp / 4] (q8: byte k % 4 of word k / 4, two's complement);
scales F16 [N, Kp / 32]."""
import json
import os
import struct

import numpy as np

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "quant", "cases.safetensors")


def quantize(w: np.ndarray, bits: int):
    n, k = w.shape
    kp = -(-k // 32) * 32
    padded = np.zeros((n, kp), np.float32)
    padded[:, :k] = w
    groups = padded.reshape(n, kp // 32, 32)
    qmax = 7 if bits == 4 else 127
    qmin = -8 if bits == 4 else -127
    scales = (np.abs(groups).max(axis=2) / np.float32(qmax)).astype(np.float16)
    s = scales.astype(np.float32)[..., None]
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.where(s == 0, np.float32(0), np.rint(groups / s))
    q = np.clip(q, qmin, qmax).astype(np.int64).reshape(n, kp)
    per_word = 32 // bits
    if bits == 4:
        fields = (q + 8).astype(np.uint64)
    else:
        fields = (q & 0xFF).astype(np.uint64)
    fields = fields.reshape(n, kp // per_word, per_word)
    words = np.zeros((n, kp // per_word), np.uint64)
    for i in range(per_word):
        words |= fields[..., i] << np.uint64(i * bits)
    dequantized = (q.reshape(n, kp // 32, 32).astype(np.float32) * s).reshape(n, kp)[:, :k]
    return words.astype(np.uint32), scales, dequantized.astype(np.float32)


def special_rows(k: int) -> np.ndarray:
    """Rows that exercise the edges of the rules."""
    rows = []
    rows.append(np.zeros(k, np.float32))  # all groups zero: scale 0, q 0
    one = np.zeros(k, np.float32)
    one[k // 2] = -0.3  # one nonzero per row
    rows.append(one)
    # Ties: with scale exactly 1/8 (max 0.875 for q4, 15.875 for q8 below), w / scale = j + 0.5.
    tie4 = (np.arange(k) % 15 - 7).astype(np.float32) * 0.125 + 0.0625
    tie4[::32] = 0.875
    rows.append(np.clip(tie4, -0.875, 0.875))
    tie8 = (np.arange(k) % 255 - 127).astype(np.float32) * 0.125 + 0.0625
    tie8[::32] = 15.875
    rows.append(np.clip(tie8, -15.875, 15.875))
    # Subnormal f16 scales: max / 7 rounds far from exact, so |w / scale| passes 7.5 and
    # the clamp decides (-8 is reachable for q4, +8 is not).
    tiny = np.random.default_rng(5).uniform(-4.5e-7, 4.5e-7, k).astype(np.float32)
    tiny[::32] = -4.5e-7
    tiny[1::32] = 4.4e-7
    rows.append(tiny)
    rows.append(np.full(k, 1e-9, np.float32))  # scale rounds to 0 although max > 0
    rows.append(np.random.default_rng(6).uniform(-3e4, 3e4, k).astype(np.float32))  # large but finite scales
    return np.stack(rows)


def main():
    rng = np.random.default_rng(20261202)
    cases = {
        "k75": rng.standard_normal((5, 75)).astype(np.float32),
        "k64": (rng.standard_normal((7, 64)) * 0.02).astype(np.float32),
        "k4304": rng.standard_normal((3, 4304)).astype(np.float32),
        "k1": rng.standard_normal((4, 1)).astype(np.float32),
        "special_k33": special_rows(33),
        "special_k96": special_rows(96),
    }
    tensors = {}
    for name, w in cases.items():
        tensors[f"{name}.w"] = w
        for bits in (4, 8):
            words, scales, deq = quantize(w, bits)
            tensors[f"{name}.q{bits}.qweight"] = words
            tensors[f"{name}.q{bits}.scales"] = scales
            tensors[f"{name}.q{bits}.dequantized"] = deq
    write_safetensors(OUT, tensors)
    print(f"wrote {OUT}: {len(cases)} cases")


def write_safetensors(path: str, tensors: dict):
    dtypes = {np.dtype(np.float32): "F32", np.dtype(np.float16): "F16", np.dtype(np.uint32): "U32"}
    header, blobs, at = {}, [], 0
    for name, a in tensors.items():
        data = np.ascontiguousarray(a).astype(a.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": dtypes[a.dtype], "shape": list(a.shape), "data_offsets": [at, at + len(data)]}
        blobs.append(data)
        at += len(data)
    text = json.dumps(header, separators=(",", ":"))
    text += " " * ((8 - (8 + len(text)) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text.encode())
        for b in blobs:
            f.write(b)


if __name__ == "__main__":
    main()

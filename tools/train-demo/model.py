"""PaliGemma (SigLIP + linear projector + Gemma 1, prefix-LM) in torch, at demo widths.

The modules are named so that state_dict() names are Hugging Face's PaliGemma names
(src/weights/names.ts's expectedTensors, lm_head tied and not stored), and the forward
pass is the one the SDK runs (src/model/siglip.ts, gemma.ts, paligemma.ts):

    SigLIP     x = patch_conv(pixels) + pos;  x += attn(LN1 x);  x += fc2(gelu_tanh(fc1(LN2 x)));  LN_post
    projector  f = W x + b
    Gemma      h = sqrt(D) * embed(ids), rows of <image> = f / sqrt(D)   (so they enter as f)
               h += o(attn(rope(q), rope(k), v))(rms(h));  h += down(gelu_tanh(gate) * up)(rms(h))
               logits = rms(h) @ embed^T,  rms(x) = x / sqrt(mean x^2 + eps) * (1 + w)

RoPE positions start at 1 (HF PaliGemma's cumsum of the attention mask); the prefix
(image tokens, <bos>, prompt, "\\n") attends to itself fully, the suffix causally.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
import torch.nn.functional as F


@dataclass
class Config:
    vocab: int
    image_token: int
    image_size: int = 112
    patch_size: int = 16
    v_hidden: int = 128
    v_layers: int = 3
    v_heads: int = 4
    v_mlp: int = 384
    t_hidden: int = 128
    t_layers: int = 3
    t_heads: int = 2
    head_dim: int = 64
    t_mlp: int = 512
    eps: float = 1e-6
    rope_theta: float = 10000.0

    @property
    def num_patches(self) -> int:
        return (self.image_size // self.patch_size) ** 2

    def to_json(self, bos: int, eos: int, pad: int) -> dict:
        """config.json in Hugging Face's PaliGemma layout (what src/config.ts parses)."""
        n = self.num_patches
        return {
            "model_type": "paligemma", "architectures": ["PaliGemmaForConditionalGeneration"],
            "bos_token_id": bos, "eos_token_id": eos, "pad_token_id": pad, "image_token_index": self.image_token,
            "hidden_size": self.t_hidden, "projection_dim": self.t_hidden, "vocab_size": self.vocab,
            "vision_config": {
                "model_type": "siglip_vision_model", "hidden_size": self.v_hidden, "intermediate_size": self.v_mlp,
                "num_hidden_layers": self.v_layers, "num_attention_heads": self.v_heads,
                "image_size": self.image_size, "patch_size": self.patch_size, "layer_norm_eps": self.eps,
                "num_image_tokens": n, "projection_dim": self.t_hidden},
            "text_config": {
                "model_type": "gemma", "hidden_size": self.t_hidden, "intermediate_size": self.t_mlp,
                "num_hidden_layers": self.t_layers, "num_attention_heads": self.t_heads, "num_key_value_heads": 1,
                "head_dim": self.head_dim, "vocab_size": self.vocab, "rms_norm_eps": self.eps,
                "rope_theta": self.rope_theta, "hidden_activation": "gelu_pytorch_tanh", "num_image_tokens": n},
            "torch_dtype": "float16",
        }


def gelu(x):
    return F.gelu(x, approximate="tanh")


# ---------------------------------------------------------------- SigLIP

class SiglipAttention(nn.Module):
    def __init__(self, c: Config):
        super().__init__()
        self.heads = c.v_heads
        self.q_proj, self.k_proj, self.v_proj, self.out_proj = (nn.Linear(c.v_hidden, c.v_hidden) for _ in range(4))

    def forward(self, x):
        B, T, D = x.shape
        q, k, v = (p(x).view(B, T, self.heads, -1).transpose(1, 2) for p in (self.q_proj, self.k_proj, self.v_proj))
        a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1]), -1) @ v
        return self.out_proj(a.transpose(1, 2).reshape(B, T, D))


class SiglipMLP(nn.Module):
    def __init__(self, c: Config):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(c.v_hidden, c.v_mlp), nn.Linear(c.v_mlp, c.v_hidden)

    def forward(self, x):
        return self.fc2(gelu(self.fc1(x)))


class SiglipLayer(nn.Module):
    def __init__(self, c: Config):
        super().__init__()
        self.layer_norm1, self.layer_norm2 = nn.LayerNorm(c.v_hidden, c.eps), nn.LayerNorm(c.v_hidden, c.eps)
        self.self_attn, self.mlp = SiglipAttention(c), SiglipMLP(c)

    def forward(self, x):
        x = x + self.self_attn(self.layer_norm1(x))
        return x + self.mlp(self.layer_norm2(x))


class SiglipEmbeddings(nn.Module):
    def __init__(self, c: Config):
        super().__init__()
        self.patch_embedding = nn.Conv2d(3, c.v_hidden, c.patch_size, c.patch_size)
        self.position_embedding = nn.Embedding(c.num_patches, c.v_hidden)

    def forward(self, pixels):  # [B, 3, S, S] -> [B, N, H], patches row-major
        return self.patch_embedding(pixels).flatten(2).transpose(1, 2) + self.position_embedding.weight


class SiglipVisionModel(nn.Module):
    def __init__(self, c: Config):
        super().__init__()
        self.embeddings = SiglipEmbeddings(c)
        self.encoder = nn.Module()
        self.encoder.layers = nn.ModuleList(SiglipLayer(c) for _ in range(c.v_layers))
        self.post_layernorm = nn.LayerNorm(c.v_hidden, c.eps)

    def forward(self, pixels):
        x = self.embeddings(pixels)
        for layer in self.encoder.layers:
            x = layer(x)
        return self.post_layernorm(x)


# ---------------------------------------------------------------- Gemma

class RMSNorm(nn.Module):
    def __init__(self, d: int, eps: float):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.zeros(d))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * (1 + self.weight)


def rope(x, positions, theta):  # x [B, h, T, hd], positions [B, T]
    hd = x.shape[-1]
    inv = 1.0 / theta ** (torch.arange(0, hd, 2, dtype=torch.float32) / hd)
    ang = positions[:, None, :, None].float() * inv  # [B, 1, T, hd/2]
    cos, sin = torch.cat([ang.cos()] * 2, -1), torch.cat([ang.sin()] * 2, -1)
    x1, x2 = x[..., :hd // 2], x[..., hd // 2:]
    return x * cos + torch.cat([-x2, x1], -1) * sin


class GemmaAttention(nn.Module):
    def __init__(self, c: Config):
        super().__init__()
        self.c = c
        self.q_proj = nn.Linear(c.t_hidden, c.t_heads * c.head_dim, bias=False)
        self.k_proj = nn.Linear(c.t_hidden, c.head_dim, bias=False)
        self.v_proj = nn.Linear(c.t_hidden, c.head_dim, bias=False)
        self.o_proj = nn.Linear(c.t_heads * c.head_dim, c.t_hidden, bias=False)

    def forward(self, x, positions, mask):  # mask [B, 1, T, T] additive
        B, T, _ = x.shape
        q = rope(self.q_proj(x).view(B, T, self.c.t_heads, -1).transpose(1, 2), positions, self.c.rope_theta)
        k = rope(self.k_proj(x).view(B, T, 1, -1).transpose(1, 2), positions, self.c.rope_theta)
        v = self.v_proj(x).view(B, T, 1, -1).transpose(1, 2)
        s = q @ k.transpose(-1, -2) / math.sqrt(self.c.head_dim) + mask
        self.probs = torch.softmax(s, -1)  # [B, heads, T, T], kept for train.py's attention aid
        a = self.probs @ v
        return self.o_proj(a.transpose(1, 2).reshape(B, T, -1))


class GemmaMLP(nn.Module):
    def __init__(self, c: Config):
        super().__init__()
        self.gate_proj = nn.Linear(c.t_hidden, c.t_mlp, bias=False)
        self.up_proj = nn.Linear(c.t_hidden, c.t_mlp, bias=False)
        self.down_proj = nn.Linear(c.t_mlp, c.t_hidden, bias=False)

    def forward(self, x):
        return self.down_proj(gelu(self.gate_proj(x)) * self.up_proj(x))


class GemmaLayer(nn.Module):
    def __init__(self, c: Config):
        super().__init__()
        self.input_layernorm, self.post_attention_layernorm = RMSNorm(c.t_hidden, c.eps), RMSNorm(c.t_hidden, c.eps)
        self.self_attn, self.mlp = GemmaAttention(c), GemmaMLP(c)

    def forward(self, h, positions, mask):
        h = h + self.self_attn(self.input_layernorm(h), positions, mask)
        return h + self.mlp(self.post_attention_layernorm(h))


class GemmaModel(nn.Module):
    def __init__(self, c: Config):
        super().__init__()
        self.embed_tokens = nn.Embedding(c.vocab, c.t_hidden)
        self.layers = nn.ModuleList(GemmaLayer(c) for _ in range(c.t_layers))
        self.norm = RMSNorm(c.t_hidden, c.eps)


# ---------------------------------------------------------------- PaliGemma

class PaliGemma(nn.Module):
    def __init__(self, c: Config):
        super().__init__()
        self.c = c
        self.vision_tower = nn.Module()
        self.vision_tower.vision_model = SiglipVisionModel(c)
        self.multi_modal_projector = nn.Module()
        self.multi_modal_projector.linear = nn.Linear(c.v_hidden, c.t_hidden)
        self.language_model = nn.Module()
        self.language_model.model = GemmaModel(c)

    def image_features(self, pixels):  # [B, 3, S, S] in [-1, 1] -> [B, N, D]
        return self.multi_modal_projector.linear(self.vision_tower.vision_model(pixels))

    def logits(self, h):  # final hidden states [..., D] -> [..., vocab] (lm_head tied to the embeddings)
        return h @ self.language_model.model.embed_tokens.weight.t()

    def forward(self, features, ids, prefix_len):
        """Final hidden states [B, T, D] (after the last norm) for rows `ids` [B, T] (image tokens first, right-padded) whose
        first prefix_len[b] tokens are the prefix; `features` [B, N, D] fill the image tokens."""
        c, lm = self.c, self.language_model.model
        B, T = ids.shape
        D = c.t_hidden
        e = lm.embed_tokens(ids)
        N = c.num_patches
        e = torch.cat([features / math.sqrt(D), e[:, N:]], 1)  # image tokens are the first N of every row
        h = e * math.sqrt(D)
        positions = torch.arange(1, T + 1)[None].expand(B, T)
        i = torch.arange(T)
        visible = (i[None, :] <= i[:, None])[None] | (i[None, None, :] < prefix_len[:, None, None])  # [B, T, T]
        mask = torch.zeros(B, 1, T, T).masked_fill(~visible[:, None], float("-inf"))
        for layer in lm.layers:
            h = layer(h, positions, mask)
        return lm.norm(h)

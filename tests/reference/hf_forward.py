#!/usr/bin/env python3
"""Independent PyTorch reference of LlamaForCausalLM, Qwen2ForCausalLM and Qwen3ForCausalLM.

Written from the published architectures as Hugging Face transformers implements them (module
and parameter names as in modeling_llama.py / modeling_qwen2.py / modeling_qwen3.py), not
from autarky's C++: RMSNorm, rotate_half RoPE with the default/linear/yarn/llama3 frequency
rules, grouped-query attention by repeating K/V heads, a causal softmax, SwiGLU MLP, Qwen2's
Q/K/V biases, Qwen3's per-head Q/K RMSNorm, tied embeddings. The weights come from a GGUF file
(tests/reference/gguf_reader.py) and are mapped to the Hugging Face state dict; for `llama`,
the Q/K rows are un-permuted (llama.cpp's converter interleaves each head's two rotary halves
so that its rope can rotate adjacent pairs; HF rotates the halves).

Computes in float64 by default: the reference should be the better oracle.

Usage:
    hf_forward.py MODEL.gguf --tokens 1,429,491 --out logits.f32   # float32 {n_tokens, n_vocab}
    hf_forward.py MODEL.gguf --tokens 1,429 --top 5                  # print top logits
  --llama3 FACTOR,LOW,HIGH,ORIG_CTX: compute llama3 rope scaling with HF's formula from these
  parameters (instead of trusting the rope_freqs tensor) and check the tensor against it.
"""

import argparse
import math
import os
import sys
from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gguf_reader import GgufFile  # noqa: E402

ARCHS = ("llama", "qwen2", "qwen3")


@dataclass
class Config:
    arch: str
    vocab_size: int
    hidden_size: int
    intermediate_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    head_dim: int
    rms_norm_eps: float
    rope_theta: float
    max_position_embeddings: int
    rope_scaling: Optional[dict]  # as in HF configs: {"rope_type": ..., "factor": ..., ...}
    tie_word_embeddings: bool
    attention_bias: bool  # Qwen2
    qk_norm: bool  # Qwen3


def config_from_gguf(gguf: GgufFile, llama3: Optional[tuple] = None) -> Config:
    arch = gguf.get("general.architecture")
    if arch not in ARCHS:
        raise SystemExit(f"{gguf.path}: architecture {arch!r} is not one of {ARCHS}")

    def key(name, default=None):
        value = gguf.get(f"{arch}.{name}", default)
        if value is None:
            raise SystemExit(f"{gguf.path}: missing {arch}.{name}")
        return value

    hidden = key("embedding_length")
    n_head = key("attention.head_count")
    head_dim = key("attention.key_length", hidden // n_head)
    if key("attention.value_length", head_dim) != head_dim:
        raise SystemExit("different key and value head sizes are not supported")
    if key("rope.dimension_count", head_dim) != head_dim:
        raise SystemExit("partial rotary embeddings are not supported by this reference")
    vocab = gguf.tensors["token_embd.weight"].dims[1]

    rope_scaling = None
    scaling_type = gguf.get(f"{arch}.rope.scaling.type", "none")
    if scaling_type == "linear":
        rope_scaling = {"rope_type": "linear", "factor": key("rope.scaling.factor")}
    elif scaling_type == "yarn":
        rope_scaling = {
            "rope_type": "yarn",
            "factor": key("rope.scaling.factor"),
            "original_max_position_embeddings": key("rope.scaling.original_context_length"),
        }
    elif scaling_type != "none":
        raise SystemExit(f"rope scaling {scaling_type!r} is not supported")
    if llama3 is not None:
        factor, low, high, orig = llama3
        rope_scaling = {
            "rope_type": "llama3",
            "factor": factor,
            "low_freq_factor": low,
            "high_freq_factor": high,
            "original_max_position_embeddings": orig,
        }
    elif gguf.has_tensor("rope_freqs.weight"):
        # Only the per-frequency divisors are in the file (llama.cpp's form of llama3 scaling).
        rope_scaling = {"rope_type": "freq_factors"}

    return Config(
        arch=arch,
        vocab_size=vocab,
        hidden_size=hidden,
        intermediate_size=key("feed_forward_length"),
        num_hidden_layers=key("block_count"),
        num_attention_heads=n_head,
        num_key_value_heads=key("attention.head_count_kv", n_head),
        head_dim=head_dim,
        rms_norm_eps=key("attention.layer_norm_rms_epsilon"),
        rope_theta=key("rope.freq_base", 10000.0),  # llama.cpp's default when absent
        max_position_embeddings=key("context_length"),
        rope_scaling=rope_scaling,
        tie_word_embeddings=not gguf.has_tensor("output.weight"),
        attention_bias=arch == "qwen2",
        qk_norm=arch == "qwen3",
    )


# ---------------------------------------------------------------------------------------------
# Rotary embedding frequencies (transformers' modeling_rope_utils, from the papers)
# ---------------------------------------------------------------------------------------------


def default_inv_freq(config: Config):
    d = config.head_dim
    exponents = torch.arange(0, d, 2, dtype=torch.float64) / d
    return 1.0 / (config.rope_theta**exponents)


def yarn_inv_freq(config: Config):
    """YaRN (Peng et al. 2023): interpolate low frequencies, keep high ones, ramp between."""
    s = config.rope_scaling
    d = config.head_dim
    base = config.rope_theta
    factor = s["factor"]
    orig_ctx = s["original_max_position_embeddings"]
    beta_fast, beta_slow = 32.0, 1.0

    def correction_dim(n_rotations):
        # The dimension whose wavelength fits n_rotations times in the original context.
        return (d * math.log(orig_ctx / (n_rotations * 2 * math.pi))) / (2 * math.log(base))

    low = max(math.floor(correction_dim(beta_fast)), 0)
    high = min(math.ceil(correction_dim(beta_slow)), d - 1)
    if low == high:
        high += 0.001
    ramp = ((torch.arange(d // 2, dtype=torch.float64) - low) / (high - low)).clamp(0, 1)
    extrapolation_weight = 1 - ramp
    pos_freqs = base ** (torch.arange(0, d, 2, dtype=torch.float64) / d)
    extrapolated = 1.0 / pos_freqs
    interpolated = 1.0 / (factor * pos_freqs)
    inv_freq = interpolated * (1 - extrapolation_weight) + extrapolated * extrapolation_weight
    attention_scaling = 0.1 * math.log(factor) + 1.0 if factor > 1 else 1.0
    return inv_freq, attention_scaling


def llama3_inv_freq(config: Config):
    """Llama 3.1: divide long wavelengths by factor, keep short ones, smooth in between."""
    s = config.rope_scaling
    inv_freq = default_inv_freq(config)
    factor = s["factor"]
    low_ff, high_ff = s["low_freq_factor"], s["high_freq_factor"]
    orig = s["original_max_position_embeddings"]
    low_freq_wavelen = orig / low_ff
    high_freq_wavelen = orig / high_ff
    wavelen = 2 * math.pi / inv_freq
    scaled = torch.where(wavelen > low_freq_wavelen, inv_freq / factor, inv_freq)
    smooth = (orig / wavelen - low_ff) / (high_ff - low_ff)
    smoothed = (1 - smooth) * scaled / factor + smooth * scaled
    medium = ~(wavelen < high_freq_wavelen) & ~(wavelen > low_freq_wavelen)
    return torch.where(medium, smoothed, scaled)


def rope_parameters(config: Config, rope_freqs: Optional[np.ndarray]):
    """(inv_freq {head_dim / 2} float64, attention_scaling)."""
    s = config.rope_scaling
    kind = s["rope_type"] if s else "default"
    if kind == "default":
        return default_inv_freq(config), 1.0
    if kind == "linear":
        return default_inv_freq(config) / s["factor"], 1.0
    if kind == "yarn":
        return yarn_inv_freq(config)
    if kind == "llama3":
        inv_freq = llama3_inv_freq(config)
        if rope_freqs is not None:
            # The file's divisors must reproduce HF's frequencies: a check of the writer.
            from_file = default_inv_freq(config) / torch.from_numpy(rope_freqs.astype(np.float64))
            rel = ((from_file - inv_freq).abs() / inv_freq).max().item()
            # rope_freqs is stored in float32: 2^-24 relative rounding, with margin.
            if rel > 4 * 2.0**-24:
                raise SystemExit(f"rope_freqs.weight disagrees with HF llama3 frequencies by {rel}")
        return inv_freq, 1.0
    if kind == "freq_factors":
        return default_inv_freq(config) / torch.from_numpy(rope_freqs.astype(np.float64)), 1.0
    raise SystemExit(f"unknown rope type {kind}")


# ---------------------------------------------------------------------------------------------
# The model (names as in transformers' modeling_llama.py and its Qwen2/Qwen3 variants)
# ---------------------------------------------------------------------------------------------


class RMSNorm(nn.Module):
    def __init__(self, size, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(size))
        self.eps = eps

    def forward(self, x):
        variance = x.pow(2).mean(-1, keepdim=True)
        return self.weight * (x * torch.rsqrt(variance + self.eps))


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def apply_rotary(x, cos, sin):
    return x * cos + rotate_half(x) * sin


def repeat_kv(x, n_rep):
    """(batch, kv_heads, seq, dim) -> (batch, kv_heads * n_rep, seq, dim), each head repeated."""
    if n_rep == 1:
        return x
    b, kv, t, d = x.shape
    return x[:, :, None, :, :].expand(b, kv, n_rep, t, d).reshape(b, kv * n_rep, t, d)


class Attention(nn.Module):
    def __init__(self, c: Config):
        super().__init__()
        self.c = c
        q_dim = c.num_attention_heads * c.head_dim
        kv_dim = c.num_key_value_heads * c.head_dim
        self.q_proj = nn.Linear(c.hidden_size, q_dim, bias=c.attention_bias)
        self.k_proj = nn.Linear(c.hidden_size, kv_dim, bias=c.attention_bias)
        self.v_proj = nn.Linear(c.hidden_size, kv_dim, bias=c.attention_bias)
        self.o_proj = nn.Linear(q_dim, c.hidden_size, bias=False)
        if c.qk_norm:
            self.q_norm = RMSNorm(c.head_dim, c.rms_norm_eps)
            self.k_norm = RMSNorm(c.head_dim, c.rms_norm_eps)

    def forward(self, x, cos, sin, mask):
        c = self.c
        b, t, _ = x.shape
        q = self.q_proj(x).view(b, t, c.num_attention_heads, c.head_dim)
        k = self.k_proj(x).view(b, t, c.num_key_value_heads, c.head_dim)
        v = self.v_proj(x).view(b, t, c.num_key_value_heads, c.head_dim)
        if c.qk_norm:  # per head, before the rotation
            q = self.q_norm(q)
            k = self.k_norm(k)
        q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)  # (b, heads, t, d)
        q = apply_rotary(q, cos, sin)
        k = apply_rotary(k, cos, sin)
        n_rep = c.num_attention_heads // c.num_key_value_heads
        k = repeat_kv(k, n_rep)
        v = repeat_kv(v, n_rep)
        scores = torch.matmul(q, k.transpose(2, 3)) * (c.head_dim**-0.5) + mask
        probs = torch.softmax(scores, dim=-1)
        out = torch.matmul(probs, v).transpose(1, 2).reshape(b, t, -1)
        return self.o_proj(out)


class MLP(nn.Module):
    def __init__(self, c: Config):
        super().__init__()
        self.gate_proj = nn.Linear(c.hidden_size, c.intermediate_size, bias=False)
        self.up_proj = nn.Linear(c.hidden_size, c.intermediate_size, bias=False)
        self.down_proj = nn.Linear(c.intermediate_size, c.hidden_size, bias=False)

    def forward(self, x):
        return self.down_proj(nn.functional.silu(self.gate_proj(x)) * self.up_proj(x))


class DecoderLayer(nn.Module):
    def __init__(self, c: Config):
        super().__init__()
        self.input_layernorm = RMSNorm(c.hidden_size, c.rms_norm_eps)
        self.self_attn = Attention(c)
        self.post_attention_layernorm = RMSNorm(c.hidden_size, c.rms_norm_eps)
        self.mlp = MLP(c)

    def forward(self, h, cos, sin, mask):
        h = h + self.self_attn(self.input_layernorm(h), cos, sin, mask)
        return h + self.mlp(self.post_attention_layernorm(h))


class Model(nn.Module):
    def __init__(self, c: Config):
        super().__init__()
        self.embed_tokens = nn.Embedding(c.vocab_size, c.hidden_size)
        self.layers = nn.ModuleList([DecoderLayer(c) for _ in range(c.num_hidden_layers)])
        self.norm = RMSNorm(c.hidden_size, c.rms_norm_eps)


class CausalLM(nn.Module):
    def __init__(self, c: Config, inv_freq, attention_scaling):
        super().__init__()
        self.config = c
        self.model = Model(c)
        self.lm_head = nn.Linear(c.hidden_size, c.vocab_size, bias=False)
        self.inv_freq = inv_freq  # float64, not a parameter: kept out of .to(dtype)
        self.attention_scaling = attention_scaling

    def forward(self, ids):
        """ids: (batch, seq) int64 -> logits (batch, seq, vocab)."""
        _, t = ids.shape
        dtype = self.lm_head.weight.dtype
        positions = torch.arange(t, dtype=torch.float64)
        freqs = torch.outer(positions, self.inv_freq)  # angles in float64
        emb = torch.cat((freqs, freqs), dim=-1)
        cos = (emb.cos() * self.attention_scaling).to(dtype)
        sin = (emb.sin() * self.attention_scaling).to(dtype)
        mask = torch.full((t, t), float("-inf"), dtype=dtype).triu(1)
        h = self.model.embed_tokens(ids)
        for layer in self.model.layers:
            h = layer(h, cos, sin, mask)
        return self.lm_head(self.model.norm(h))


# ---------------------------------------------------------------------------------------------
# GGUF -> Hugging Face state dict
# ---------------------------------------------------------------------------------------------


def unpermute_rows(w: np.ndarray, n_heads: int) -> np.ndarray:
    """Inverse of llama.cpp's converter permutation of Q/K rows.

    The converter maps HF row (head, half, j) to GGUF row (head, j, half): each head's rows are
    viewed as {2, d/2} and transposed to {d/2, 2}, so the two halves that HF's rotate_half pairs
    up become adjacent rows. Undo it by viewing GGUF rows as {d/2, 2} and transposing back.
    """
    rows = w.shape[0]
    half = rows // n_heads // 2
    return w.reshape(n_heads, half, 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def state_dict_from_gguf(gguf: GgufFile, c: Config) -> dict:
    used = set()

    def t(name):
        used.add(name)
        return gguf.tensor(name)

    sd = {"model.embed_tokens.weight": t("token_embd.weight")}
    for i in range(c.num_hidden_layers):
        g, h = f"blk.{i}.", f"model.layers.{i}."
        q = t(g + "attn_q.weight")
        k = t(g + "attn_k.weight")
        if c.arch == "llama":
            q = unpermute_rows(q, c.num_attention_heads)
            k = unpermute_rows(k, c.num_key_value_heads)
        sd[h + "input_layernorm.weight"] = t(g + "attn_norm.weight")
        sd[h + "self_attn.q_proj.weight"] = q
        sd[h + "self_attn.k_proj.weight"] = k
        sd[h + "self_attn.v_proj.weight"] = t(g + "attn_v.weight")
        sd[h + "self_attn.o_proj.weight"] = t(g + "attn_output.weight")
        if c.attention_bias:
            for proj in "qkv":
                sd[h + f"self_attn.{proj}_proj.bias"] = t(g + f"attn_{proj}.bias")
        if c.qk_norm:
            sd[h + "self_attn.q_norm.weight"] = t(g + "attn_q_norm.weight")
            sd[h + "self_attn.k_norm.weight"] = t(g + "attn_k_norm.weight")
        sd[h + "post_attention_layernorm.weight"] = t(g + "ffn_norm.weight")
        sd[h + "mlp.gate_proj.weight"] = t(g + "ffn_gate.weight")
        sd[h + "mlp.up_proj.weight"] = t(g + "ffn_up.weight")
        sd[h + "mlp.down_proj.weight"] = t(g + "ffn_down.weight")
    sd["model.norm.weight"] = t("output_norm.weight")
    sd["lm_head.weight"] = t("token_embd.weight" if c.tie_word_embeddings else "output.weight")
    if gguf.has_tensor("rope_freqs.weight"):
        used.add("rope_freqs.weight")
    unused = sorted(set(gguf.tensors) - used)
    if unused:
        raise SystemExit(f"{gguf.path}: tensors this reference does not understand: {unused}")
    return sd


def load_model(path: str, dtype=torch.float64, llama3: Optional[tuple] = None) -> CausalLM:
    gguf = GgufFile(path)
    config = config_from_gguf(gguf, llama3)
    rope_freqs = gguf.tensor("rope_freqs.weight") if gguf.has_tensor("rope_freqs.weight") else None
    if config.rope_scaling and config.rope_scaling["rope_type"] == "llama3" and rope_freqs is None:
        raise SystemExit(f"{path}: --llama3 given but the file has no rope_freqs.weight")
    inv_freq, attention_scaling = rope_parameters(config, rope_freqs)
    model = CausalLM(config, inv_freq, attention_scaling)
    sd = state_dict_from_gguf(gguf, config)
    model.load_state_dict({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in sd.items()},
                          strict=True)
    return model.to(dtype).eval()


def logits_for(model: CausalLM, tokens) -> np.ndarray:
    """float64 logits {n_tokens, n_vocab} for one sequence."""
    for tok in tokens:
        if not 0 <= tok < model.config.vocab_size:
            raise SystemExit(f"token {tok} is outside the vocabulary [0, {model.config.vocab_size})")
    with torch.no_grad():
        ids = torch.tensor([list(tokens)], dtype=torch.int64)
        return model(ids)[0].to(torch.float64).numpy()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model")
    parser.add_argument("--tokens", required=True, help="comma-separated token ids")
    parser.add_argument("--out", help="write float32 little-endian logits {n_tokens, n_vocab}")
    parser.add_argument("--top", type=int, default=0, help="print the K top logits per position")
    parser.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    parser.add_argument("--llama3", help="FACTOR,LOW_FREQ_FACTOR,HIGH_FREQ_FACTOR,ORIG_CTX")
    args = parser.parse_args()
    llama3 = None
    if args.llama3:
        f, lo, hi, orig = args.llama3.split(",")
        llama3 = (float(f), float(lo), float(hi), int(orig))
    tokens = [int(x) for x in args.tokens.split(",") if x.strip()]
    model = load_model(args.model, getattr(torch, args.dtype), llama3)
    logits = logits_for(model, tokens)
    if args.out:
        logits.astype("<f4").tofile(args.out)
    for pos in range(len(tokens)) if args.top else []:
        top = np.argsort(-logits[pos], kind="stable")[: args.top]
        print(pos, " ".join(f"{i}:{logits[pos, i]:.6f}" for i in top))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Independent PyTorch reference of DeepseekV2ForCausalLM / DeepseekV3ForCausalLM.

Written from the published architecture (DeepSeek-V2 and V3 technical reports; the semantics of
Hugging Face's modeling_deepseek.py), not from autarky's C++: naive Multi-head Latent Attention
(the compressed KV is expanded through kv_b_proj into per-head keys and values), RoPE on the
rope halves with DeepSeek's interleaved layout (each head's rope dims are de-interleaved, then
rotate_half), YaRN frequencies with the mscale² softmax scale, dense leading layers, and the
Mixture-of-Experts exactly as the config says: softmax ("greedy", V2) or sigmoid with the
e_score_correction_bias and group-limited choice ("noaux_tc", V3), optional normalization of the
chosen weights, routed_scaling_factor, shared experts. Weights come from a GGUF file
(gguf_reader.py) and are mapped to the HF parameters.

Computes in float64. With --round-kv f16 the compressed KV (normalized latent and rotated rope
key, what autarky's cache stores) is rounded to float16, to model autarky's default F16 cache.

Usage:
    deepseek_forward.py MODEL.gguf --tokens 1,5,9 --out logits.f32   # float32 {n_tokens, n_vocab}
    deepseek_forward.py --compare MANIFEST
  MANIFEST lines: label|model.gguf|round_kv (f16 or -)|relative_tolerance|ids|autarky_logits.f32
  A case passes when max|autarky - reference| <= tolerance * max|reference| (all finite).
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


@dataclass
class Config:
    vocab_size: int
    hidden_size: int
    intermediate_size: int
    moe_intermediate_size: int
    num_hidden_layers: int
    num_attention_heads: int
    q_lora_rank: Optional[int]
    kv_lora_rank: int
    qk_nope_head_dim: int
    qk_rope_head_dim: int
    v_head_dim: int
    n_routed_experts: int
    num_experts_per_tok: int
    n_shared_experts: int
    first_k_dense_replace: int
    scoring_func: str  # softmax | sigmoid
    topk_method: str  # greedy | noaux_tc
    n_group: int
    topk_group: int
    norm_topk_prob: bool
    routed_scaling_factor: float
    rms_norm_eps: float
    rope_theta: float
    rope_scaling: Optional[dict]  # {"type": "yarn", factor, original_max_position_embeddings,
    #                                 mscale, mscale_all_dim, beta_fast, beta_slow}
    tie_word_embeddings: bool


def config_from_gguf(g: GgufFile) -> Config:
    a = g.get("general.architecture")
    if a != "deepseek2":
        raise SystemExit(f"{g.path}: architecture {a!r} is not deepseek2")

    def key(name, default=None):
        v = g.get(f"{a}.{name}", default)
        if v is None:
            raise SystemExit(f"{g.path}: missing key {a}.{name}")
        return v

    n_rope = int(key("rope.dimension_count"))
    if g.get(f"{a}.attention.key_length_mla") is not None:
        k_len, v_len = key("attention.key_length_mla"), key("attention.value_length_mla")
    else:
        k_len, v_len = key("attention.key_length"), key("attention.value_length")
    n_embd = int(key("embedding_length"))
    vocab = g.tensors["token_embd.weight"].dims[1]
    scaling = None
    if g.get(f"{a}.rope.scaling.type", "none") == "yarn":
        mscale_all_dim = float(key("rope.scaling.yarn_log_multiplier", 0.0)) / 0.1
        scaling = {
            "type": "yarn",
            "factor": float(key("rope.scaling.factor")),
            "original_max_position_embeddings": int(key("rope.scaling.original_context_length")),
            "mscale": mscale_all_dim,  # GGUF keeps one value; rope magnitude is then 1
            "mscale_all_dim": mscale_all_dim,
            "beta_fast": float(key("rope.scaling.yarn_beta_fast", 32.0)),
            "beta_slow": float(key("rope.scaling.yarn_beta_slow", 1.0)),
        }
    sigmoid = int(key("expert_gating_func", 1)) == 2
    return Config(
        vocab_size=vocab,
        hidden_size=n_embd,
        intermediate_size=int(key("feed_forward_length")),
        moe_intermediate_size=int(key("expert_feed_forward_length", 0)),
        num_hidden_layers=int(key("block_count")),
        num_attention_heads=int(key("attention.head_count")),
        q_lora_rank=g.get(f"{a}.attention.q_lora_rank"),
        kv_lora_rank=int(key("attention.kv_lora_rank")),
        qk_nope_head_dim=int(k_len) - n_rope,
        qk_rope_head_dim=n_rope,
        v_head_dim=int(v_len),
        n_routed_experts=int(key("expert_count", 0)),
        num_experts_per_tok=int(key("expert_used_count", 0)),
        n_shared_experts=int(key("expert_shared_count", 0)),
        first_k_dense_replace=int(key("leading_dense_block_count", 0)),
        scoring_func="sigmoid" if sigmoid else "softmax",
        topk_method="noaux_tc" if sigmoid else "greedy",  # greedy: group-limited with groups
        n_group=int(key("expert_group_count", 1)),
        topk_group=int(key("expert_group_used_count", 1)),
        norm_topk_prob=bool(key("expert_weights_norm", False)),
        routed_scaling_factor=float(key("expert_weights_scale", 1.0)),
        rms_norm_eps=float(key("attention.layer_norm_rms_epsilon", 1e-6)),
        rope_theta=float(key("rope.freq_base", 10000.0)),
        rope_scaling=scaling,
        tie_word_embeddings="output.weight" not in g.tensors,
    )


class RMSNorm(nn.Module):
    def __init__(self, size, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(size))
        self.eps = eps

    def forward(self, x):
        return self.weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps))


def yarn_get_mscale(scale, mscale):
    return 1.0 if scale <= 1 else 0.1 * mscale * math.log(scale) + 1.0


def rope_tables(c: Config, n_pos: int):
    """cos, sin {n_pos, rope_dim} (HF layout: frequencies repeated for the two halves)."""
    d = c.qk_rope_head_dim
    base = c.rope_theta
    freq_extra = 1.0 / base ** (torch.arange(0, d, 2, dtype=torch.float64) / d)
    mscale = 1.0
    if c.rope_scaling is None:
        inv_freq = freq_extra
    else:
        s = c.rope_scaling
        factor = s["factor"]
        freq_inter = freq_extra / factor
        orig = s["original_max_position_embeddings"]

        def correction_dim(n_rot):
            return (d * math.log(orig / (n_rot * 2 * math.pi))) / (2 * math.log(base))

        low = max(math.floor(correction_dim(s["beta_fast"])), 0)
        high = min(math.ceil(correction_dim(s["beta_slow"])), d - 1)
        if low == high:
            high += 0.001
        ramp = ((torch.arange(d // 2, dtype=torch.float64) - low) / (high - low)).clamp(0, 1)
        extra_mask = 1.0 - ramp
        inv_freq = freq_inter * (1 - extra_mask) + freq_extra * extra_mask
        mscale = yarn_get_mscale(factor, s["mscale"]) / yarn_get_mscale(factor, s["mscale_all_dim"])
    t = torch.arange(n_pos, dtype=torch.float64)
    freqs = torch.outer(t, inv_freq)
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos() * mscale, emb.sin() * mscale


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def apply_rotary_interleaved(x, cos, sin):
    """x {..., T, d}: DeepSeek's rope dims are pairs (2i, 2i+1); de-interleave, rotate_half."""
    *lead, d = x.shape
    x = x.reshape(*lead, d // 2, 2).transpose(-1, -2).reshape(*lead, d)
    return x * cos + rotate_half(x) * sin


class MLP(nn.Module):
    def __init__(self, hidden, inter):
        super().__init__()
        self.gate_proj = nn.Linear(hidden, inter, bias=False)
        self.up_proj = nn.Linear(hidden, inter, bias=False)
        self.down_proj = nn.Linear(inter, hidden, bias=False)

    def forward(self, x):
        return self.down_proj(nn.functional.silu(self.gate_proj(x)) * self.up_proj(x))


class MoE(nn.Module):
    def __init__(self, c: Config):
        super().__init__()
        self.c = c
        self.experts = nn.ModuleList(
            [MLP(c.hidden_size, c.moe_intermediate_size) for _ in range(c.n_routed_experts)])
        self.gate_weight = nn.Parameter(torch.zeros(c.n_routed_experts, c.hidden_size))
        self.e_score_correction_bias = nn.Parameter(torch.zeros(c.n_routed_experts))
        self.shared_experts = None
        if c.n_shared_experts > 0:
            self.shared_experts = MLP(c.hidden_size, c.moe_intermediate_size * c.n_shared_experts)
        self.min_margin = math.inf  # smallest gap at the top-k boundary seen (tie diagnostics)

    def route(self, x):
        c = self.c
        logits = x @ self.gate_weight.T  # {T, n_expert}
        scores = logits.softmax(-1) if c.scoring_func == "softmax" else logits.sigmoid()
        if c.topk_method == "noaux_tc":
            choice = scores + self.e_score_correction_bias
            if c.n_group > 1:
                T = x.shape[0]
                grouped = choice.view(T, c.n_group, -1)
                group_scores = grouped.topk(min(2, grouped.shape[-1]), dim=-1)[0].sum(-1)
                group_idx = group_scores.topk(c.topk_group, dim=-1, sorted=False)[1]
                mask = torch.zeros_like(group_scores).scatter_(1, group_idx, 1)
                mask = mask.unsqueeze(-1).expand_as(grouped).reshape(T, -1)
                choice = choice.masked_fill(mask == 0, float("-inf"))
        elif c.n_group > 1:  # V2's group_limited_greedy: groups ranked by their best score
            T = x.shape[0]
            group_scores = scores.view(T, c.n_group, -1).max(dim=-1).values
            group_idx = group_scores.topk(c.topk_group, dim=-1, sorted=False)[1]
            mask = torch.zeros_like(group_scores).scatter_(1, group_idx, 1)
            mask = mask.unsqueeze(-1).expand(T, c.n_group, -1).reshape(T, -1)
            choice = scores.masked_fill(mask == 0, float("-inf"))
        else:
            choice = scores
        top = choice.topk(c.num_experts_per_tok + 1 if choice.shape[-1] > c.num_experts_per_tok
                          else c.num_experts_per_tok, dim=-1)
        if top[0].shape[-1] > c.num_experts_per_tok:
            gap = (top[0][:, -2] - top[0][:, -1]).min().item()
            self.min_margin = min(self.min_margin, gap)
        idx = top[1][:, : c.num_experts_per_tok]
        weight = scores.gather(1, idx)
        if c.norm_topk_prob and c.num_experts_per_tok > 1:
            weight = weight / (weight.sum(-1, keepdim=True) + 1e-20)
        weight = weight * c.routed_scaling_factor
        return idx, weight

    def forward(self, x):
        idx, weight = self.route(x)
        out = torch.zeros_like(x)
        for t in range(x.shape[0]):
            for k in range(idx.shape[1]):
                out[t] += weight[t, k] * self.experts[int(idx[t, k])](x[t])
        if self.shared_experts is not None:
            out = out + self.shared_experts(x)
        return out


class Attention(nn.Module):
    def __init__(self, c: Config):
        super().__init__()
        self.c = c
        H = c.num_attention_heads
        self.q_head_dim = c.qk_nope_head_dim + c.qk_rope_head_dim
        if c.q_lora_rank:
            self.q_a_proj = nn.Linear(c.hidden_size, c.q_lora_rank, bias=False)
            self.q_a_layernorm = RMSNorm(c.q_lora_rank, c.rms_norm_eps)
            self.q_b_proj = nn.Linear(c.q_lora_rank, H * self.q_head_dim, bias=False)
        else:
            self.q_proj = nn.Linear(c.hidden_size, H * self.q_head_dim, bias=False)
        self.kv_a_proj_with_mqa = nn.Linear(
            c.hidden_size, c.kv_lora_rank + c.qk_rope_head_dim, bias=False)
        self.kv_a_layernorm = RMSNorm(c.kv_lora_rank, c.rms_norm_eps)
        self.kv_b_proj = nn.Linear(
            c.kv_lora_rank, H * (c.qk_nope_head_dim + c.v_head_dim), bias=False)
        self.o_proj = nn.Linear(H * c.v_head_dim, c.hidden_size, bias=False)
        self.softmax_scale = self.q_head_dim ** -0.5
        if c.rope_scaling is not None:
            m = yarn_get_mscale(c.rope_scaling["factor"], c.rope_scaling["mscale_all_dim"])
            self.softmax_scale *= m * m
        self.round_kv = None

    def forward(self, x, cos, sin):
        c = self.c
        T, H = x.shape[0], c.num_attention_heads
        if c.q_lora_rank:
            q = self.q_b_proj(self.q_a_layernorm(self.q_a_proj(x)))
        else:
            q = self.q_proj(x)
        q = q.view(T, H, self.q_head_dim).transpose(0, 1)  # {H, T, qk}
        q_nope, q_pe = q.split([c.qk_nope_head_dim, c.qk_rope_head_dim], dim=-1)
        ckv = self.kv_a_proj_with_mqa(x)
        compressed, k_pe = ckv.split([c.kv_lora_rank, c.qk_rope_head_dim], dim=-1)
        compressed = self.kv_a_layernorm(compressed)
        q_pe = apply_rotary_interleaved(q_pe, cos, sin)
        k_pe = apply_rotary_interleaved(k_pe.unsqueeze(0), cos, sin)  # {1, T, rope}
        if self.round_kv == "f16":
            compressed = compressed.half().to(x.dtype)
            k_pe = k_pe.half().to(x.dtype)
        kv = self.kv_b_proj(compressed).view(T, H, c.qk_nope_head_dim + c.v_head_dim)
        kv = kv.transpose(0, 1)
        k_nope, v = kv.split([c.qk_nope_head_dim, c.v_head_dim], dim=-1)
        query = torch.cat([q_nope, q_pe], dim=-1)
        key = torch.cat([k_nope, k_pe.expand(H, T, c.qk_rope_head_dim)], dim=-1)
        scores = (query @ key.transpose(-1, -2)) * self.softmax_scale
        mask = torch.triu(torch.full((T, T), float("-inf"), dtype=x.dtype), diagonal=1)
        p = (scores + mask).softmax(-1)
        out = (p @ v).transpose(0, 1).reshape(T, H * c.v_head_dim)
        return self.o_proj(out)


class Layer(nn.Module):
    def __init__(self, c: Config, index: int):
        super().__init__()
        self.input_layernorm = RMSNorm(c.hidden_size, c.rms_norm_eps)
        self.self_attn = Attention(c)
        self.post_attention_layernorm = RMSNorm(c.hidden_size, c.rms_norm_eps)
        if index >= c.first_k_dense_replace:
            self.mlp = MoE(c)
        else:
            self.mlp = MLP(c.hidden_size, c.intermediate_size)

    def forward(self, x, cos, sin):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin)
        return x + self.mlp(self.post_attention_layernorm(x))


class CausalLM(nn.Module):
    def __init__(self, c: Config):
        super().__init__()
        self.config = c
        self.embed_tokens = nn.Embedding(c.vocab_size, c.hidden_size)
        self.layers = nn.ModuleList([Layer(c, i) for i in range(c.num_hidden_layers)])
        self.norm = RMSNorm(c.hidden_size, c.rms_norm_eps)
        self.lm_head = nn.Linear(c.hidden_size, c.vocab_size, bias=False)

    def forward(self, ids):
        x = self.embed_tokens(ids)
        cos, sin = rope_tables(self.config, ids.shape[0])
        cos, sin = cos.to(x.dtype), sin.to(x.dtype)
        for layer in self.layers:
            x = layer(x, cos, sin)
        return self.lm_head(self.norm(x))

    def set_round_kv(self, mode):
        for layer in self.layers:
            layer.self_attn.round_kv = None if mode in (None, "-") else mode

    def min_routing_margin(self):
        margins = [l.mlp.min_margin for l in self.layers if isinstance(l.mlp, MoE)]
        return min(margins) if margins else math.inf


def load_model(path: str, dtype=torch.float64) -> CausalLM:
    g = GgufFile(path)
    c = config_from_gguf(g)
    model = CausalLM(c)

    def t(name):
        return torch.from_numpy(np.array(g.tensor(name), dtype=np.float64)).to(dtype)

    with torch.no_grad():
        model.embed_tokens.weight.copy_(t("token_embd.weight"))
        model.norm.weight.copy_(t("output_norm.weight"))
        model.lm_head.weight.copy_(t("token_embd.weight" if c.tie_word_embeddings
                                     else "output.weight"))
        for i, layer in enumerate(model.layers):
            p = f"blk.{i}."
            layer.input_layernorm.weight.copy_(t(p + "attn_norm.weight"))
            layer.post_attention_layernorm.weight.copy_(t(p + "ffn_norm.weight"))
            a = layer.self_attn
            if c.q_lora_rank:
                a.q_a_proj.weight.copy_(t(p + "attn_q_a.weight"))
                a.q_a_layernorm.weight.copy_(t(p + "attn_q_a_norm.weight"))
                a.q_b_proj.weight.copy_(t(p + "attn_q_b.weight"))
            else:
                a.q_proj.weight.copy_(t(p + "attn_q.weight"))
            a.kv_a_proj_with_mqa.weight.copy_(t(p + "attn_kv_a_mqa.weight"))
            a.kv_a_layernorm.weight.copy_(t(p + "attn_kv_a_norm.weight"))
            if g.has_tensor(p + "attn_kv_b.weight"):
                a.kv_b_proj.weight.copy_(t(p + "attn_kv_b.weight"))
            else:
                # Newer converters split kv_b_proj per head: attn_k_b holds each head's key
                # block transposed (numpy shape {H, kv_lora, nope}), attn_v_b its value block
                # ({H, v, kv_lora}); kv_b_proj stacks, per head, keys then values.
                k_b = t(p + "attn_k_b.weight").transpose(1, 2)
                v_b = t(p + "attn_v_b.weight")
                a.kv_b_proj.weight.copy_(torch.cat([k_b, v_b], dim=1).reshape(-1, c.kv_lora_rank))
            a.o_proj.weight.copy_(t(p + "attn_output.weight"))
            m = layer.mlp
            if isinstance(m, MoE):
                m.gate_weight.copy_(t(p + "ffn_gate_inp.weight"))
                if g.has_tensor(p + "exp_probs_b.bias"):
                    m.e_score_correction_bias.copy_(t(p + "exp_probs_b.bias"))
                gate, up, down = (t(p + f"ffn_{n}_exps.weight") for n in ("gate", "up", "down"))
                for e, expert in enumerate(m.experts):  # numpy shape {n_expert, n_out, k}
                    expert.gate_proj.weight.copy_(gate[e])
                    expert.up_proj.weight.copy_(up[e])
                    expert.down_proj.weight.copy_(down[e])
                if m.shared_experts is not None:
                    m.shared_experts.gate_proj.weight.copy_(t(p + "ffn_gate_shexp.weight"))
                    m.shared_experts.up_proj.weight.copy_(t(p + "ffn_up_shexp.weight"))
                    m.shared_experts.down_proj.weight.copy_(t(p + "ffn_down_shexp.weight"))
            else:
                m.gate_proj.weight.copy_(t(p + "ffn_gate.weight"))
                m.up_proj.weight.copy_(t(p + "ffn_up.weight"))
                m.down_proj.weight.copy_(t(p + "ffn_down.weight"))
    return model.to(dtype)


def logits_for(model: CausalLM, tokens, round_kv=None) -> np.ndarray:
    model.set_round_kv(round_kv)
    with torch.no_grad():
        return model(torch.tensor(tokens, dtype=torch.long)).numpy()


def compare(manifest: str) -> int:
    cases = []
    with open(manifest) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                cases.append(line.split("|"))
    models, failures, summary = {}, 0, {}
    for label, model_path, round_kv, tol, ids, logits_path in cases:
        tol = float(tol)
        if model_path not in models:
            models[model_path] = load_model(model_path)
        model = models[model_path]
        tokens = [int(t) for t in ids.split(",")]
        ref = logits_for(model, tokens, round_kv)
        n_vocab = model.config.vocab_size
        raw = np.fromfile(logits_path, dtype="<f4") if os.path.exists(logits_path) else None
        if raw is None or raw.size != len(tokens) * n_vocab:
            got = "missing" if raw is None else f"{raw.size} floats"
            print(f"FAIL {label}: {logits_path}: {got}, expected {len(tokens)} x {n_vocab}")
            failures += 1
            continue
        ours = raw.reshape(len(tokens), n_vocab).astype(np.float64)
        if not np.isfinite(ours).all():
            print(f"FAIL {label}: non-finite logits from autarky")
            failures += 1
            continue
        scale = np.abs(ref).max()
        rel = np.abs(ours - ref).max() / scale
        if rel > tol:
            failures += 1
            pos, tok = np.unravel_index(np.abs(ours - ref).argmax(), ours.shape)
            print(f"FAIL {label}: relative error {rel:.3e} > {tol:.1e} at position {pos}, token "
                  f"{tok}: autarky {ours[pos, tok]:.6f}, reference {ref[pos, tok]:.6f}; "
                  f"smallest routing margin {model.min_routing_margin():.2e}")
        group = label.split(" len=")[0]
        summary[group] = (max(summary.get(group, (0.0, tol))[0], rel), tol)
    for group, (rel, tol) in summary.items():
        print(f"{'ok  ' if rel <= tol else 'FAIL'} {group}: largest relative error {rel:.2e} "
              f"(tolerance {tol:.1e})")
    if failures:
        print(f"{failures} of {len(cases)} comparisons failed")
        return 1
    print(f"all {len(cases)} comparisons within tolerance")
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model", nargs="?")
    parser.add_argument("--tokens", help="comma-separated token ids")
    parser.add_argument("--out", help="write float32 little-endian logits {n_tokens, n_vocab}")
    parser.add_argument("--round-kv", choices=["f16"], help="round the compressed KV to F16")
    parser.add_argument("--compare", metavar="MANIFEST")
    args = parser.parse_args()
    if args.compare:
        return compare(args.compare)
    if not args.model or not args.tokens:
        parser.error("MODEL and --tokens are required without --compare")
    model = load_model(args.model)
    logits = logits_for(model, [int(t) for t in args.tokens.split(",")], args.round_kv)
    if args.out:
        logits.astype("<f4").tofile(args.out)
    else:
        for pos, row in enumerate(logits):
            top = np.argsort(-row)[:5]
            print(pos, " ".join(f"{i}:{row[i]:.4f}" for i in top))
    print(f"smallest routing margin {model.min_routing_margin():.3e}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

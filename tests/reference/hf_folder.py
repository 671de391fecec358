#!/usr/bin/env python3
"""Hugging Face folders for the safetensors tests, with their own small safetensors codec.

    hf_folder.py write MODEL.gguf DIR [--dtype f32|bf16] [--shards N]
        Writes the weights of a llama/qwen2/qwen3 GGUF as a Hugging Face folder: config.json,
        *.safetensors (HF names and [out, in] shapes, llama Q/K rows un-permuted; sharded with
        model.safetensors.index.json when N > 1), and a small byte-level BPE tokenizer.json.
        bf16 rounds every weight to bfloat16 (to nearest even).
    hf_folder.py forward DIR --tokens 1,2,3 --out logits.f32 [--dtype float64|float32]
        Runs hf_forward.py's PyTorch reference on the folder as Hugging Face would load it:
        config.json fields and the HF state dict read straight from the safetensors files
        (no GGUF names, no permutation), float32 logits {n_tokens, n_vocab} to --out.
"""

import argparse
import json
import os
import struct
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hf_forward  # noqa: E402
from gguf_reader import GgufFile  # noqa: E402

HF_ARCH = {"llama": "LlamaForCausalLM", "qwen2": "Qwen2ForCausalLM", "qwen3": "Qwen3ForCausalLM"}
QWEN2_REGEX = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}|"
               r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")


def to_bf16_bits(a: np.ndarray) -> np.ndarray:
    bits = np.ascontiguousarray(a, dtype="<f4").view("<u4").astype(np.uint64)
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16  # round to nearest even
    return rounded.astype("<u2")


def write_safetensors(path, tensors):
    """tensors: list of (name, dtype string, shape, raw bytes)."""
    header, offset = {"__metadata__": {"format": "pt"}}, 0
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": list(shape),
                        "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for _, _, _, raw in tensors:
            f.write(raw)


def read_safetensors(path):
    """name -> float64 numpy array (F32, F16, BF16)."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack_from("<Q", data, 0)
    header = json.loads(data[8:8 + n])
    base, out = 8 + n, {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        raw = data[base + begin:base + end]
        if info["dtype"] == "F32":
            a = np.frombuffer(raw, "<f4")
        elif info["dtype"] == "F16":
            a = np.frombuffer(raw, "<f2")
        elif info["dtype"] == "BF16":
            a = (np.frombuffer(raw, "<u2").astype("<u4") << 16).view("<f4")
        else:
            raise SystemExit(f"{path}: {name}: dtype {info['dtype']} is not supported here")
        out[name] = a.astype(np.float64).reshape(info["shape"])
    return out


def tokenizer_json(vocab_size):
    # GPT-2's byte -> printable character table.
    printable = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
    chars, extra = {}, 0
    for b in range(256):
        if b in printable:
            chars[b] = chr(b)
        else:
            chars[b] = chr(256 + extra)
            extra += 1
    vocab = {chars[b]: b for b in range(256)}
    eos = min(256, vocab_size - 1)
    return {
        "version": "1.0",
        "normalizer": {"type": "NFC"},
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": QWEN2_REGEX}, "behavior": "Isolated",
             "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "use_regex": False}]},
        "model": {"type": "BPE", "vocab": vocab, "merges": []},
        "added_tokens": [{"id": eos, "content": "<|endoftext|>", "special": True}],
    }, eos


def write(args):
    gguf = GgufFile(args.model)
    c = hf_forward.config_from_gguf(gguf)
    if c.rope_scaling is not None:
        raise SystemExit("rope scaling is not written by this helper")
    sd = hf_forward.state_dict_from_gguf(gguf, c)
    if c.tie_word_embeddings:
        del sd["lm_head.weight"]
    os.makedirs(args.dir, exist_ok=True)
    tok, eos = tokenizer_json(c.vocab_size)
    config = {
        "architectures": [HF_ARCH[c.arch]], "model_type": c.arch,
        "vocab_size": c.vocab_size, "hidden_size": c.hidden_size,
        "intermediate_size": c.intermediate_size, "num_hidden_layers": c.num_hidden_layers,
        "num_attention_heads": c.num_attention_heads,
        "num_key_value_heads": c.num_key_value_heads, "head_dim": c.head_dim,
        "rms_norm_eps": c.rms_norm_eps, "rope_theta": c.rope_theta,
        "max_position_embeddings": c.max_position_embeddings,
        "tie_word_embeddings": c.tie_word_embeddings, "torch_dtype": args.dtype,
        "bos_token_id": eos, "eos_token_id": eos,
    }
    with open(os.path.join(args.dir, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    with open(os.path.join(args.dir, "tokenizer.json"), "w") as f:
        json.dump(tok, f)
    with open(os.path.join(args.dir, "tokenizer_config.json"), "w") as f:
        json.dump({"add_bos_token": False, "eos_token": "<|endoftext|>"}, f)
    entries = []
    for name, a in sd.items():
        a = np.asarray(a, dtype=np.float32)
        if args.dtype == "bf16" and a.ndim == 2:
            entries.append((name, "BF16", a.shape, to_bf16_bits(a).tobytes()))
        else:
            entries.append((name, "F32", a.shape, np.ascontiguousarray(a, "<f4").tobytes()))
    shards = max(1, args.shards)
    if shards == 1:
        write_safetensors(os.path.join(args.dir, "model.safetensors"), entries)
        return
    weight_map = {}
    for s in range(shards):
        fname = f"model-{s + 1:05d}-of-{shards:05d}.safetensors"
        part = entries[s::shards]
        write_safetensors(os.path.join(args.dir, fname), part)
        weight_map.update({name: fname for name, _, _, _ in part})
    with open(os.path.join(args.dir, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {}, "weight_map": weight_map}, f, indent=2)


def forward(args):
    with open(os.path.join(args.dir, "config.json")) as f:
        cfg = json.load(f)
    arch = {v: k for k, v in HF_ARCH.items()}[cfg["architectures"][0]]
    n_head = cfg["num_attention_heads"]
    c = hf_forward.Config(
        arch=arch, vocab_size=cfg["vocab_size"], hidden_size=cfg["hidden_size"],
        intermediate_size=cfg["intermediate_size"], num_hidden_layers=cfg["num_hidden_layers"],
        num_attention_heads=n_head, num_key_value_heads=cfg.get("num_key_value_heads", n_head),
        head_dim=cfg.get("head_dim", cfg["hidden_size"] // n_head),
        rms_norm_eps=cfg["rms_norm_eps"], rope_theta=cfg.get("rope_theta", 10000.0),
        max_position_embeddings=cfg["max_position_embeddings"], rope_scaling=None,
        tie_word_embeddings=cfg.get("tie_word_embeddings", False),
        attention_bias=arch == "qwen2", qk_norm=arch == "qwen3")
    sd = {}
    index = os.path.join(args.dir, "model.safetensors.index.json")
    files = (sorted(set(json.load(open(index))["weight_map"].values())) if os.path.exists(index)
             else ["model.safetensors"])
    for fname in files:
        sd.update(read_safetensors(os.path.join(args.dir, fname)))
    if c.tie_word_embeddings:
        sd["lm_head.weight"] = sd["model.embed_tokens.weight"]
    inv_freq, scaling = hf_forward.rope_parameters(c, None)
    model = hf_forward.CausalLM(c, inv_freq, scaling)
    model.load_state_dict({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in sd.items()},
                          strict=True)
    model = model.to(getattr(torch, args.dtype)).eval()
    tokens = [int(x) for x in args.tokens.split(",") if x.strip()]
    hf_forward.logits_for(model, tokens).astype("<f4").tofile(args.out)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    w = sub.add_parser("write")
    w.add_argument("model")
    w.add_argument("dir")
    w.add_argument("--dtype", choices=["f32", "bf16"], default="f32")
    w.add_argument("--shards", type=int, default=1)
    fw = sub.add_parser("forward")
    fw.add_argument("dir")
    fw.add_argument("--tokens", required=True)
    fw.add_argument("--out", required=True)
    fw.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    args = parser.parse_args()
    write(args) if args.command == "write" else forward(args)


if __name__ == "__main__":
    main()

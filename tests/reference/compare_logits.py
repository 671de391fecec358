#!/usr/bin/env python3
"""Compares logits written by `autarky run --logits-out` with the PyTorch reference.

Reads a manifest (one case per line, fields separated by '|'):
    label|reference_model.gguf|llama3_params or -|relative_tolerance|ids|autarky_logits.f32
where ids are comma-separated token ids and the logits file is float32 little-endian
{n_tokens, n_vocab}. Each reference model is loaded once. A case passes when
    max |autarky - reference| <= tolerance * max |reference|
over all positions and the whole vocabulary (and every value is finite). Prints one line per
model (the largest relative error over its prompts) and one per failing case; exit 0 when all
pass, 1 otherwise.

Usage: compare_logits.py MANIFEST
"""

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hf_forward  # noqa: E402


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    cases = []
    with open(sys.argv[1]) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                cases.append(line.split("|"))
    models = {}
    failures = 0
    summary = {}  # model label -> (largest relative error, tolerance, argmax equal, positions)
    for label, model_path, llama3, tol, ids, logits_path in cases:
        tol = float(tol)
        key = (model_path, llama3)
        if key not in models:
            params = None
            if llama3 != "-":
                f, lo, hi, orig = llama3.split(",")
                params = (float(f), float(lo), float(hi), int(orig))
            models[key] = hf_forward.load_model(model_path, llama3=params)
        model = models[key]
        tokens = [int(t) for t in ids.split(",")]
        reference = hf_forward.logits_for(model, tokens)
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
        scale = np.abs(reference).max()
        err = np.abs(ours - reference).max()
        rel = err / scale
        argmax_same = int((ours.argmax(axis=1) == reference.argmax(axis=1)).sum())
        if rel > tol:
            failures += 1
            pos, tok = np.unravel_index(np.abs(ours - reference).argmax(), ours.shape)
            print(f"FAIL {label}: {len(tokens)} tokens, max|ref| {scale:.3f}, max|diff| "
                  f"{err:.3e}, relative {rel:.3e} > tolerance {tol:.1e}; worst at position {pos}, "
                  f"token {tok}: autarky {ours[pos, tok]:.6f}, reference {reference[pos, tok]:.6f};"
                  f" argmax equal at {argmax_same}/{len(tokens)} positions")
        # One summary line per model (the label without its prompt length).
        group = label.split(" len=")[0]
        prev_rel, _, prev_argmax, prev_positions = summary.get(group, (0.0, tol, 0, 0))
        summary[group] = (max(prev_rel, rel), tol, prev_argmax + argmax_same,
                          prev_positions + len(tokens))
    for group, (rel, tol, argmax_same, positions) in summary.items():
        verdict = "ok  " if rel <= tol else "FAIL"
        print(f"{verdict} {group}: largest relative error {rel:.2e} (tolerance {tol:.1e}), "
              f"argmax equal at {argmax_same}/{positions} positions")
    if failures:
        print(f"{failures} of {len(cases)} comparisons failed")
        return 1
    print(f"all {len(cases)} comparisons within tolerance")
    return 0


if __name__ == "__main__":
    sys.exit(main())

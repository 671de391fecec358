#!/usr/bin/env python3
"""Validates the PyTorch reference (hf_forward.py) against llama.cpp on a real trained model.

For each ../shared/golden/aidreams260K-greedy-*.json (llama.cpp, F32, greedy): runs the
reference on the prompt plus the generated tokens and checks, at every position, that the
golden top-5 logits are reproduced within 1e-3 and that the argmax is llama.cpp's greedy
token. Passing proves the reference's Q/K un-permutation, RoPE and the rest of the llama
forward agree with llama.cpp, so it can then judge autarky's forward.

Usage: check_golden.py [SHARED_DIR]   (default: $AUTARKY_SHARED_DIR or ../shared)
Exit 0 when all agree, 1 otherwise, 77 when the data is absent.
"""

import glob
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hf_forward  # noqa: E402

# The golden logits are llama.cpp's float32 results printed with 6 decimals; the shared data's
# README states agreement within about 1e-3 absolute for an independent float implementation
# (float32 accumulation differences over dim-64 dot products and 4 layers are ~1e-5; the rest
# is margin).
TOP_LOGIT_TOL = 1e-3


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    shared = (sys.argv[1] if len(sys.argv) > 1 else os.environ.get("AUTARKY_SHARED_DIR")
              or os.path.join(here, "..", "..", "..", "shared"))
    model_path = os.path.join(shared, "models", "aidreams260K.gguf")
    goldens = sorted(glob.glob(os.path.join(shared, "golden", "aidreams260K-greedy-*.json")))
    if not os.path.exists(model_path) or not goldens:
        print(f"skip: {model_path} or its golden files are absent")
        return 77
    model = hf_forward.load_model(model_path)
    failures = 0
    worst = 0.0
    for path in goldens:
        golden = json.load(open(path))
        prompt = golden["prompt_tokens"]
        generated = golden["generated_tokens"]
        # Teacher-forced on llama.cpp's continuation: the logits at position p predict token
        # p + 1; the last generated token is never fed.
        sequence = prompt + generated[:-1]
        logits = hf_forward.logits_for(model, sequence)
        steps = golden["steps"]
        if len(steps) != len(sequence):
            print(f"{path}: {len(steps)} steps for {len(sequence)} positions")
            failures += 1
            continue
        for step in steps:
            pos = step["pos"]
            for token, value in step["top"]:
                diff = abs(logits[pos, token] - value)
                worst = max(worst, diff)
                if diff > TOP_LOGIT_TOL:
                    failures += 1
                    print(f"{os.path.basename(path)}: pos {pos} token {token}: reference "
                          f"{logits[pos, token]:.6f}, llama.cpp {value:.6f}")
            if int(logits[pos].argmax()) != step["top"][0][0]:
                failures += 1
                print(f"{os.path.basename(path)}: pos {pos}: argmax {int(logits[pos].argmax())}, "
                      f"llama.cpp {step['top'][0][0]}")
        greedy = [int(logits[p].argmax()) for p in range(len(prompt) - 1, len(sequence))]
        if greedy != generated:
            failures += 1
            print(f"{os.path.basename(path)}: greedy continuation differs from llama.cpp's")
        print(f"{os.path.basename(path)}: {len(sequence)} positions, {len(generated)} greedy "
              "tokens checked")
    print(f"largest |reference - llama.cpp| over all golden top-5 logits: {worst:.2e} "
          f"(tolerance {TOP_LOGIT_TOL})")
    if failures:
        print(f"{failures} mismatches")
        return 1
    print("reference agrees with llama.cpp on every golden file")
    return 0


if __name__ == "__main__":
    sys.exit(main())

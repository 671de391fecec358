#!/usr/bin/env bash
# Hugging Face folders end to end: random llama/qwen2/qwen3 GGUFs written as safetensors folders
# (tests/reference/hf_folder.py: HF names, [out, in] shapes, llama Q/K un-permuted, F32 or BF16,
# sharded) run with `autarky run -m DIR` and
#  1. agree with the PyTorch reference reading the same folder the Hugging Face way
#     (hf_folder.py forward: config.json and the HF state dict, no GGUF names, no permutation),
#     within kF32Tol = 1e-4 of max|logit| (F32 KV cache; derivation in forward_reference.sh:
#     F32 accumulation over <= 22 matmuls of length <= 256, ~5e-6 typical; BF16 weights are read
#     exactly by both sides, so the same bound holds);
#  2. `autarky convert DIR OUT.gguf` gives byte-identical logits to the folder, and
#     `--type Q8_0` writes a GGUF that runs (its tensors equal `autarky quantize`'s: unit test);
#  3. bad input gives one clean error: a truncated shard, a non-folder;
#  4. `run -m DIR --quantize Q8_0` gives byte-identical logits to the GGUF of
#     `convert --type Q8_0` (the same quantized weights, made in memory).
# $1: the autarky binary. Exit 77 (skip) without python3 + torch + numpy.
set -uo pipefail
bin=$1
here=$(cd "$(dirname "$0")" && pwd)
reference=$here/../reference

# python3 with torch and numpy, or skip.
source "$here/lib/torch_python.sh"

work=$(mktemp -d)
if [ "${KEEP_WORK:-0}" = 1 ]; then echo "work files in $work"; else trap 'rm -rf "$work"' EXIT; fi
failures=0
fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}
kF32Tol=1e-4
ids=$("$python" -c "import random; r = random.Random(5); print(','.join(str(r.randrange(300)) for _ in range(33)))")

models=(
  "llama-f32|f32|1|--arch llama --layers 2 --dim 128 --heads 4 --kv-heads 2 --ffn 256 --vocab 300"
  "llama-bf16|bf16|2|--arch llama --layers 2 --dim 128 --heads 4 --kv-heads 4 --ffn 256 --vocab 300"
  "qwen2-bf16-tied|bf16|3|--arch qwen2 --layers 2 --dim 96 --heads 6 --kv-heads 2 --ffn 160 --vocab 300 --tied"
  "qwen3-f32|f32|2|--arch qwen3 --layers 2 --dim 96 --heads 6 --kv-heads 3 --head-dim 24 --ffn 200 --vocab 300"
)
for spec in "${models[@]}"; do
  IFS='|' read -r name dtype shards flags <<<"$spec"
  gguf=$work/$name.gguf
  dir=$work/$name
  # shellcheck disable=SC2086  # flags are words
  if ! "$bin" random-model "$gguf" -q $flags --seed 3 >"$work/log" 2>&1; then
    fail "random-model $name: $(tail -n 3 "$work/log")"
    continue
  fi
  if ! "$python" "$reference/hf_folder.py" write "$gguf" "$dir" --dtype "$dtype" \
    --shards "$shards" >"$work/log" 2>&1; then
    fail "hf_folder.py write $name: $(tail -n 3 "$work/log")"
    continue
  fi
  if ! "$bin" run -m "$dir" --prompt-tokens "$ids" -n 0 --kv-type f32 -t 2 \
    --logits-out "$work/$name-folder.f32" >"$work/log" 2>&1; then
    fail "autarky run -m $name/: $(tail -n 3 "$work/log")"
    continue
  fi
  "$python" "$reference/hf_folder.py" forward "$dir" --tokens "$ids" --out "$work/$name-ref.f32"
  if ! "$python" - "$work/$name-ref.f32" "$work/$name-folder.f32" "$kF32Tol" "$name" <<'PY'; then
import sys
import numpy as np
ref, got = np.fromfile(sys.argv[1], "<f4").astype(np.float64), np.fromfile(sys.argv[2], "<f4")
tol = float(sys.argv[3])
if ref.size != got.size or ref.size == 0 or not np.isfinite(got).all():
    sys.exit(f"{sys.argv[4]}: {got.size} logits from autarky, {ref.size} from the reference")
rel = np.abs(got - ref).max() / np.abs(ref).max()
print(f"{'ok  ' if rel <= tol else 'FAIL'} {sys.argv[4]}: folder vs PyTorch reading the folder: "
      f"relative error {rel:.2e} (tolerance {tol:.0e})")
sys.exit(0 if rel <= tol else 1)
PY
    fail "$name: folder logits differ from the reference"
  fi
  if ! "$bin" convert -q "$dir" "$work/$name-conv.gguf" >"$work/log" 2>&1; then
    fail "convert $name: $(tail -n 3 "$work/log")"
    continue
  fi
  "$bin" run -m "$work/$name-conv.gguf" --prompt-tokens "$ids" -n 0 --kv-type f32 -t 2 \
    --logits-out "$work/$name-conv.f32" >"$work/log" 2>&1 || fail "run converted $name"
  cmp -s "$work/$name-folder.f32" "$work/$name-conv.f32" ||
    fail "$name: the converted GGUF's logits are not byte-identical to the folder's"
  if ! "$bin" convert -q --type Q8_0 "$dir" "$work/$name-q8.gguf" >"$work/log" 2>&1 ||
    ! "$bin" run -m "$work/$name-q8.gguf" --prompt-tokens "$ids" -n 0 -t 2 \
      --logits-out "$work/$name-q8.f32" >"$work/log" 2>&1; then
    fail "convert --type Q8_0 $name: $(tail -n 3 "$work/log")"
  fi
  # 4. --quantize at load: the same weights as convert --type, so byte-identical logits.
  if ! "$bin" run -m "$dir" --quantize Q8_0 --prompt-tokens "$ids" -n 0 -t 2 \
    --logits-out "$work/$name-q8-load.f32" >"$work/log" 2>&1; then
    fail "run --quantize Q8_0 $name: $(tail -n 3 "$work/log")"
  fi
  cmp -s "$work/$name-q8.f32" "$work/$name-q8-load.f32" ||
    fail "$name: --quantize Q8_0 at load differs from convert --type Q8_0"
done

# 3. Clean errors.
dir=$work/llama-f32
if [ -f "$dir/model.safetensors" ]; then
  truncate -s 100 "$dir/model.safetensors"
  out=$("$bin" run -m "$dir" --prompt-tokens 1 -n 0 2>&1)
  rc=$?
  if [ $rc -eq 0 ] || ! grep -q "model.safetensors" <<<"$out" || grep -qi "sanitizer\|abort" <<<"$out"; then
    fail "truncated shard: exit $rc, output: $out"
  fi
fi
out=$("$bin" convert "$work" "$work/x.gguf" 2>&1)
if [ $? -eq 0 ] || ! grep -q "no config.json" <<<"$out"; then fail "convert of a non-folder: $out"; fi

if [ $failures -gt 0 ]; then
  echo "$failures failure(s)"
  exit 1
fi
echo "convert: all checks passed"

#!/usr/bin/env bash
# autarky's deepseek2 forward (MLA + MoE) against the independent float64 PyTorch reference
# (tests/reference/deepseek_forward.py) on random-weight models in V2-Lite style (attn_q,
# softmax routing) and V3 style (q_lora, sigmoid + exp_probs_b, expert groups, normalized and
# scaled weights, YaRN with mscale; also with attn_kv_b split into attn_k_b/attn_v_b as newer
# converters write it), in absorbed and naive attention, with 1 and 2 threads, on
# prompts of 1, 7, 33 and 100 tokens. $1: the autarky binary. Exit 77 (skip) without python3 +
# torch + numpy. KEEP_WORK=1 keeps the temporary files.
#
# Checks:
#  1. F32 KV cache: max|autarky - reference| <= kF32Tol * max|reference logit|.
#  2. F16 KV cache (the default) against the reference with its compressed KV rounded to F16.
#  3. Logits identical (byte for byte) with -t 1 / -t 2 and --batch-size 1 / 3 / 100, in both
#     attention modes.
#  4. The split attn_k_b/attn_v_b file gives the attn_kv_b file's logits byte for byte.
#
# Tolerances (relative to max|reference logit|; models have L = 3 layers, rows k <= 128):
#  F32: unit roundoff u = 2^-24 = 6e-8. A logit depends on M <= 12 L + 1 = 37 matmuls in
#    sequence (q or q_a/q_b, kv_a, the W_UK absorption or kv_b expansion, W_UV, o, router,
#    expert gate/up/down, shared gate/up/down, output), each a dot of length k <= 128: about
#    sqrt(k) u = 7e-7 relative each, sqrt(M) * 7e-7 = 4e-6 typically, M k u = 3e-4 at the
#    very worst. kF32Tol = 1e-4 (the llama reference's figure) is 25x the typical error; the
#    measured error is about 1e-6. A routing decision flipped by rounding would exceed it by
#    far; the reference prints the smallest top-k margin it saw (about 1e-3 here, against
#    errors of 1e-6), so that cannot happen by chance.
#  F16 KV: the cached latent and rope key are rounded to F16 (u16 = 2^-11): a uniform relative
#    error of std u16 / sqrt(3) per element, entering twice per layer (scores and values both
#    come from the latent), so as for the llama reference sigma = 2^-11 / sqrt(3) * sqrt(2L)
#    and kF16KvTol = 3 sigma + kF32Tol (2.2e-3 for L = 3). The reference rounds its compressed
#    KV to F16 too, which cancels most of it: what remains are elements whose float32 and
#    float64 values round to neighbouring F16 values (measured 1e-5..1.1e-4), so the check is
#    far tighter in practice than the bound says.
set -uo pipefail
bin=$1
here=$(cd "$(dirname "$0")" && pwd)
reference=$here/../reference

# python3 with torch and numpy, or skip.
source "$here/lib/torch_python.sh"

work=$(mktemp -d)
if [ "${KEEP_WORK:-0}" = 1 ]; then
  echo "work files in $work"
else
  trap 'rm -rf "$work"' EXIT
fi
manifest=$work/manifest
failures=0
fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}

kF32Tol=1e-4
kF16KvTol=$("$python" -c "import math; print(3 * 2**-11 / math.sqrt(3) * math.sqrt(2 * 3) + 1e-4)")

prompt() {  # prompt LENGTH VOCAB SEED
  "$python" -c "import random; r = random.Random($3); print(','.join(str(r.randrange($2)) for _ in range($1)))"
}

# run_autarky MODEL IDS OUT MODE [extra flags...]   (MODE: absorbed | naive)
run_autarky() {
  local model=$1 ids=$2 out=$3 mode=$4
  shift 4
  if ! AUTARKY_MLA=$mode "$bin" run -m "$model" --prompt-tokens "$ids" -n 0 --logits-out "$out" \
    "$@" >"$work/run.log" 2>&1; then
    fail "AUTARKY_MLA=$mode autarky run -m $(basename "$model") $*: $(tail -n 3 "$work/run.log")"
  fi
}

# name | random-model flags
models=(
  "v2lite-style|--arch deepseek2 --preset tiny --seed 3"
  "v3-style|--preset tiny-v3 --seed 5"
  "v3-style-12-heads-f16|--preset tiny-v3 --heads 12 --dim 96 --type F16 --seed 9"
  "v2lite-style-tied-bf16|--arch deepseek2 --preset tiny --tied --type BF16 --seed 4"
  "v3-style-split-kv-b|--preset tiny-v3 --seed 5 --split-kv-b"
)
case_index=0
for spec in "${models[@]}"; do
  IFS='|' read -r name flags <<<"$spec"
  model=$work/$name.gguf
  # shellcheck disable=SC2086  # flags are words
  if ! "$bin" random-model "$model" -q $flags >"$work/make.log" 2>&1; then
    fail "random-model $name: $(cat "$work/make.log")"
    continue
  fi
  for length in 1 7 33 100; do
    ids=$(prompt "$length" 512 "$length")
    for mode in absorbed naive; do
      threads=$((length % 2 + 1))  # 1 or 2 threads, alternating over the prompts
      for kv in f32 f16; do
        case_index=$((case_index + 1))
        out=$work/logits-$case_index.f32
        run_autarky "$model" "$ids" "$out" "$mode" --kv-type "$kv" -t "$threads"
        if [ "$kv" = f32 ]; then
          echo "$mode/kv-f32:$name len=$length|$model|-|$kF32Tol|$ids|$out" >>"$manifest"
        else
          echo "$mode/kv-f16:$name len=$length|$model|f16|$kF16KvTol|$ids|$out" >>"$manifest"
        fi
      done
    done
  done
done

if ! "$python" "$reference/deepseek_forward.py" --compare "$manifest"; then
  fail "logits differ from the PyTorch reference beyond the tolerances (see above)"
fi

# Thread count and prompt chunking change nothing, in either attention mode.
for name in v2lite-style v3-style-12-heads-f16; do
  model=$work/$name.gguf
  [ -f "$model" ] || continue
  ids=$(prompt 100 512 99)
  for mode in absorbed naive; do
    run_autarky "$model" "$ids" "$work/inv-ref.f32" "$mode" -t 1 --batch-size 64
    for flags in "-t 2 --batch-size 64" "-t 1 --batch-size 1" "-t 2 --batch-size 3" \
      "-t 2 --batch-size 100"; do
      # shellcheck disable=SC2086
      run_autarky "$model" "$ids" "$work/inv.f32" "$mode" $flags
      if ! cmp -s "$work/inv-ref.f32" "$work/inv.f32"; then
        fail "$name $mode: logits with $flags differ from -t 1 --batch-size 64"
      fi
    done
  done
done

# The split attn_k_b / attn_v_b file holds v3-style's attn_kv_b values: identical logits.
if [ -f "$work/v3-style.gguf" ] && [ -f "$work/v3-style-split-kv-b.gguf" ]; then
  ids=$(prompt 33 512 7)
  for mode in absorbed naive; do
    run_autarky "$work/v3-style.gguf" "$ids" "$work/joined.f32" "$mode" -t 2
    run_autarky "$work/v3-style-split-kv-b.gguf" "$ids" "$work/split.f32" "$mode" -t 2
    if ! cmp -s "$work/joined.f32" "$work/split.f32"; then
      fail "$mode: attn_k_b/attn_v_b logits differ from attn_kv_b's"
    fi
  done
fi

if [ "$failures" -gt 0 ]; then
  echo "$failures check(s) failed"
  exit 1
fi
echo "deepseek_reference e2e: all checks passed"

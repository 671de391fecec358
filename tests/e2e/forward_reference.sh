#!/usr/bin/env bash
# autarky's forward against the independent PyTorch reference (tests/reference/hf_forward.py)
# on random-weight llama / qwen2 / qwen3 models of several shapes, rope scalings and types.
# $1: the autarky binary. Exit 77 (skip) without python3 + torch + numpy, or while `autarky run`
# lacks --prompt-tokens / --logits-out. Set KEEP_WORK=1 to keep the temporary files.
#
# Checks:
#  0. The reference itself reproduces llama.cpp on aidreams260K (check_golden.py; skipped
#     without ../shared). An oracle is only trusted after it has been checked.
#  1. F32 weights (and F16/BF16 weights), F32 KV cache: relative error <= 1e-4 of max|logit|.
#  2. The default F16 KV cache: the tolerance of (1) plus F16 rounding of K and V.
#  3. Quantized weights (autarky quantize --pure) against the reference run on the same weights
#     dequantized by `autarky quantize --allow-requantize Q.gguf DEQ.gguf F32`: tolerance from
#     the 8-bit quantization of activations.
#  4. Logits identical (byte for byte) with -t 1 / -t 2 and --batch-size 1 / 3 / 64.
#
# Tolerances (all relative to max|reference logit| over the sequence, the whole vocabulary and
# every position; models have L = 2 or 3 layers, dims <= 256, activations O(1) by design):
#
#  F32: unit roundoff u = 2^-24 = 6.0e-8. A dot product of length k <= 256 accumulated in F32
#    has relative error about sqrt(k) u = 1e-6 typically, k u = 1.5e-5 at worst; a logit
#    depends on M = 7L + 1 <= 22 matmuls in sequence (q, k, v, o, gate, up, down per layer, and
#    the output), plus exp/rsqrt/silu ulps, so typically sqrt(M) * 1e-6 ~ 5e-6 and below
#    M k u ~ 3e-4 in the worst case. kF32Tol = 1e-4 (the issue's figure) is 20x the typical
#    error. The F32/F16/BF16 x F32 dot kernels keep activations in F32, so the same holds for
#    F16/BF16 weights (the reference reads the same F16/BF16 values, converted exactly).
#
#  F16 KV cache: K and V are rounded to F16 (u16 = 2^-11): a uniform relative rounding error of
#    std u16 / sqrt(3) = 2.8e-4 per element, entering twice per layer (scores through K, the
#    output through V), independent, so the logits' relative error has std
#    sigma = 2.8e-4 * sqrt(2L) (5.6e-4 for L = 2). kF16KvTol = 3 sigma + kF32Tol.
#    (Simulated in the reference by rounding K, V to F16: measured max relative 3.5e-4..5.3e-4
#    for L = 2, dim 256 models.)
#
#  Quantized weights: the reference uses exactly the dequantized weights, so weight rounding
#    cancels; what remains is the activations' quantization to 8 bits before each quantized
#    matmul (Q8_0 blocks of 32 for the legacy types, Q8_K blocks of 256 for the K-quants): each
#    element is rounded to a grid of step amax/127, an error of at most amax/254 and, relative
#    to the dot product of a random row, about 1/127 per dot product (eps; the exact std of
#    the uniform rounding is smaller, 2.5/(127 sqrt(12)) for a Gaussian block, so 1/127 is a
#    bound). Errors of the M = 7L + 1 matmuls add in quadrature: sigma = eps sqrt(7L + 1)
#    (0.031 for L = 2). kQuantTol = 3 sigma. (Simulated in the reference by rounding its Linear
#    inputs the Q8_0/Q8_K way: measured max relative 0.021..0.042 for L = 2, dim 256, 100
#    tokens: SwiGLU's product and the softmax amplify somewhat beyond the independent model,
#    hence 3 sigma rather than 2.)
#    Simulating llama.cpp's exact activation quantization in the reference does not allow a
#    much tighter bound: where float32 and float64 activations fall on different sides of a
#    rounding boundary, one element moves by amax/127, which moves later activations across
#    more boundaries; that simulation run in float32 and in float64 differs by 0.8..1.2% of
#    max|logit|, half the whole effect. The bound stays far below the effect of a kernel bug:
#    quantizing the weights themselves to 4 bits moves these logits by 37..44% (Q2_K: 99%),
#    and a wrong scale, a missing min, a swapped nibble or a wrong block offset is of that
#    order. (Errors as small as 8-bit weight rounding, 2.6%, would go unnoticed.)
set -uo pipefail
bin=$1
here=$(cd "$(dirname "$0")" && pwd)
reference=$here/../reference

# python3 with torch and numpy, or skip.
source "$here/lib/torch_python.sh"

failures=0
fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}

# 0. The oracle first.
shared=${AUTARKY_SHARED_DIR:-$here/../../../shared}
if [ -f "$shared/models/aidreams260K.gguf" ]; then
  if ! "$python" "$reference/check_golden.py" "$shared"; then
    fail "the PyTorch reference disagrees with llama.cpp on aidreams260K; fix it before trusting it"
  fi
else
  echo "note: $shared/models/aidreams260K.gguf is absent; the reference is not re-validated"
fi

run_help=$("$bin" run --help 2>&1)
if ! grep -q -- "--logits-out" <<<"$run_help" || ! grep -q -- "--prompt-tokens" <<<"$run_help"; then
  echo "skip: '$bin run' has no --prompt-tokens/--logits-out yet (reference checked: $failures failures)"
  [ "$failures" -gt 0 ] && exit 1
  exit 77
fi

work=$(mktemp -d)
if [ "${KEEP_WORK:-0}" = 1 ]; then
  echo "work files in $work"
else
  trap 'rm -rf "$work"' EXIT
fi
manifest=$work/manifest

# Tolerances derived above; L is the model's layer count.
kF32Tol=1e-4
f16kv_tol() { "$python" -c "import math; print(3 * 2**-11 / math.sqrt(3) * math.sqrt(2 * $1) + 1e-4)"; }
quant_tol() { "$python" -c "import math; print(3 * (1 / 127) * math.sqrt(7 * $1 + 1))"; }

# Deterministic prompts of lengths 1 (a single position), 7, 33 and 100, ids below the
# vocabulary size.
prompt() {  # prompt LENGTH VOCAB SEED
  "$python" -c "import random; r = random.Random($3); print(','.join(str(r.randrange($2)) for _ in range($1)))"
}

# run_autarky MODEL IDS OUT [extra flags...]
run_autarky() {
  local model=$1 ids=$2 out=$3
  shift 3
  if ! "$bin" run -m "$model" --prompt-tokens "$ids" -n 0 --logits-out "$out" "$@" \
    >"$work/run.log" 2>&1; then
    fail "autarky run -m $(basename "$model") $* exited with an error: $(tail -n 3 "$work/run.log")"
  fi
}

# make_model NAME ARGS... -> $work/NAME.gguf
make_model() {
  local name=$1
  shift
  if ! "$bin" random-model "$work/$name.gguf" -q "$@" >"$work/make.log" 2>&1; then
    fail "random-model $name: $(cat "$work/make.log")"
    return 1
  fi
}

# add_cases LABEL MODEL REF_MODEL LLAMA3 TOL VOCAB [run flags...]: the four prompts.
case_index=0
add_cases() {
  local label=$1 model=$2 ref=$3 llama3=$4 tol=$5 vocab=$6
  shift 6
  local length ids out
  for length in 1 7 33 100; do
    ids=$(prompt "$length" "$vocab" "$length")
    case_index=$((case_index + 1))
    out=$work/logits-$case_index.f32
    run_autarky "$model" "$ids" "$out" "$@"
    echo "$label len=$length|$ref|$llama3|$tol|$ids|$out" >>"$manifest"
  done
}

# ---- 1 and 2: float weights, every architecture and rope scaling ----
# name | layers | random-model flags | vocab | llama3 parameters for the reference
float_models=(
  "llama-mha|2|--arch llama --layers 2 --dim 64 --heads 4 --kv-heads 4 --ffn 160 --vocab 300 --ctx-train 512|300|-"
  "llama-gqa-linear-tied|2|--arch llama --layers 2 --dim 128 --heads 8 --kv-heads 2 --ffn 256 --vocab 512 --rope-scaling linear --rope-factor 2 --tied --ctx-train 1024|512|-"
  "llama-mqa-llama3-wide|3|--arch llama --layers 3 --dim 128 --heads 4 --kv-heads 1 --head-dim 48 --ffn 192 --vocab 400 --rope-scaling llama3 --rope-factor 8 --rope-orig-ctx 256 --ctx-train 2048|400|8,1,4,256"
  "qwen2-yarn|2|--arch qwen2 --layers 2 --dim 128 --heads 4 --kv-heads 2 --ffn 256 --vocab 512 --rope-scaling yarn --rope-factor 4 --rope-orig-ctx 256 --ctx-train 1024 --rope-base 1000000|512|-"
  "qwen2-tied|2|--arch qwen2 --preset tiny --tied|512|-"
  "qwen3-gqa|2|--arch qwen3 --preset tiny|512|-"
  "qwen3-linear-tied|2|--arch qwen3 --layers 2 --dim 96 --heads 6 --kv-heads 3 --head-dim 24 --ffn 200 --vocab 350 --rope-scaling linear --rope-factor 4 --tied|350|-"
  "qwen2-f16|2|--arch qwen2 --preset tiny --type F16|512|-"
  "llama-bf16|2|--arch llama --preset tiny --type BF16|512|-"
)
for spec in "${float_models[@]}"; do
  IFS='|' read -r name layers flags vocab llama3 <<<"$spec"
  # shellcheck disable=SC2086  # flags are words
  make_model "$name" $flags --seed 7 || continue
  model=$work/$name.gguf
  add_cases "f32-kv:$name" "$model" "$model" "$llama3" "$kF32Tol" "$vocab" --kv-type f32
  add_cases "f16-kv:$name" "$model" "$model" "$llama3" "$(f16kv_tol "$layers")" "$vocab" \
    --kv-type f16
done

# ---- 3: quantized weights (row lengths multiples of 256 for the K-quants) ----
for arch in llama qwen2 qwen3; do
  base=quant-$arch
  make_model "$base" --arch "$arch" --layers 2 --dim 256 --heads 4 --kv-heads 2 --ffn 512 \
    --vocab 512 --seed 11 || continue
  for type in Q8_0 Q4_0 Q4_1 Q5_0 Q5_1 IQ4_NL Q4_K Q5_K Q6_K Q3_K Q2_K IQ4_XS; do
    q=$work/$base-$type.gguf
    deq=$work/$base-$type-deq.gguf
    if ! "$bin" quantize -q --pure "$work/$base.gguf" "$q" "$type" >"$work/q.log" 2>&1; then
      fail "quantize --pure $arch $type: $(tail -n 2 "$work/q.log")"
      continue
    fi
    if ! "$bin" quantize -q --allow-requantize "$q" "$deq" F32 >"$work/q.log" 2>&1; then
      fail "dequantize $arch $type to F32: $(tail -n 2 "$work/q.log")"
      continue
    fi
    add_cases "quant:$arch-$type" "$q" "$deq" - "$(quant_tol 2)" 512 --kv-type f32
  done
done

if ! "$python" "$reference/compare_logits.py" "$manifest"; then
  fail "logits differ from the PyTorch reference beyond the tolerances (see above)"
fi

# ---- 4: thread count and prompt chunking change nothing ----
for model in "$work/llama-mqa-llama3-wide.gguf" "$work/qwen2-yarn.gguf" "$work/qwen3-gqa.gguf" \
  "$work/quant-qwen2-Q4_K.gguf" "$work/quant-llama-Q8_0.gguf"; do
  [ -f "$model" ] || continue
  ids=$(prompt 100 300 99)
  run_autarky "$model" "$ids" "$work/inv-ref.f32" -t 1 --batch-size 64
  for flags in "-t 2 --batch-size 64" "-t 1 --batch-size 1" "-t 2 --batch-size 3" "-t 2 --batch-size 100"; do
    # shellcheck disable=SC2086
    run_autarky "$model" "$ids" "$work/inv.f32" $flags
    if ! cmp -s "$work/inv-ref.f32" "$work/inv.f32"; then
      fail "$(basename "$model"): logits with $flags differ from -t 1 --batch-size 64 ($(cmp "$work/inv-ref.f32" "$work/inv.f32" | head -n 1))"
    fi
  done
done

if [ "$failures" -gt 0 ]; then
  echo "$failures check(s) failed"
  exit 1
fi
echo "forward_reference e2e: all checks passed"

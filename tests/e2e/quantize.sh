#!/usr/bin/env bash
# End-to-end checks of `autarky quantize` against files written by llama.cpp's llama-quantize.
# $1: the autarky binary. Exit 77 (skip) without ../shared.
set -uo pipefail
bin=$1
shared=${AUTARKY_SHARED_DIR:-}
fixtures=$shared/golden/quant
if [ -z "$shared" ] || [ ! -f "$fixtures/fixture-f32.gguf" ]; then
  echo "skip: ../shared/golden/quant is absent"
  exit 77
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# 1. With --pure, our file must equal llama-quantize's byte for byte: same metadata order and
#    keys, tensor order, and bit-exact quantized data, for every type we can produce.
#    (The K-quant fixtures were made with the _S mixes, whose file_type they carry.)
for mix in F16 BF16 Q8_0 Q4_0 Q4_1 Q5_0 Q5_1 IQ4_NL Q2_K Q3_K_S Q4_K_S Q5_K_S Q6_K IQ4_XS; do
  type=${mix%_S}
  out=$work/$mix.gguf
  if ! "$bin" quantize -q --pure "$fixtures/fixture-f32.gguf" "$out" "$mix" >"$work/log" 2>&1; then
    fail "quantize --pure $mix exited with an error: $(tail -n 2 "$work/log")"
  elif ! cmp -s "$out" "$fixtures/fixture-$type.gguf"; then
    fail "$mix differs from llama-quantize's fixture-$type.gguf: $(cmp "$out" "$fixtures/fixture-$type.gguf")"
  fi
done

# 2. Refusals: clear message, exit code 1, nothing written.
expect_error() {  # expect_error "message part" args...
  local want=$1
  shift
  if "$bin" quantize -q "$@" >"$work/out" 2>"$work/err"; then
    fail "quantize $* succeeded, expected an error mentioning '$want'"
  elif ! grep -qF -- "$want" "$work/err"; then
    fail "quantize $*: error does not mention '$want': $(cat "$work/err")"
  fi
}
expect_error "cannot produce type 'IQ2_XXS'" "$fixtures/fixture-f32.gguf" "$work/x.gguf" IQ2_XXS
expect_error "--allow-requantize" "$fixtures/fixture-Q4_0.gguf" "$work/x.gguf" Q8_0
expect_error "not a type autarky can produce" --output-tensor-type Q8_K \
  "$fixtures/fixture-f32.gguf" "$work/x.gguf" Q4_0
expect_error "is the input file" "$fixtures/fixture-f32.gguf" "$fixtures/fixture-f32.gguf" Q8_0
[ -e "$work/x.gguf" ] && fail "a refused quantization left $work/x.gguf behind"

# 3. A truncated input is an error and does not destroy an existing output.
head -c 5000 "$fixtures/fixture-f32.gguf" >"$work/truncated.gguf"
echo "precious" >"$work/existing.gguf"
expect_error "truncated.gguf" "$work/truncated.gguf" "$work/existing.gguf" Q8_0
[ "$(cat "$work/existing.gguf")" = "precious" ] || fail "a failed quantization replaced an existing output"
ls "$work" | grep -q '\.tmp' && fail "a failed quantization left a temporary file: $(ls "$work")"

# 4. --dry-run writes nothing; requantizing works when allowed.
"$bin" quantize -q --dry-run "$fixtures/fixture-f32.gguf" "$work/dry.gguf" Q4_K_M >/dev/null 2>&1 ||
  fail "--dry-run failed"
[ -e "$work/dry.gguf" ] && fail "--dry-run wrote a file"
"$bin" quantize -q --allow-requantize "$fixtures/fixture-Q8_0.gguf" "$work/re.gguf" Q4_0 \
  >/dev/null 2>&1 || fail "--allow-requantize Q8_0 -> Q4_0 failed"

if [ "$failures" -gt 0 ]; then
  echo "$failures check(s) failed"
  exit 1
fi
echo "quantize e2e: all checks passed"

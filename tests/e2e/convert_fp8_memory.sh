#!/usr/bin/env bash
# Peak memory of FP8 folders: a 270 MB FP8 E4M3 llama folder (6 layers of 2048 x 5632, 128x128
# block scales) is 540 MB once decoded to BF16. `convert` and `convert --type Q8_0` decode one
# tensor at a time (HfTensorLoad::kLazy) and hand the FP8 pages back after decoding, so their
# peak RSS (/usr/bin/time -v) must stay near one tensor: under kBaseMiB for the process (binary,
# libraries, thread stacks, the quantizer's 16 MiB F32 chunk and its output) plus 3 decoded
# copies of the largest tensor (the scratch, a permuted Q's pre-permutation copy, slack), far
# below the 540 MB that materializing the folder holds (`run -m DIR`, printed for contrast).
# $1: the autarky binary. Exit 77 (skip) without python3 + numpy + torch or /usr/bin/time.
set -uo pipefail
bin=$1
here=$(cd "$(dirname "$0")" && pwd)
reference=$here/../reference
source "$here/lib/torch_python.sh"
if [ ! -x /usr/bin/time ]; then
  echo "skip: /usr/bin/time (GNU time) is missing"
  exit 77
fi
work=$(mktemp -d)
if [ "${KEEP_WORK:-0}" = 1 ]; then echo "work files in $work"; else trap 'rm -rf "$work"' EXIT; fi
failures=0
fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}
kBaseMiB=96

dir=$work/fp8
largest=$("$python" - "$reference" "$dir" <<'PY'
import json, os, sys
import numpy as np
sys.path.insert(0, sys.argv[1])
import hf_folder
out = sys.argv[2]
os.makedirs(out)
n_layer, dim, ffn, heads, kv_heads, vocab = 6, 2048, 5632, 16, 4, 1000
head_dim = dim // heads
rng = np.random.default_rng(7)
tok, eos = hf_folder.tokenizer_json(vocab)
config = {"architectures": ["LlamaForCausalLM"], "vocab_size": vocab, "hidden_size": dim,
          "intermediate_size": ffn, "num_hidden_layers": n_layer, "num_attention_heads": heads,
          "num_key_value_heads": kv_heads, "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
          "max_position_embeddings": 256, "tie_word_embeddings": False, "torch_dtype": "float8",
          "bos_token_id": eos, "eos_token_id": eos}
json.dump(config, open(os.path.join(out, "config.json"), "w"))
json.dump(tok, open(os.path.join(out, "tokenizer.json"), "w"))
entries, largest = [], 0
def fp8(name, rows, cols):
    global largest
    codes = rng.integers(0, 256, size=(rows, cols), dtype=np.uint8)
    codes[(codes & 0x7F) == 0x7F] ^= 1  # no NaN codes
    scale = np.full(((rows + 127) // 128, (cols + 127) // 128), 2.0 ** -8, dtype="<f4")
    entries.append((name, "F8_E4M3", (rows, cols), codes.tobytes()))
    entries.append((name + "_scale_inv", "F32", scale.shape, scale.tobytes()))
    largest = max(largest, 2 * rows * cols)
def bf16(name, shape):
    a = (rng.standard_normal(shape) * 0.02).astype("<f4")
    entries.append((name, "BF16", shape, hf_folder.to_bf16_bits(a).tobytes()))
def ones(name, n):
    entries.append((name, "F32", (n,), np.ones(n, "<f4").tobytes()))
bf16("model.embed_tokens.weight", (vocab, dim))
for i in range(n_layer):
    p = f"model.layers.{i}."
    ones(p + "input_layernorm.weight", dim)
    ones(p + "post_attention_layernorm.weight", dim)
    fp8(p + "self_attn.q_proj.weight", dim, dim)
    fp8(p + "self_attn.k_proj.weight", kv_heads * head_dim, dim)
    fp8(p + "self_attn.v_proj.weight", kv_heads * head_dim, dim)
    fp8(p + "self_attn.o_proj.weight", dim, dim)
    fp8(p + "mlp.gate_proj.weight", ffn, dim)
    fp8(p + "mlp.up_proj.weight", ffn, dim)
    fp8(p + "mlp.down_proj.weight", dim, ffn)
ones("model.norm.weight", dim)
bf16("lm_head.weight", (vocab, dim))
hf_folder.write_safetensors(os.path.join(out, "model.safetensors"), entries)
print(largest)
PY
) || { echo "FAIL: writing the FP8 folder"; exit 1; }
folder_mib=$(($(stat -c %s "$dir/model.safetensors") >> 20))
largest_mib=$((largest >> 20))
bound_mib=$((kBaseMiB + 3 * largest_mib))
echo "FP8 folder: $folder_mib MiB (about $((2 * folder_mib)) MiB as BF16); largest tensor" \
  "decoded: $largest_mib MiB; bound: $bound_mib MiB"
# A sanitizer build's resident set is not the program's own (ASan keeps freed blocks in a
# quarantine of 256 MiB and maps shadow memory; TSan shadows every byte): there the peaks are
# reported, not bounded, and the logits are still compared.
linked=$(ldd "$bin" 2>/dev/null)  # (not piped into grep -q: with pipefail, SIGPIPE fails it)
if grep -q -E 'lib(asan|tsan|ubsan)' <<<"$linked"; then
  echo "sanitizer build: peak RSS reported, not bounded"
  bound_mib=0
fi

# Peak RSS in MiB of a command; its output goes to $work/log.
peak_mib() {
  /usr/bin/time -v "$@" >"$work/log" 2>&1 || return 1
  awk -F: '/Maximum resident set size/ {print int($2 / 1024)}' "$work/log"
}
check() {  # name, bound (MiB, or 0: report only), command...
  local name=$1 bound=$2 rss
  shift 2
  if ! rss=$(peak_mib "$@"); then
    fail "$name: $(grep -v '^\s' "$work/log" | tail -n 3)"
    return
  fi
  if [ "$bound" -gt 0 ] && [ "$rss" -gt "$bound" ]; then
    fail "$name: peak RSS $rss MiB exceeds $bound MiB"
  else
    echo "ok   $name: peak RSS $rss MiB"
  fi
}
check "info DIR" "$bound_mib" "$bin" info "$dir"
check "convert DIR" "$bound_mib" "$bin" convert -q "$dir" "$work/bf16.gguf"
check "convert DIR --type Q8_0" "$bound_mib" "$bin" convert -q -t 2 "$dir" "$work/q8.gguf" \
  --type Q8_0
# --quantize keeps the quantized model (Q8_0: about 290 MiB) but decodes one tensor at a time.
check "run -m DIR --quantize Q8_0 (report only)" 0 "$bin" run -m "$dir" --quantize Q8_0 \
  --prompt-tokens 1,2,3 -n 0 -t 2
check "run -m DIR, materialized (report only)" 0 "$bin" run -m "$dir" --prompt-tokens 1,2,3 \
  -n 0 -t 2
# The converted file holds what the folder decodes to: same logits, bit for bit.
"$bin" run -m "$dir" --prompt-tokens 1,2,3 -n 0 -t 2 --kv-type f32 \
  --logits-out "$work/folder.f32" >"$work/log" 2>&1 || fail "run -m DIR: $(tail -n 3 "$work/log")"
"$bin" run -m "$work/bf16.gguf" --prompt-tokens 1,2,3 -n 0 -t 2 --kv-type f32 \
  --logits-out "$work/conv.f32" >"$work/log" 2>&1 || fail "run converted: $(tail -n 3 "$work/log")"
cmp -s "$work/folder.f32" "$work/conv.f32" || fail "converted GGUF logits differ from the folder's"
[ -s "$work/folder.f32" ] || fail "no logits"

if [ "$failures" -gt 0 ]; then
  echo "$failures failure(s)"
  exit 1
fi
echo "all FP8 memory checks passed"

#!/usr/bin/env bash
# End-to-end checks of `autarky run`, `bench` and `perplexity` on the real trained model in
# ../shared: greedy text and ids equal llama.cpp's golden run, --json/--prompt-tokens/
# --logits-out/--top-logprobs have the documented shapes, the same seed gives the same tokens
# with 1 or 2 threads, and bad input (missing file, bad ids, a full context, bad flags) gives
# one clear error. $1: the autarky binary. Exit 77 (skip) without ../shared.
set -uo pipefail
bin=$1
shared=${AUTARKY_SHARED_DIR:-}
model=$shared/models/aidreams260K.gguf
if [ -z "$shared" ] || [ ! -f "$model" ]; then
  echo "skip: ../shared/models/aidreams260K.gguf is absent"
  exit 77
fi
python=/usr/bin/python3
[ -x "$python" ] || python=python3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# 1. Greedy completion of every golden prompt: ids and text as llama.cpp produced them.
for golden in "$shared"/golden/aidreams260K-greedy-*.json; do
  prompt=$("$python" -c 'import json,sys; print(json.load(open(sys.argv[1]))["prompt"], end="")' "$golden")
  "$bin" run -m "$model" -p "$prompt" -n 64 --temp 0 --json -t 2 >"$work/out.json" 2>"$work/err" ||
    fail "run on $(basename "$golden"): $(cat "$work/err")"
  "$python" - "$golden" "$work/out.json" <<'EOF' || fail "greedy run differs from $(basename "$golden")"
import json, sys
want = json.load(open(sys.argv[1])); got = json.load(open(sys.argv[2]))
assert got["prompt_tokens"] == want["prompt_tokens"], (got["prompt_tokens"], want["prompt_tokens"])
assert got["tokens"] == want["generated_tokens"], (got["tokens"], want["generated_tokens"])
assert got["text"] == want["generated_text"], (got["text"], want["generated_text"])
assert got["stop_reason"] == "length"
EOF
done

# 2. Streaming text output equals the JSON text; timing summary on stderr.
"$bin" run -m "$model" -p "Once upon a time" -n 40 --temp 0 >"$work/stream.txt" 2>"$work/err" || fail "plain run"
grep -q "tokens/s" "$work/err" || fail "no timing summary on stderr"
"$bin" run -m "$model" -p "Once upon a time" -n 40 --temp 0 --json 2>/dev/null >"$work/j.json"
"$python" - "$work/stream.txt" "$work/j.json" <<'EOF' || fail "streamed text differs from --json text"
import json, sys
text = open(sys.argv[1], encoding="utf-8").read()
assert text == json.load(open(sys.argv[2]))["text"] + "\n", (text,)
EOF

# 3. --prompt-tokens, --top-logprobs, --all-logits and --logits-out shapes; the logits file
#    agrees with the top logits of the JSON.
"$bin" run -m "$model" --prompt-tokens 1,429,491 -n 5 --temp 0 --json --top-logprobs 3 \
  --all-logits --logits-out "$work/logits.f32" >"$work/t.json" 2>"$work/err" || fail "prompt-tokens run: $(cat "$work/err")"
"$python" - "$work/t.json" "$work/logits.f32" <<'EOF' || fail "--json logits shapes"
import json, struct, sys
j = json.load(open(sys.argv[1]))
assert j["prompt_tokens"] == [1, 429, 491]
assert len(j["tokens"]) == 5 and len(j["top_logits"]) == 5
assert all(len(t) == 3 for t in j["top_logits"])
assert len(j["prompt_top_logits"]) == 3
# Greedy: each generated token is the top of the distribution it was drawn from.
assert [t[0][0] for t in j["top_logits"]] == j["tokens"]
raw = open(sys.argv[2], "rb").read()
n_vocab = 512
rows = len(raw) // (4 * n_vocab)
assert len(raw) == rows * 4 * n_vocab and rows == 3 + 4, rows  # prompt + 4 fed back
vals = struct.unpack("<%df" % (rows * n_vocab), raw)
for r in range(rows):
    row = vals[r * n_vocab:(r + 1) * n_vocab]
    top = j["prompt_top_logits"][r] if r < 3 else j["top_logits"][r - 2]
    best = max(range(n_vocab), key=lambda i: row[i])
    assert best == top[0][0] and abs(row[best] - top[0][1]) < 1e-6, (r, best, top[0])
EOF

# 4. Same seed and settings: same tokens with 1 and 2 threads; another seed differs.
for t in 1 2; do
  "$bin" run -m "$model" -p "Once upon a time" -n 48 --temp 0.9 --top-k 40 --top-p 0.95 \
    --seed 1234 -t $t --json 2>/dev/null | "$python" -c 'import json,sys; print(json.load(sys.stdin)["tokens"])' >"$work/seed$t"
done
"$bin" run -m "$model" -p "Once upon a time" -n 48 --temp 0.9 --seed 99 --json 2>/dev/null |
  "$python" -c 'import json,sys; print(json.load(sys.stdin)["tokens"])' >"$work/seed99"
cmp -s "$work/seed1" "$work/seed2" || fail "same seed, different tokens with 1 and 2 threads"
cmp -s "$work/seed1" "$work/seed99" && fail "different seeds gave identical samples"

# 5. Errors: one clear line, exit code 1, never a crash.
expect_error() {  # expect_error PATTERN ARGS...
  local pattern=$1; shift
  "$bin" "$@" >"$work/o" 2>"$work/e"
  local rc=$?
  if [ $rc -ne 1 ] && [ $rc -ne 105 ] && [ $rc -ne 106 ] && [ $rc -ne 109 ]; then
    fail "'$*' exited $rc: $(cat "$work/e")"
  elif ! grep -qi -- "$pattern" "$work/e"; then
    fail "'$*': expected '$pattern' in: $(cat "$work/e")"
  fi
}
expect_error "cannot open\|no such" run -m "$work/missing.gguf" -p hi
expect_error "outside the vocabulary" run -m "$model" --prompt-tokens 1,999999 -n 1
expect_error "not a token id" run -m "$model" --prompt-tokens 1,x -n 1
expect_error "exactly one of" run -m "$model" -p hi --prompt-tokens 1,2 -n 1
# Without a prompt, run is the chat, which needs a template this model lacks.
expect_error "no chat template" run -m "$model" -n 1
expect_error "context full" run -m "$model" --prompt-tokens "$(seq -s, 1 200)" -n 1
expect_error "temperature\|temp" run -m "$model" -p hi --temp nan
head -c 1000 "$model" >"$work/truncated.gguf"
expect_error "truncated.gguf" run -m "$work/truncated.gguf" -p hi
# A full context during generation ends it with a note, not an error.
"$bin" run -m "$model" -p "Once upon a time" -n 500 --temp 0 --ignore-eos --json 2>"$work/e" >"$work/full.json" ||
  fail "generation into a full context failed"
"$python" -c 'import json,sys; j=json.load(open(sys.argv[1])); assert j["stop_reason"]=="context_full", j["stop_reason"]' "$work/full.json" ||
  fail "context_full stop reason"
"$bin" run -m "$model" -p "Once upon a time" -n 400 --temp 0 --ignore-eos --context-shift --json 2>/dev/null >"$work/shift.json" ||
  fail "--context-shift run failed"
"$python" -c 'import json,sys; j=json.load(open(sys.argv[1])); assert len(j["tokens"])==400 and j["timings"]["context_shifts"]>0, j["timings"]' "$work/shift.json" ||
  fail "--context-shift did not keep generating"

# 6. bench --json shape; perplexity on a text prints the final estimate.
"$bin" bench -m "$model" -p 32 -n 8 -r 2 --json >"$work/b.json" 2>"$work/err" || fail "bench: $(cat "$work/err")"
"$python" - "$work/b.json" <<'EOF' || fail "bench --json shape"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["pp"]["tokens"] == 32 and j["tg"]["tokens"] == 8
for k in ("pp", "tg"):
    assert j[k]["tokens_per_s"] > 0 and j[k]["stddev"] >= 0 and len(j[k]["samples"]) == 2
EOF
"$python" -c 'print("Once upon a time, in a quiet town, a small robot learned to read the stars. " * 40)' >"$work/text.txt"
"$bin" perplexity -m "$model" -f "$work/text.txt" --ctx 64 >"$work/ppl" 2>"$work/err" || fail "perplexity: $(cat "$work/err")"
grep -q "Final estimate: PPL = [0-9]" "$work/ppl" || fail "perplexity output: $(cat "$work/ppl")"
echo "too short" >"$work/short.txt"
expect_error "at least one chunk" perplexity -m "$model" -f "$work/short.txt" --ctx 64

if [ $failures -ne 0 ]; then
  echo "$failures failure(s)"
  exit 1
fi
echo "run/bench/perplexity e2e: all checks passed"

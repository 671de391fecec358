#!/usr/bin/env bash
# End-to-end checks of `autarky template`: its output is byte-identical to the reference
# renderer (Python's jinja2 as transformers configures it, tests/reference/templates/render.py)
# for shared templates given with --chat-template and for templates read from GGUF files with
# -m (tokenizer.chat_template, BOS/EOS token strings, named templates); template errors and bad
# input give one error line and exit code 1. $1: the autarky binary. Exit 77 (skip) without
# ../shared or python3-jinja2.
set -uo pipefail
bin=$1
shared=${AUTARKY_SHARED_DIR:-}
root=$(cd "$(dirname "$0")/../.." && pwd)
ref=$root/tests/reference/templates
templates=$shared/golden/templates
if [ -z "$shared" ] || [ ! -d "$templates" ]; then
  echo "skip: ../shared/golden/templates is absent"
  exit 77
fi
python=/usr/bin/python3
[ -x "$python" ] || python=python3
if ! "$python" -c 'import jinja2' 2>/dev/null; then
  echo "skip: python3-jinja2 is missing (scripts/install-deps installs it)"
  exit 77
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
now=1721995200

# compare NAME AUTARKY_ARGS... -- RENDER_ARGS...: identical bytes, or both fail (where jinja2
# raises, autarky must report an error too).
compare() {
  local name=$1
  shift
  local ours=() theirs=() our_code their_code
  while [ "$1" != "--" ]; do ours+=("$1"); shift; done
  shift
  theirs=("$@")
  "$bin" template "${ours[@]}" >"$work/ours" 2>"$work/our_err"
  our_code=$?
  "$python" "$ref/render.py" "${theirs[@]}" >"$work/theirs" 2>"$work/their_err"
  their_code=$?
  checks=$((checks + 1))
  if [ "$their_code" -ne 0 ] && [ "$our_code" -ne 0 ]; then
    both_raised=$((both_raised + 1))
  elif [ "$their_code" -ne 0 ]; then
    fail "$name: jinja2 raised ($(cat "$work/their_err")) but autarky rendered"
  elif [ "$our_code" -ne 0 ]; then
    fail "$name: autarky failed ($(cat "$work/our_err")) but jinja2 rendered"
  elif ! cmp -s "$work/ours" "$work/theirs"; then
    fail "$name: output differs from jinja2 ($(cmp "$work/ours" "$work/theirs" 2>&1))"
  fi
}
checks=0
both_raised=0

conv=$ref/conversations
# 1. Shared templates through --chat-template, with and without the generation prompt.
for t in Qwen-Qwen2.5-7B-Instruct deepseek-ai-DeepSeek-R1-Distill-Qwen-32B \
    meta-llama-Llama-3.2-3B-Instruct npm-qwen3 mistralai-Mistral-Nemo-Instruct-2407; do
  for c in system_multi_turn tool_calls parallel_tool_calls reasoning_content think_in_content; do
    for gen in "" --add-generation-prompt; do
      compare "$t x $c $gen" --chat-template "$templates/$t.jinja" --messages "$conv/$c.json" \
        --bos "<s>" --eos "</s>" --now $now $gen -- \
        --template "$templates/$t.jinja" --messages "$conv/$c.json" --bos "<s>" --eos "</s>" \
        --now $now $gen
    done
  done
done
# Tools from their own file and extra variables.
"$python" -c 'import json, sys; print(json.dumps(json.load(open(sys.argv[1]))["tools"]))' \
  "$conv/tool_calls.json" >"$work/tools.json"
"$python" -c 'import json, sys; print(json.dumps(json.load(open(sys.argv[1]))["messages"]))' \
  "$conv/multi_turn.json" >"$work/messages.json"
compare "qwen3 --tools --context" --chat-template "$templates/npm-qwen3.jinja" \
  --messages "$work/messages.json" --tools "$work/tools.json" --add-generation-prompt \
  --context '{"enable_thinking": false}' -- \
  --template "$templates/npm-qwen3.jinja" --messages "$work/messages.json" \
  --tools "$work/tools.json" --add-generation-prompt --context '{"enable_thinking": false}'

# 2. Templates and special tokens from GGUF files (-m): a GGUF written here (independent
#    writer, stdlib only) with a default and a named template, and phi-3.gguf from ../shared.
cat >"$work/gguf.py" <<'PY'
import struct, sys

def write(path, metadata):
    """A GGUF v3 file with metadata only: strings, u32 values and string arrays."""
    def s(text):
        b = text.encode("utf-8")
        return struct.pack("<Q", len(b)) + b
    out = b"GGUF" + struct.pack("<IQQ", 3, 0, len(metadata))
    for key, value in metadata:
        out += s(key)
        if isinstance(value, str):
            out += struct.pack("<I", 8) + s(value)
        elif isinstance(value, int):
            out += struct.pack("<II", 4, value)
        else:
            out += struct.pack("<IIQ", 9, 8, len(value)) + b"".join(s(v) for v in value)
    open(path, "wb").write(out)

def read(path):
    """Key -> value for string, integer and string-array metadata of a GGUF file."""
    f = open(path, "rb")
    def rd(fmt):
        return struct.unpack("<" + fmt, f.read(struct.calcsize(fmt)))
    def rstr():
        (n,) = rd("Q")
        return f.read(n).decode("utf-8")
    sizes = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "B", 10: "Q", 11: "q",
             12: "d"}
    def value(t):
        if t == 8:
            return rstr()
        if t == 9:
            (et,) = rd("I"); (n,) = rd("Q")
            return [value(et) for _ in range(n)]
        return rd(sizes[t])[0]
    assert f.read(4) == b"GGUF"
    rd("I"); _, n_kv = rd("QQ")
    kv = {}
    for _ in range(n_kv):
        k = rstr(); (t,) = rd("I"); kv[k] = value(t)
    return kv

if sys.argv[1] == "write":
    tokens = ["<unk>", "<|begin|>", "<|end|>", "hello"]
    write(sys.argv[2], [
        ("general.architecture", "llama"),
        ("tokenizer.ggml.model", "gpt2"),
        ("tokenizer.ggml.tokens", tokens),
        ("tokenizer.ggml.bos_token_id", 1),
        ("tokenizer.ggml.eos_token_id", 2),
        ("tokenizer.chat_template", open(sys.argv[3]).read()),
        ("tokenizer.chat_template.tool_use", open(sys.argv[4]).read()),
    ])
else:  # extract FILE TEMPLATE_OUT: the template, then "bos eos" on stdout
    kv = read(sys.argv[2])
    open(sys.argv[3], "w").write(kv["tokenizer.chat_template"])
    tokens = kv["tokenizer.ggml.tokens"]
    sys.stdout.write(tokens[kv["tokenizer.ggml.bos_token_id"]] + "\n" +
                     tokens[kv["tokenizer.ggml.eos_token_id"]] + "\n")
PY
"$python" "$work/gguf.py" write "$work/model.gguf" \
  "$templates/meta-llama-Llama-3.1-8B-Instruct.jinja" \
  "$templates/NousResearch-Hermes-3-Llama-3.1-8B-tool_use.jinja"
compare "-m written.gguf" -m "$work/model.gguf" --messages "$conv/system_user.json" \
  --add-generation-prompt -- --template "$templates/meta-llama-Llama-3.1-8B-Instruct.jinja" \
  --messages "$conv/system_user.json" --add-generation-prompt --bos "<|begin|>" --eos "<|end|>"
compare "-m written.gguf --template-name tool_use" -m "$work/model.gguf" --template-name tool_use \
  --messages "$conv/tool_calls.json" -- \
  --template "$templates/NousResearch-Hermes-3-Llama-3.1-8B-tool_use.jinja" \
  --messages "$conv/tool_calls.json" --bos "<|begin|>" --eos "<|end|>"
phi=$shared/golden/tokenizer/phi-3.gguf
if [ -f "$phi" ]; then
  mapfile -t special < <("$python" "$work/gguf.py" extract "$phi" "$work/phi.jinja")
  compare "-m phi-3.gguf" -m "$phi" --messages "$conv/multi_turn.json" -- \
    --template "$work/phi.jinja" --messages "$conv/multi_turn.json" \
    --bos "${special[0]}" --eos "${special[1]}"
  # --chat-template overrides the model's template; the tokens still come from the model.
  compare "-m phi-3.gguf --chat-template" -m "$phi" \
    --chat-template "$templates/Qwen-Qwen2.5-7B-Instruct.jinja" \
    --messages "$conv/single_user.json" \
    -- --template "$templates/Qwen-Qwen2.5-7B-Instruct.jinja" --messages "$conv/single_user.json" \
    --bos "${special[0]}" --eos "${special[1]}"
fi

# 3. Errors: one line on stderr, exit code 1, nothing on stdout.
expect_error() {  # expect_error "message part" ARGS...
  local want=$1 code
  shift
  "$bin" template "$@" >"$work/out" 2>"$work/err"
  code=$?
  if [ "$code" -ne 1 ]; then
    fail "template $*: exit code $code, expected 1 ($(cat "$work/err"))"
  elif ! grep -qF -- "$want" "$work/err"; then
    fail "template $*: error does not mention '$want': $(cat "$work/err")"
  elif [ -s "$work/out" ]; then
    fail "template $*: wrote to stdout on error"
  elif [ "$(wc -l <"$work/err")" -ne 1 ]; then
    fail "template $*: error is not one line: $(cat "$work/err")"
  fi
}
# The error points at the raise_exception call (column 59 of the one-line Gemma template).
expect_error "line 1, column 59" --chat-template "$templates/google-gemma-2-2b-it.jinja" \
  --messages "$conv/system_user.json"
expect_error "TemplateError: System role not supported" \
  --chat-template "$templates/google-gemma-2-2b-it.jinja" --messages "$conv/system_user.json"
printf '{%% for m in messages %%}\n{{ m.content + 1 }}{%% endfor %%}' >"$work/bad.jinja"
expect_error "line 2, column 14: TypeError: can only concatenate str" \
  --chat-template "$work/bad.jinja" --messages "$conv/single_user.json"
printf 'ok\n{%% if %%}' >"$work/syntax.jinja"
expect_error "line 2, column 7: TemplateSyntaxError" --chat-template "$work/syntax.jinja" \
  --messages "$conv/single_user.json"
echo '[{"role": "user",' >"$work/broken.json"
expect_error "not valid JSON" --chat-template "$work/bad.jinja" --messages "$work/broken.json"
expect_error "cannot read '$work/missing.json'" --chat-template "$work/bad.jinja" \
  --messages "$work/missing.json"
expect_error "give a model" --messages "$conv/single_user.json"
expect_error "has no chat template" -m "$shared/golden/tokenizer/qwen2.gguf" \
  --messages "$conv/single_user.json"
expect_error "--context: expected a JSON object" --chat-template "$work/bad.jinja" \
  --messages "$conv/single_user.json" --context '[1]'

if [ "$failures" -gt 0 ]; then
  echo "$failures failure(s)"
  exit 1
fi
# Most comparisons must render (comparing only errors would prove little).
if [ $((both_raised * 2)) -gt "$checks" ]; then
  echo "FAIL: $both_raised of $checks comparisons raised in both"
  exit 1
fi
echo "template: all checks passed ($checks renders compared with jinja2," \
  "$both_raised raised in both)"

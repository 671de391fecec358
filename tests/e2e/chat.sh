#!/usr/bin/env bash
# End-to-end checks of `autarky chat` driven through stdin (not a terminal): answers stream,
# /save writes the conversation, /reset and /system reset it, the prompt the model sees is the
# template's rendering (checked by the prefix reuse between turns), a template error (Gemma
# refusing a system role) is reported without ending the chat, a full context says so, and a
# model without a template needs --chat-template; `autarky run` without a prompt is the same
# chat. $1: the autarky binary; 77 = skip.
set -uo pipefail
bin=$1
shared=${AUTARKY_SHARED_DIR:-}
model=$shared/models/aidreams260K.gguf
templates=$shared/golden/templates
if [ -z "$shared" ] || [ ! -f "$model" ] || [ ! -d "$templates" ]; then
  echo "skip: ../shared (aidreams260K.gguf and golden/templates) is absent"
  exit 77
fi
python=/usr/bin/python3
[ -x "$python" ] || python=python3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
r1=$templates/deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja

# 1. Two turns, save, reset, one more turn, save again.
printf 'Once upon a time\nTell me more\n/save %s\n/reset\nHello\n/save %s\n/exit\nnever read\n' \
  "$work/a.json" "$work/b.json" |
  "$bin" chat -m "$model" --chat-template "$r1" -n 24 --seed 5 -t 1 >"$work/out" 2>"$work/err" ||
  fail "chat exited non-zero: $(cat "$work/err")"
grep -q "saved 4 messages" "$work/out" || fail "first /save: $(cat "$work/out")"
grep -q "conversation reset" "$work/out" || fail "/reset not acknowledged"
"$python" - "$work/a.json" "$work/b.json" <<'EOF' || fail "saved conversations"
import json, sys
a = json.load(open(sys.argv[1]))["messages"]; b = json.load(open(sys.argv[2]))["messages"]
assert [m["role"] for m in a] == ["user", "assistant", "user", "assistant"], a
assert a[0]["content"] == "Once upon a time" and a[2]["content"] == "Tell me more"
assert all(m["content"] for m in a), a
assert [m["role"] for m in b] == ["user", "assistant"] and b[0]["content"] == "Hello", b
EOF
# The R1 template opens <think> in the prompt: the answer starts inside the thought.
head -c 7 "$work/out" | grep -q "<think>" || fail "answer does not start inside <think>: $(head -c 80 "$work/out")"

# 2. Same seed, same conversation: same answers; /system is applied and resets.
printf 'Once upon a time\nTell me more\n' |
  "$bin" chat -m "$model" --chat-template "$r1" -n 24 --seed 5 -t 2 >"$work/out2" 2>/dev/null
head -n 2 "$work/out" >"$work/first2"
head -n 2 "$work/out2" >"$work/second2"
cmp -s "$work/first2" "$work/second2" || fail "same seed gave different answers (1 vs 2 threads)"
printf '/system You are terse.\nHi\n/save %s\n' "$work/c.json" |
  "$bin" chat -m "$model" --chat-template "$r1" -n 8 --seed 1 >"$work/out3" 2>/dev/null
"$python" -c 'import json,sys; m=json.load(open(sys.argv[1]))["messages"]; assert m[0]=={"role":"system","content":"You are terse."}, m' "$work/c.json" ||
  fail "/system not in the conversation"

# `autarky run` without a prompt is the same chat (Ollama's `run`): same answers for the same seed.
printf 'Once upon a time\nTell me more\n' |
  "$bin" run -m "$model" --chat-template "$r1" -n 24 --seed 5 -t 2 >"$work/out-run" 2>"$work/err-run" ||
  fail "run without a prompt exited non-zero: $(cat "$work/err-run")"
cmp -s "$work/out2" "$work/out-run" || fail "run without a prompt did not chat as chat does: $(head -c 200 "$work/out-run")"

# 3. A template error is reported and the chat goes on.
printf '/system Be brief.\nHi\n/system\nHi\n' |
  "$bin" chat -m "$model" --chat-template "$templates/google-gemma-2-2b-it.jinja" -n 8 --seed 1 \
    >"$work/out4" 2>&1 || fail "chat ended on a template error"
grep -qi "template error.*system" "$work/out4" || fail "Gemma's system-role error not reported: $(cat "$work/out4")"
[ "$(grep -c "template error" "$work/out4")" = 1 ] || fail "the turn without a system prompt failed too"

# 4. A full context is reported, not a crash.
long=$("$python" -c 'print("word " * 300)')
printf '%s\nshort\n' "$long" |
  "$bin" chat -m "$model" --chat-template "$r1" -n 8 --seed 1 >"$work/out5" 2>&1 || fail "chat died on a full context"
grep -q "context is full" "$work/out5" || fail "full context not reported: $(cat "$work/out5")"

# 5. No template in the file and none given: one clear error.
"$bin" chat -m "$model" </dev/null >"$work/o6" 2>"$work/e6"
[ $? -eq 1 ] && grep -q "chat-template" "$work/e6" || fail "missing template: $(cat "$work/e6")"

if [ $failures -ne 0 ]; then
  echo "$failures failure(s)"
  exit 1
fi
echo "chat e2e: all checks passed"

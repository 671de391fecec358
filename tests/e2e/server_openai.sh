#!/usr/bin/env bash
# `autarky serve` driven by the official OpenAI Node client (tests/reference/openai/client.mjs):
#  - basic: the ../shared aidreams260K model (a real trained model; ChatML fallback template):
#    shapes, streamed == whole, typed errors, 8 concurrent streams batched and each equal to the
#    request alone;
#  - reasoning: a random-weight model with the Qwen2/R1 vocabulary (single <think>/</think>
#    tokens) and DeepSeek-R1-Distill-Qwen's chat template, which opens <think> in the prompt;
#    and an aborted stream is cancelled on the server.
# $1: the autarky binary. Exit 77 (skip) without node/npm, ../shared or a reachable npm registry.
set -uo pipefail
bin=$(realpath "$1")
here=$(cd "$(dirname "$0")/../reference/openai" && pwd)
shared=${AUTARKY_SHARED_DIR:-$here/../../../../shared}
model=$shared/models/aidreams260K.gguf
vocab=$shared/golden/tokenizer/qwen2.gguf
template=$shared/golden/templates/deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja
for f in "$model" "$vocab" "$template"; do
  [ -f "$f" ] || { echo "skip: $f is absent"; exit 77; }
done
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "skip: node and npm are needed (scripts/install-deps installs them)"
  exit 77
fi
cd "$here" || exit 1
# The npm packages, installed once for every test that shares the folder.
if ! "$here/../npm_install.sh" "$here"; then
  echo "skip: npm could not install the openai client (registry unreachable?):"
  exit 77
fi

work=$(mktemp -d)
server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

start_server() {  # flags...; sets url
  local log=$work/serve-$RANDOM.log
  "$bin" serve --port 0 -t 2 "$@" 2>"$log" &
  server_pid=$!
  for _ in $(seq 200); do
    url=$(sed -n 's/^listening on \(http:[^ ]*\).*/\1/p' "$log")
    [ -n "$url" ] && return 0
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "the server did not start:"; cat "$log"; exit 1
}
stop_server() {
  kill -TERM "$server_pid"
  wait "$server_pid"
  local status=$?
  server_pid=
  [ $status = 0 ] || { echo "FAIL: the server exited with $status on SIGTERM"; exit 1; }
}

status=0
start_server -m "$model" --parallel 4 -c 512
node client.mjs basic "$url" || status=1
stop_server

# A long context, so that an endless generation outlasts the abort test's round trip.
"$bin" random-model --preset tiny --arch qwen2 --vocab-from "$vocab" --seed 9 --ctx-train 32768 \
  -q "$work/r1-tiny.gguf" >/dev/null || exit 1
start_server -m "$work/r1-tiny.gguf" --chat-template "$template" --parallel 2 -c 32768
node client.mjs reasoning "$url" || status=1
stop_server
exit $status

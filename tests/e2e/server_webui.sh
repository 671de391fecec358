#!/usr/bin/env bash
# The web chat of `autarky serve` in headless Chromium (tests/reference/openai/webui.mjs, with
# playwright-core): with ../shared, a random-weight model with the Qwen2/R1 vocabulary and
# DeepSeek-R1-Distill-Qwen's template (the reasoning block is checked too); without it, a tiny
# random model with the ChatML fallback.
# $1: the autarky binary. Exit 77 (skip) without chromium, node/npm or a reachable npm registry.
set -uo pipefail
bin=$(realpath "$1")
here=$(cd "$(dirname "$0")/../reference/openai" && pwd)
shared=${AUTARKY_SHARED_DIR:-$here/../../../../shared}
chromium=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$chromium" ]; then
  echo "skip: chromium is needed (scripts/install-deps installs it)"
  exit 77
fi
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "skip: node and npm are needed (scripts/install-deps installs them)"
  exit 77
fi
cd "$here" || exit 1
# The npm packages, installed once for every test that shares the folder.
if ! "$here/../npm_install.sh" "$here"; then
  echo "skip: npm could not install playwright-core (registry unreachable?):"
  exit 77
fi

work=$(mktemp -d)
server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

vocab=$shared/golden/tokenizer/qwen2.gguf
template=$shared/golden/templates/deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja
flags=()
if [ -f "$vocab" ] && [ -f "$template" ]; then
  mode=reasoning
  "$bin" random-model --preset tiny --arch qwen2 --vocab-from "$vocab" --seed 9 \
    --ctx-train 32768 -q "$work/model.gguf" >/dev/null || exit 1
  flags=(--chat-template "$template")
else
  mode=plain
  echo "note: ../shared is absent: testing without a reasoning model"
  "$bin" random-model --preset tiny --arch qwen2 --seed 9 --ctx-train 32768 -q "$work/model.gguf" \
    >/dev/null || exit 1
fi
log=$work/serve.log
# A long context: the stop button must catch an endless generation before the context ends.
"$bin" serve -m "$work/model.gguf" --port 0 -t 2 --parallel 2 -c 32768 "${flags[@]}" 2>"$log" &
server_pid=$!
url=
for _ in $(seq 200); do
  url=$(sed -n 's/^listening on \(http:[^ ]*\).*/\1/p' "$log")
  [ -n "$url" ] && break
  sleep 0.1
done
[ -n "$url" ] || { echo "the server did not start:"; cat "$log"; exit 1; }
node webui.mjs "$url" "$chromium" "$mode"

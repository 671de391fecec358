#!/usr/bin/env bash
# End-to-end checks of `autarky info`: its JSON agrees with an independent (Python, stdlib only)
# parse of real GGUF files, the text output summarizes long arrays, malformed or missing
# files give one clear error and exit code 1, a Hugging Face folder shows its GGUF form, and an
# uncached REF is refused without a download. $1: the autarky binary. Exit 77 (skip) without
# ../shared.
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

# 1. JSON of real files against a separate reading of their headers.
cat >"$work/check.py" <<'EOF'
import json, struct, sys

def parse(path):
    """Reads a GGUF v3 header: metadata types and counts, tensor names, types, dims."""
    f = open(path, 'rb')
    def rd(fmt):
        return struct.unpack('<' + fmt, f.read(struct.calcsize(fmt)))
    def rstr():
        (n,) = rd('Q')
        return f.read(n).decode('utf-8', 'replace')
    sizes = {0: 'B', 1: 'b', 2: 'H', 3: 'h', 4: 'I', 5: 'i', 6: 'f', 7: 'B', 10: 'Q', 11: 'q', 12: 'd'}
    def value(t):
        if t == 8:
            return rstr()
        if t == 9:
            (et,) = rd('I'); (n,) = rd('Q')
            return ('arr', et, n, [value(et) for _ in range(n)])
        return rd(sizes[t])[0]
    assert f.read(4) == b'GGUF'
    (version,) = rd('I'); n_tensors, n_kv = rd('QQ')
    kv = {}
    for _ in range(n_kv):
        k = rstr(); (t,) = rd('I'); kv[k] = (t, value(t))
    tensors = []
    for _ in range(n_tensors):
        name = rstr(); (nd,) = rd('I'); dims = list(rd('%dQ' % nd)); (ty,) = rd('I'); rd('Q')
        tensors.append((name, dims, ty))
    return version, kv, tensors

path, out = sys.argv[1], json.load(open(sys.argv[2]))
version, kv, tensors = parse(path)
type_names = {0: 'u8', 1: 'i8', 2: 'u16', 3: 'i16', 4: 'u32', 5: 'i32', 6: 'f32', 7: 'bool',
              8: 'str', 9: 'arr', 10: 'u64', 11: 'i64', 12: 'f64'}
errors = []
def check(cond, what):
    if not cond:
        errors.append(what)
check(out['version'] == version, 'version')
check(list(out['metadata'].keys()) == list(kv.keys()), 'metadata keys or their order')
for k, (t, v) in kv.items():
    got = out['metadata'].get(k, {})
    check(got.get('type') == type_names[t], 'type of ' + k)
    if t == 9:
        _, et, n, items = v
        check(got.get('element_type') == type_names[et] and got.get('count') == n, 'array ' + k)
        shown = got.get('value', got.get('head'))
        check(shown is not None and len(shown) == min(n, 64 if 'value' in got else 16), 'shown ' + k)
        if et in (8, 4, 5) and shown is not None:
            check(shown == items[:len(shown)], 'elements of ' + k)
    elif t == 6:
        check(isinstance(got.get('value'), float) and abs(got['value'] - v) <= abs(v) * 2**-23,
              'value of ' + k)
    elif t == 7:
        check(got.get('value') == bool(v), 'value of ' + k)
    else:
        check(got.get('value') == v, 'value of ' + k)
check(len(out['tensors']) == len(tensors), 'tensor count')
check(out['totals']['tensors'] == len(tensors), 'totals.tensors')
params = 0
for got, (name, dims, ty) in zip(out['tensors'], tensors):
    check(got['name'] == name and got['shape'] == dims, 'tensor ' + name)
    n = 1
    for d in dims:
        n *= d
    params += n
check(out['totals']['params'] == params, 'totals.params')
if errors:
    print('; '.join(errors[:10]))
    sys.exit(1)
EOF
for f in "$model" "$shared"/golden/quant/fixture-Q4_K.gguf "$shared"/golden/tokenizer/phi-3.gguf; do
  [ -f "$f" ] || continue
  if ! "$bin" info --json "$f" >"$work/out.json" 2>"$work/err"; then
    fail "info --json $f exited with an error: $(cat "$work/err")"
  elif ! msg=$("$python" "$work/check.py" "$f" "$work/out.json"); then
    fail "info --json $f disagrees with the independent parse: $msg"
  fi
done

# 2. Facts about the aidreams model (../shared/README.md: 4 layers, vocab 512, F32).
"$bin" info --json "$model" >"$work/model.json" 2>"$work/err" || fail "info --json: $(cat "$work/err")"
facts=$("$python" -c '
import json, sys
j = json.load(open(sys.argv[1]))
print(len(j["tensors"]), j["metadata"]["llama.block_count"]["value"],
      j["metadata"]["tokenizer.ggml.tokens"]["count"], j["totals"]["types"])
' "$work/model.json")
[ "$facts" = "39 4 512 {'F32': 39}" ] || fail "aidreams facts: got '$facts'"

# 3. Text output: header, a summarized long array, the tensor table and totals.
"$bin" info "$model" >"$work/out.txt" 2>"$work/err" || fail "info: $(cat "$work/err")"
grep -qF 'tokenizer.ggml.tokens: [str x 512] "<unk>", "<s>", "</s>",' "$work/out.txt" ||
  fail "text output lacks the token array summary"
grep -qE '^  llama.block_count: u32 4$' "$work/out.txt" || fail "text output lacks llama.block_count"
grep -qE '^  token_embd.weight +F32 +\[64, 512\] +131,072$' "$work/out.txt" ||
  fail "text output lacks the token_embd.weight row"
grep -qE '^total: 39 tensors, .* 32.0000 bits per weight \(F32 x 39\)$' "$work/out.txt" ||
  fail "text output lacks the totals line: $(tail -n 1 "$work/out.txt")"

# 4. Errors: one line on stderr naming the problem, exit code 1, nothing on stdout.
expect_error() {  # expect_error "message part" file
  local want=$1 file=$2 code
  "$bin" info "$file" >"$work/out" 2>"$work/err"
  code=$?
  if [ "$code" -ne 1 ]; then
    fail "info $file: exit code $code, expected 1 ($(cat "$work/err"))"
  elif ! grep -qF -- "$want" "$work/err"; then
    fail "info $file: error does not mention '$want': $(cat "$work/err")"
  elif [ -s "$work/out" ]; then
    fail "info $file: wrote to stdout on error"
  elif [ "$(wc -l <"$work/err")" -ne 1 ]; then
    fail "info $file: error is not one line: $(cat "$work/err")"
  fi
}
head -c 5000 "$model" >"$work/truncated.gguf"
expect_error "truncated.gguf: byte " "$work/truncated.gguf"
expect_error "runs past the end of the file (5000 bytes)" "$work/truncated.gguf"
head -c 1000000 "$model" >"$work/short-data.gguf"  # header intact, tensor data cut
expect_error "runs past the end of the file (1000000 bytes)" "$work/short-data.gguf"
expect_error "not a GGUF file" "$shared/README.md"
expect_error "cannot open $work/missing.gguf" "$work/missing.gguf"
: >"$work/empty.gguf"
expect_error "empty.gguf: byte 0: header: magic (4 bytes) runs past the end" "$work/empty.gguf"
# A corrupted type id in a tensor info (the first tensor's type field).
"$python" - "$model" "$work/badtype.gguf" <<'EOF'
import struct, sys
data = bytearray(open(sys.argv[1], 'rb').read())
pos = 24
def skip_str(p):
    return p + 8 + struct.unpack_from('<Q', data, p)[0]
def skip_value(p, t):
    if t == 8:
        return skip_str(p)
    if t == 9:
        et, n = struct.unpack_from('<IQ', data, p); p += 12
        for _ in range(n):
            p = skip_value(p, et)
        return p
    return p + {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}[t]
n_kv = struct.unpack_from('<Q', data, 16)[0]
for _ in range(n_kv):
    pos = skip_str(pos); t = struct.unpack_from('<I', data, pos)[0]; pos = skip_value(pos + 4, t)
name_end = skip_str(pos)
n_dims = struct.unpack_from('<I', data, name_end)[0]
type_at = name_end + 4 + 8 * n_dims
struct.pack_into('<I', data, type_at, 99)
open(sys.argv[2], 'wb').write(data)
EOF
expect_error "tensor 'token_embd.weight': type id 99 is unknown" "$work/badtype.gguf"

# 5. Usage: --help explains the flags; a missing argument is a usage error.
"$bin" info --help >"$work/help" 2>&1 || fail "info --help exited with an error"
grep -qF -- "--json" "$work/help" || fail "info --help does not mention --json"
if "$bin" info >/dev/null 2>&1; then fail "info without a file succeeded"; fi

# 6. A Hugging Face folder shows as the GGUF it loads as (the same tensors as the GGUF it was
#    written from); a REF that is not cached is an error naming `autarky pull`, and info never
#    downloads (the endpoint is unreachable on purpose).
if "$python" -c "import torch, numpy" >/dev/null 2>&1; then
  here=$(cd "$(dirname "$0")" && pwd)
  if "$bin" random-model "$work/q.gguf" -q --arch qwen2 --preset tiny --vocab 300 --seed 2 \
    >"$work/log" 2>&1 &&
    "$python" "$here/../reference/hf_folder.py" write "$work/q.gguf" "$work/folder" \
      >"$work/log" 2>&1; then
    "$bin" info --json "$work/q.gguf" >"$work/g.json" 2>"$work/err" || fail "info gguf: $(cat "$work/err")"
    if ! "$bin" info --json "$work/folder" >"$work/f.json" 2>"$work/err"; then
      fail "info DIR: $(cat "$work/err")"
    elif ! msg=$("$python" -c '
import json, sys
g, f = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
shape = lambda j: sorted((t["name"], t["shape"]) for t in j["tensors"])
assert f["metadata"]["general.architecture"]["value"] == "qwen2", "architecture"
assert shape(f) == shape(g), "tensors differ"
assert f["metadata"]["qwen2.block_count"] == g["metadata"]["qwen2.block_count"], "block_count"
' "$work/g.json" "$work/f.json" 2>&1); then
      fail "info DIR disagrees with the GGUF: $msg"
    fi
  else
    fail "could not write the folder: $(tail -n 3 "$work/log")"
  fi
else
  echo "note: no python3 with torch; the folder check is skipped"
fi
AUTARKY_HOME=$work/home HF_ENDPOINT=http://127.0.0.1:9 "$bin" info nobody/absent-model \
  >"$work/out" 2>"$work/err"
code=$?
if [ "$code" -ne 1 ] || ! grep -qF "autarky pull nobody/absent-model" "$work/err"; then
  fail "info of an uncached REF: exit $code, $(cat "$work/err")"
fi

if [ "$failures" -gt 0 ]; then
  echo "$failures failure(s)"
  exit 1
fi
echo "info: all checks passed"

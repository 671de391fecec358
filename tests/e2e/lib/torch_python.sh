# Sourced by the e2e scripts that compare against a PyTorch reference (tests/reference/*.py).
# Sets $python to a python3 with torch and numpy: $AUTARKY_PYTHON, python3 on PATH, or Debian's
# /usr/bin/python3 (a pyenv shim on PATH may lack the Debian packages); exits 77 (ctest's skip)
# when there is none.
python=""
for candidate in ${AUTARKY_PYTHON:-} python3 /usr/bin/python3; do
  if command -v "$candidate" >/dev/null 2>&1 &&
    "$candidate" -c "import torch, numpy" >/dev/null 2>&1; then
    python=$candidate
    break
  fi
done
if [ -z "$python" ]; then
  echo "skip: no python3 with torch and numpy (Debian: python3-torch python3-numpy)"
  exit 77
fi

#!/usr/bin/env bash
# Builds the Python module `racetrack_plugins` (maturin, debug build, into .venv) and
# runs its pytest suite (tests/python). Needs python3 (>= 3.9, with venv), cargo, and
# network access to PyPI the first time (maturin, pytest, mypy, ruff go into .venv).
set -euo pipefail
cd "$(dirname "$0")/.."

source scripts/dev-venv.sh

echo "== maturin develop"
# Shares target/ with cargo; maturin sets PYO3_BUILD_EXTENSION_MODULE itself, so the
# extension does not link libpython. VIRTUAL_ENV tells maturin where to install.
# (maturin runs the venv's pip, so keep it from checking PyPI for a newer pip.)
VIRTUAL_ENV="$VENV" PIP_DISABLE_PIP_VERSION_CHECK=1 CARGO_TARGET_DIR="$PWD/target" \
    "$VENV/bin/maturin" develop --quiet --manifest-path Cargo.toml

# The runtime's Python half (the package's private modules, embedded into Rust hosts
# too) and its unit tests.
support=(python/racetrack_plugins/_[a-z]*.py tests/python/test_runtime_*.py)
echo "== ruff check ${support[*]}"
"$VENV/bin/ruff" check --quiet "${support[@]}"
echo "== mypy --strict ${support[*]}"
"$VENV/bin/mypy" --strict --no-incremental "${support[@]}"

echo "== pytest tests/python"
VIRTUAL_ENV="$VENV" PATH="$VENV/bin:$PATH" "$VENV/bin/python" -m pytest tests/python -q

# Sourced: creates (once) the project's tool venv at .venv and sets VENV.
# Holds uv, maturin, pytest, mypy and ruff; nothing of it is needed at run time. The
# drop-in tests also need Racetrack's client (its PluginManifest and errors) and
# FastAPI with its test client, to run Racetrack-style hosts on the engine.
VENV="${VENV:-$PWD/.venv}"
if [ ! -x "$VENV/bin/python" ]; then
    "${PYO3_PYTHON:-python3}" -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c "import maturin, pytest, mypy, uv, ruff, racetrack_client, fastapi, httpx, multipart" 2>/dev/null; then
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
        "maturin>=1.5,<2" pytest mypy uv ruff racetrack-client fastapi httpx python-multipart
fi
export VENV

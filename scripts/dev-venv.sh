# Sourced: creates (once) the project's tool venv at .venv and sets VENV.
# Holds uv, maturin, pytest, mypy and ruff; racetrack-client (Racetrack's own
# `racetrack` command, its PluginManifest and errors), FastAPI with its test client
# (Racetrack-style hosts on the engine), requests and selenium (the administration
# server's tests). Nothing of it is needed at run time.
VENV="${VENV:-$PWD/.venv}"
if [ ! -x "$VENV/bin/python" ]; then
    "${PYO3_PYTHON:-python3}" -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c "import maturin, pytest, mypy, uv, ruff, racetrack_client, fastapi, httpx, multipart, requests, selenium" 2>/dev/null; then
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
        "maturin>=1.5,<2" pytest mypy uv ruff racetrack-client fastapi httpx python-multipart \
        requests selenium
fi
export VENV
# watchdog: the tests watch last-change.txt the way Racetrack's own engine does.
if ! "$VENV/bin/python" -c "import watchdog" 2>/dev/null; then
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "watchdog>=4"
fi

# Sourced: creates (once) the project's tool venv at .venv and sets VENV.
# Holds uv, maturin, pytest and mypy; requests, selenium and racetrack-client (Racetrack's
# own `racetrack` command) for the administration server's tests. Nothing of it is
# needed at run time.
VENV="${VENV:-$PWD/.venv}"
if [ ! -x "$VENV/bin/python" ]; then
    "${PYO3_PYTHON:-python3}" -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c "import maturin, pytest, mypy, uv, requests, selenium, racetrack_client" 2>/dev/null; then
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
        "maturin>=1.5,<2" pytest mypy uv requests selenium racetrack-client
fi
export VENV

"""``python -m racetrack_plugins ...``: the ``racetrack-plugin`` command line."""

from __future__ import annotations

import sys
from typing import List, Optional

from ._native import run_cli


def main(argv: Optional[List[str]] = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    # The CLI writes to the process's stdout directly; keep the order of any
    # output Python has buffered so far.
    sys.stdout.flush()
    sys.stderr.flush()
    return run_cli(["racetrack-plugin", *args])


if __name__ == "__main__":
    sys.exit(main())

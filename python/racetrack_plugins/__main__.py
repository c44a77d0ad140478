"""``python -m racetrack_plugins ...``: the ``racetrack-plugin`` command line."""

from __future__ import annotations

import sys
from typing import List, Optional

from ._native import run_bundler_cli, run_cli


def main(argv: Optional[List[str]] = None, prog: str = "racetrack-plugin") -> int:
    args = sys.argv[1:] if argv is None else argv
    # The CLI writes to the process's stdout directly; keep the order of any
    # output Python has buffered so far.
    sys.stdout.flush()
    sys.stderr.flush()
    return run_cli([prog, *args])


def console_main() -> None:
    """Entry point of the ``racetrack-plugin`` command installed by pip."""
    sys.exit(main())


def bundler_main() -> None:
    """Entry point of ``racetrack-plugin-bundler``: Racetrack's bundling tool, with
    only its ``bundle`` command."""
    sys.stdout.flush()
    sys.stderr.flush()
    sys.exit(run_bundler_cli(["racetrack-plugin-bundler", *sys.argv[1:]]))


if __name__ == "__main__":
    sys.exit(main())

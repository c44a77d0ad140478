"""`racetrack_plugins._loading`, tested on its own: what a trial load leaves behind
is forgotten, and the interpreter plugins' venvs must match is described."""

from __future__ import annotations

import sys
from pathlib import Path

from racetrack_plugins import _loading


def test_forget_under_drops_modules_and_paths_below_a_folder(tmp_path: Path) -> None:
    root = tmp_path / "staging"
    root.mkdir()
    (root / "staged_rt_test.py").write_text("X = 1\n")
    sys.path.insert(0, str(root))
    try:
        import staged_rt_test  # type: ignore[import-not-found]

        assert staged_rt_test.X == 1
        _loading.forget_under(tmp_path)
        assert "staged_rt_test" not in sys.modules
        assert str(root) not in sys.path
        assert str(root) not in sys.path_importer_cache
    finally:
        while str(root) in sys.path:
            sys.path.remove(str(root))
        sys.modules.pop("staged_rt_test", None)


def test_interpreter_info_describes_this_interpreter() -> None:
    version, text, prefix, base_prefix, _executable = _loading.interpreter_info()
    assert version == tuple(sys.version_info[:3])
    assert text == sys.version and prefix == sys.prefix and base_prefix == sys.base_prefix

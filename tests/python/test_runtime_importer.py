"""`racetrack_plugins._importer`, tested on its own: a plugin's sibling modules are
imported for it alone, never left in ``sys.modules``."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path
from typing import Dict

import pytest

from racetrack_plugins import _importer


def write(root: Path, files: Dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


def importer_for(root: Path) -> _importer.PrivateImporter:
    return _importer.PrivateImporter(str(root), _importer.local_top_names(str(root)))


def test_local_names_are_sibling_modules_and_packages_but_not_plugin(tmp_path: Path) -> None:
    write(tmp_path, {"plugin.py": "", "utils.py": "", "pkg/__init__.py": "", "data.txt": ""})
    (tmp_path / ".hidden").mkdir()
    (tmp_path / "not-an-identifier").mkdir()
    assert _importer.local_top_names(str(tmp_path)) == {"utils", "pkg"}


def test_two_plugins_each_get_their_own_sibling_module(tmp_path: Path) -> None:
    left = write(tmp_path / "left", {"utils_rt_test.py": "VALUE = 'L'\n"})
    right = write(tmp_path / "right", {"utils_rt_test.py": "VALUE = 'R'\n"})
    a, b = importer_for(left), importer_for(right)
    assert a("utils_rt_test").VALUE == "L"
    assert b("utils_rt_test").VALUE == "R"
    # Cached per importer, and never left in sys.modules.
    assert a("utils_rt_test") is a("utils_rt_test")
    assert "utils_rt_test" not in sys.modules


def test_packages_relative_imports_and_fromlist_submodules(tmp_path: Path) -> None:
    root = write(
        tmp_path,
        {
            "pkg_rt_test/__init__.py": "from .core import describe\n",
            "pkg_rt_test/core.py": "from . import names\ndef describe():\n    return 'core-' + names.NAME\n",
            "pkg_rt_test/names.py": "NAME = 'n'\n",
            "pkg_rt_test/extra.py": "EXTRA = 'x'\n",
        },
    )
    importer = importer_for(root)
    top = importer("pkg_rt_test.core")  # no fromlist: the top package comes back
    assert top.describe() == "core-n"
    pkg = importer("pkg_rt_test", fromlist=["extra"])
    assert pkg.extra.EXTRA == "x"
    assert not any(name.startswith("pkg_rt_test") for name in sys.modules)


def test_other_names_go_to_the_regular_import_system(tmp_path: Path) -> None:
    importer = importer_for(write(tmp_path, {"utils_rt_test.py": ""}))
    import json

    assert importer("json") is json


def test_a_missing_local_submodule_is_module_not_found(tmp_path: Path) -> None:
    importer = importer_for(write(tmp_path, {"pkg_rt_test/__init__.py": "", "solo_rt_test.py": ""}))
    with pytest.raises(ModuleNotFoundError, match="pkg_rt_test.nope"):
        importer("pkg_rt_test.nope")
    with pytest.raises(ModuleNotFoundError, match="is not a package"):
        importer("solo_rt_test.child")


def test_a_module_that_raises_is_not_cached(tmp_path: Path) -> None:
    root = write(tmp_path, {"flaky_rt_test.py": "raise RuntimeError('boom')\n"})
    importer = importer_for(root)
    with pytest.raises(RuntimeError, match="boom"):
        importer("flaky_rt_test")
    (root / "flaky_rt_test.py").write_text("OK = 1\n")
    assert importer("flaky_rt_test").OK == 1


def test_a_host_module_of_the_same_name_is_put_back(tmp_path: Path) -> None:
    importer = importer_for(write(tmp_path, {"shadow_rt_test.py": "WHO = 'plugin'\n"}))
    host = type(sys)("shadow_rt_test")
    sys.modules["shadow_rt_test"] = host
    try:
        assert importer("shadow_rt_test").WHO == "plugin"
        assert sys.modules["shadow_rt_test"] is host
    finally:
        del sys.modules["shadow_rt_test"]

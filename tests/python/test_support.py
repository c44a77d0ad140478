"""`racetrack_plugins._support`, the Python half of the runtime, tested on its own:
the private importer, the call policy read from signatures, JSON views of results."""

from __future__ import annotations

import dataclasses
import pathlib
import sys
import textwrap
from pathlib import Path
from typing import Any, Dict

import pytest

from racetrack_plugins import _support


def write(root: Path, files: Dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


# --- the private importer -------------------------------------------------------------


def importer_for(root: Path) -> _support.PrivateImporter:
    return _support.PrivateImporter(str(root), _support._local_top_names(str(root)))


def test_local_names_are_sibling_modules_and_packages_but_not_plugin(tmp_path: Path) -> None:
    write(tmp_path, {"plugin.py": "", "utils.py": "", "pkg/__init__.py": "", "data.txt": ""})
    (tmp_path / ".hidden").mkdir()
    (tmp_path / "not-an-identifier").mkdir()
    assert _support._local_top_names(str(tmp_path)) == {"utils", "pkg"}


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


# --- call policy ----------------------------------------------------------------------


class Hooks:
    def plain(self, a: int, b: int = 0) -> None: ...
    def star_args(self, a: int, *rest: int) -> None: ...
    def star_kwargs(self, a: int, **more: int) -> None: ...
    def keyword_only(self, *, name: str, flag: bool = False) -> None: ...
    def positional_only(self, a: int, /, b: int) -> None: ...
    def nothing(self) -> None: ...


@pytest.mark.parametrize(
    ("method", "policy"),
    [
        ("plain", (2, ("a", "b"))),
        ("star_args", (None, ("a",))),
        ("star_kwargs", (1, None)),
        ("keyword_only", (0, ("name", "flag"))),
        ("positional_only", (2, ("b",))),
        ("nothing", (0, ())),
    ],
)
def test_call_policy_reads_the_bound_signature(method: str, policy: _support.CallPolicy) -> None:
    assert _support.call_policy(getattr(Hooks(), method)) == policy


def test_call_policy_without_a_signature_accepts_anything() -> None:
    class NoSignature:
        __signature__ = "not a signature"

        def __call__(self) -> None: ...

    assert _support.call_policy(NoSignature()) == (None, None)


# --- JSON views -----------------------------------------------------------------------


@dataclasses.dataclass
class Point:
    x: int
    tags: Any


class Model:
    def model_dump(self) -> Dict[str, Any]:
        return {"path": pathlib.PurePosixPath("/a/b"), "n": 1}


class BrokenModel:
    def dict(self) -> Dict[str, Any]:
        raise RuntimeError("no")

    def __repr__(self) -> str:
        return "<BrokenModel>"


def test_to_jsonable_converts_what_hooks_return() -> None:
    value = {
        1: (1, 2.5, None, True),
        "path": pathlib.PurePosixPath("/tmp/x"),
        "bytes": b"caf\xc3\xa9",
        "set": {"only"},
        "point": Point(1, ["t"]),
        "model": Model(),
        "broken": BrokenModel(),
        "other": object,
    }
    assert _support.to_jsonable(value) == {
        "1": [1, 2.5, None, True],
        "path": "/tmp/x",
        "bytes": "café",
        "set": ["only"],
        "point": {"x": 1, "tags": ["t"]},
        "model": {"path": "/a/b", "n": 1},
        "broken": "<BrokenModel>",
        "other": repr(object),
    }


def test_to_jsonable_reports_what_json_cannot_hold_faithfully() -> None:
    cyclic: list[Any] = []
    cyclic.append(cyclic)

    class BadRepr:
        def __repr__(self) -> str:
            raise RuntimeError("repr exploded")

    cases = {
        "cycle": ({"a": cyclic}, "result['a'][0]: a cycle"),
        "deep": (_nest(300), "nested deeper than"),
        "big int": ({"n": 2**100}, "result['n']: integer beyond JSON's safe range"),
        "nan": ([1.0, float("nan")], "result[1]: nan is not a JSON number"),
        "inf": ({"x": float("-inf")}, "-inf is not a JSON number"),
        "keys": ({1: "a", "1": "b"}, "keys 1 and '1' are both '1' in JSON"),
        "surrogate": ({"s": "a\udc80"}, "result['s']: text with a lone surrogate"),
        "repr": ([BadRepr()], "result[0]: repr() of a BadRepr raised RuntimeError: repr exploded"),
        "bytes": (b"\xff", "bytes that are not UTF-8"),
    }
    for name, (value, message) in cases.items():
        with pytest.raises(_support.NotJsonable) as info:
            _support.to_jsonable(value)
        assert message in str(info.value), name
    assert _support.to_jsonable(2**53 - 1) == 2**53 - 1


def test_to_jsonable_stops_shared_parts_from_expanding_exponentially() -> None:
    import time

    shared: list[Any] = ["leaf"]
    for _ in range(60):
        shared = [shared, shared]
    started = time.monotonic()
    with pytest.raises(_support.NotJsonable, match="more than 250000 values"):
        _support.to_jsonable(shared)
    assert time.monotonic() - started < 30
    # Shared but small is fine: each appearance is written out.
    part = {"x": 1}
    assert _support.to_jsonable([part, part]) == [{"x": 1}, {"x": 1}]


def _nest(depth: int) -> Any:
    value: Any = "bottom"
    for _ in range(depth):
        value = [value]
    return value


def test_record_view_reads_as_attributes_and_as_a_mapping() -> None:
    view = _support.RecordView(name="adder", git=_support.RecordView(remote="r"))
    assert view.name == "adder" and view["git"].remote == "r"
    view.owner = "me"
    assert view["owner"] == "me"
    with pytest.raises(AttributeError):
        _ = view.missing
    plain = view.dict()
    assert type(plain) is dict and type(plain["git"]) is dict
    assert view.model_dump() == plain


def test_format_exception_leaves_out_the_loaders_own_frames(tmp_path: Path) -> None:
    root = write(tmp_path, {"raiser_rt_test.py": "def f():\n    raise ValueError('bad value')\nf()\n"})
    with pytest.raises(ValueError) as info:
        importer_for(root)("raiser_rt_test")
    text = _support.format_exception(info.value)
    assert str(root / "raiser_rt_test.py") in text
    assert text.rstrip().endswith("ValueError: bad value")
    # The importer's frames and importlib's were there, and say nothing to an author.
    raw = "".join(__import__("traceback").format_exception(info.value))
    assert _support.__file__ in raw
    assert _support.__file__ not in text and "<frozen importlib" not in text


def test_forget_under_drops_modules_and_paths_below_a_folder(tmp_path: Path) -> None:
    root = write(tmp_path / "staging", {"staged_rt_test.py": "X = 1\n"})
    sys.path.insert(0, str(root))
    try:
        import staged_rt_test  # type: ignore[import-not-found]

        assert staged_rt_test.X == 1
        _support.forget_under(tmp_path)
        assert "staged_rt_test" not in sys.modules
        assert str(root) not in sys.path
        assert str(root) not in sys.path_importer_cache
    finally:
        while str(root) in sys.path:
            sys.path.remove(str(root))
        sys.modules.pop("staged_rt_test", None)


def test_interpreter_info_describes_this_interpreter() -> None:
    version, text, prefix, base_prefix, _executable = _support.interpreter_info()
    assert version == tuple(sys.version_info[:3])
    assert text == sys.version and prefix == sys.prefix and base_prefix == sys.base_prefix

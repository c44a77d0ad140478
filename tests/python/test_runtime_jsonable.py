"""`racetrack_plugins._jsonable`, tested on its own: JSON views of hook results, and
``RecordView``, the records hooks are handed."""

from __future__ import annotations

import dataclasses
import pathlib
from typing import Any, Dict

import pytest

from racetrack_plugins import _jsonable


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
    assert _jsonable.to_jsonable(value) == {
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
        with pytest.raises(_jsonable.NotJsonable) as info:
            _jsonable.to_jsonable(value)
        assert message in str(info.value), name
    assert _jsonable.to_jsonable(2**53 - 1) == 2**53 - 1


def test_to_jsonable_stops_shared_parts_from_expanding_exponentially() -> None:
    import time

    shared: list[Any] = ["leaf"]
    for _ in range(60):
        shared = [shared, shared]
    started = time.monotonic()
    with pytest.raises(_jsonable.NotJsonable, match="more than 250000 values"):
        _jsonable.to_jsonable(shared)
    assert time.monotonic() - started < 30
    # Shared but small is fine: each appearance is written out.
    part = {"x": 1}
    assert _jsonable.to_jsonable([part, part]) == [{"x": 1}, {"x": 1}]


def _nest(depth: int) -> Any:
    value: Any = "bottom"
    for _ in range(depth):
        value = [value]
    return value


def test_record_view_reads_as_attributes_and_as_a_mapping() -> None:
    view = _jsonable.RecordView(name="adder", git=_jsonable.RecordView(remote="r"))
    assert view.name == "adder" and view["git"].remote == "r"
    view.owner = "me"
    assert view["owner"] == "me"
    with pytest.raises(AttributeError):
        _ = view.missing
    plain = view.dict()
    assert type(plain) is dict and type(plain["git"]) is dict
    assert view.model_dump() == plain


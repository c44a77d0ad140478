"""`racetrack_plugins._calls`, tested on its own: the call policy read from hook
signatures, and tracebacks without the runtime's frames."""

from __future__ import annotations

import traceback
from pathlib import Path

import pytest

from racetrack_plugins import _calls, _importer, _jsonable


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
def test_call_policy_reads_the_bound_signature(method: str, policy: _calls.CallPolicy) -> None:
    assert _calls.call_policy(getattr(Hooks(), method)) == policy


def test_call_policy_without_a_signature_accepts_anything() -> None:
    class NoSignature:
        __signature__ = "not a signature"

        def __call__(self) -> None: ...

    assert _calls.call_policy(NoSignature()) == (None, None)


def test_format_exception_leaves_out_the_loaders_own_frames(tmp_path: Path) -> None:
    (tmp_path / "raiser_rt_test.py").write_text("def f():\n    raise ValueError('bad value')\nf()\n")
    importer = _importer.PrivateImporter(str(tmp_path), _importer.local_top_names(str(tmp_path)))
    with pytest.raises(ValueError) as info:
        importer("raiser_rt_test")
    text = _calls.format_exception(info.value)
    assert str(tmp_path / "raiser_rt_test.py") in text
    assert text.rstrip().endswith("ValueError: bad value")
    # The importer's frames and importlib's were there, and say nothing to an author.
    raw = "".join(traceback.format_exception(info.value))
    assert _importer.__file__ in raw
    assert _importer.__file__ not in text and "<frozen importlib" not in text


def test_format_exception_leaves_out_frames_of_every_runtime_module() -> None:
    # RecordView's frame is in another module than format_exception's own.
    view = _jsonable.RecordView(name="adder")
    with pytest.raises(AttributeError) as info:
        _ = view.missing
    raw = "".join(traceback.format_exception(info.value))
    assert _jsonable.__file__ in raw
    text = _calls.format_exception(info.value)
    assert __file__ in text and text.rstrip().endswith("AttributeError: missing")
    assert _jsonable.__file__ not in text

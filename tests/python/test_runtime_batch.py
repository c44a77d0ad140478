"""`racetrack_plugins._batch`, tested on its own: the generated dispatch functions
fill one slot per plugin, prune as planned, stop or go on after a failure, and leave
no trace of themselves in a hook's traceback."""

from __future__ import annotations

import traceback
from typing import Any, Callable, List, Optional, Sequence

import pytest

from racetrack_plugins import _batch


def run(dispatch: Optional[Callable[..., None]], count: int, fail_fast: bool, *values: Any) -> List[Any]:
    assert dispatch is not None
    out: List[Any] = [_batch.NOT_CALLED] * count
    dispatch(out, fail_fast, *values)
    return out


def echo(*args: Any, **kwargs: Any) -> Any:
    return [list(args), sorted(kwargs.items())]


def boom(*args: Any, **kwargs: Any) -> Any:
    raise ValueError("boom")


def test_each_method_gets_the_arguments_its_plan_names() -> None:
    dispatch = _batch.make_dispatch(
        "hook",
        [echo, echo, echo],
        [(2, [0, 1]), (1, []), (0, [1])],
        2,
        ["user", "dry_run"],
    )
    out = run(dispatch, 3, True, "a", "b", "alice", True)
    assert out == [
        [["a", "b"], [("dry_run", True), ("user", "alice")]],
        [["a"], []],
        [[], [("dry_run", True)]],
    ]


@pytest.mark.parametrize("fail_fast", [True, False])
def test_a_failure_fills_its_slot_and_fail_fast_stops_there(fail_fast: bool) -> None:
    dispatch = _batch.make_dispatch("hook", [echo, boom, echo], [(0, [])] * 3, 0, [])
    out = run(dispatch, 3, fail_fast)
    assert out[0] == [[], []]
    marker, error = out[1]
    assert marker is _batch.FAILED and isinstance(error, ValueError)
    if fail_fast:
        assert out[2] is _batch.NOT_CALLED
    else:
        assert out[2] == [[], []]


def test_every_base_exception_is_caught_as_that_plugins_failure() -> None:
    def exits() -> None:
        raise SystemExit(2)

    def interrupted() -> None:
        raise KeyboardInterrupt

    dispatch = _batch.make_dispatch("hook", [exits, interrupted], [(0, [])] * 2, 0, [])
    out = run(dispatch, 2, False)
    assert [type(slot[1]) for slot in out] == [SystemExit, KeyboardInterrupt]


def test_the_traceback_starts_at_the_hook() -> None:
    def helper() -> None:
        raise KeyError("k")

    def hook() -> None:
        helper()

    dispatch = _batch.make_dispatch("hook", [hook], [(0, [])], 0, [])
    (slot,) = run(dispatch, 1, True)
    frames = [frame.name for frame in traceback.extract_tb(slot[1].__traceback__)]
    assert frames == ["hook", "helper"]


@pytest.mark.parametrize("names", [["not-an-identifier"], ["class"], ["ok", "x y"], ["ok", "def"]])
def test_keywords_source_cannot_spell_are_left_to_the_generic_path(
    names: Sequence[str],
) -> None:
    assert _batch.make_dispatch("hook", [echo], [(0, [])], 0, names) is None


def test_plans_out_of_range_and_empty_sets_are_refused() -> None:
    assert _batch.make_dispatch("hook", [echo], [(3, [])], 2, []) is None
    assert _batch.make_dispatch("hook", [echo], [(0, [1])], 0, ["a"]) is None
    assert _batch.make_dispatch("hook", [], [], 0, []) is None
    assert _batch.make_dispatch("hook", [echo], [], 0, []) is None


def test_names_only_reach_the_source_as_validated_keywords() -> None:
    # A hook name is not code: it only names the generated file.
    sneaky = "x'); import os; os._exit(1) #"
    dispatch = _batch.make_dispatch(sneaky, [echo], [(1, [])], 1, [])
    assert run(dispatch, 1, True, "v") == [[["v"], []]]

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


class Signatures:
    def plain(self, a: Any, user: Any = None, dry_run: Any = False) -> Any:
        return [a, user, dry_run]

    def gap(self, a: Any, b: Any = None, user: Any = None) -> Any:
        return [a, b, user]

    def positional_only(self, user: Any, /, **kw: Any) -> Any:
        return [user, sorted(kw)]

    def keyword_only(self, a: Any, *, user: Any = None) -> Any:
        return [a, user]


def test_keywords_naming_the_next_positional_parameters_are_passed_by_position() -> None:
    method = Signatures().plain
    names = ["dry_run", "user"]
    assert _batch.spell_call(method, 1, [0, 1], names) == ["a0", "k1", "k0"]
    assert _batch.spell_call(method, 1, [1], names) == ["a0", "k1"]
    # Only `dry_run` kept: `user` comes first among the parameters, so no shortcut.
    assert _batch.spell_call(method, 1, [0], names) == ["a0", "dry_run=k0"]


def test_keywords_stay_keywords_past_a_gap_or_a_keyword_only_marker() -> None:
    assert _batch.spell_call(Signatures().gap, 1, [0], ["user"]) == ["a0", "user=k0"]
    assert _batch.spell_call(Signatures().keyword_only, 1, [0], ["user"]) == ["a0", "user=k0"]


def test_positional_only_parameters_never_take_a_keyword() -> None:
    method = Signatures().positional_only
    assert _batch.positional_parameters(method) == ("",)
    assert _batch.spell_call(method, 0, [0], ["user"]) == ["user=k0"]


def test_only_plain_python_methods_get_the_shortcut() -> None:
    def function(a: Any, user: Any = None) -> Any:
        return a

    assert _batch.positional_parameters(function) == ()
    assert _batch.positional_parameters(len) == ()
    assert _batch.spell_call(echo, 1, [0], ["user"]) == ["a0", "user=k0"]


def test_a_dispatch_passing_keywords_by_position_binds_them_the_same() -> None:
    methods: List[Callable[..., Any]] = [Signatures().plain, Signatures().gap, Signatures().keyword_only]
    plans = [(1, [0, 1]), (1, [0]), (1, [0])]
    dispatch = _batch.make_dispatch("hook", methods, plans, 1, ["user", "dry_run"])
    out = run(dispatch, 3, True, "x", "alice", True)
    assert out == [["x", "alice", True], ["x", None, "alice"], ["x", "alice"]]


def test_a_dropped_dispatch_function_frees_its_methods_without_the_cycle_collector() -> None:
    import gc
    import weakref

    target = Signatures()
    alive = weakref.ref(target)
    dispatch = _batch.make_dispatch("hook", [target.plain], [(1, [])], 1, [])
    assert dispatch is not None
    del target
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        assert alive() is not None
        del dispatch
        assert alive() is None, "held only by the function: freed with it"
    finally:
        if was_enabled:
            gc.enable()

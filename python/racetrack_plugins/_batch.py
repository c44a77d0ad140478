"""One Python function per hook and call shape that calls every plugin of a set.

Called from Rust, each hook call would enter the interpreter afresh (a new evaluation
loop per plugin), which costs more than a small hook itself. So for each hook of a
loaded set and each shape of call (how many positional arguments, which keyword
names) the engine has this module write a function that calls every implementation
in turn, each with only the arguments it takes, inside one frame: the calls are then
as cheap as a hand-written Python loop's.

The generated function takes ``(out, fail_fast, a0.., k0..)``: ``out`` is a list with
one slot per plugin, filled in call order with the result, or ``(FAILED, exception)``
when the hook raised (any ``BaseException``: what becomes of it is the caller's
decision). With ``fail_fast`` it returns after the first failure; slots of plugins not
called keep ``NOT_CALLED``. Slots are assigned, never appended, so an exception that
arrives between two calls (an asynchronous one, from a time limit or the host's exit)
cannot shift a result onto the wrong plugin.

Owns: writing and compiling those functions. May not: decide which plugins take part,
in what order, or what a result means (the engine's), nor hold on to plugin objects
beyond the function it returns (the set that owns the function drops it on unload).
"""

from __future__ import annotations

import keyword
from types import FunctionType, MethodType
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple


class _Marker:
    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return f"<racetrack_plugins {self._name}>"


#: A slot whose plugin was not called.
NOT_CALLED = _Marker("not called")
#: First item of ``(FAILED, exception)``: that plugin's hook raised.
FAILED = _Marker("failed")

#: Past this many plugins per hook the engine calls them one by one: the generated
#: function grows with the set, and compiling it would outweigh what it saves.
MAX_PLUGINS = 512

#: How one implementation is called: how many of the call's positional arguments it
#: takes, and the indexes of the call's keywords it declares.
Plan = Tuple[int, Sequence[int]]


def usable_keyword(name: object) -> bool:
    """A keyword name the generated source may spell out in a call."""
    return isinstance(name, str) and name.isidentifier() and not keyword.iskeyword(name)


def positional_parameters(method: Callable[..., Any]) -> Sequence[str]:
    """The parameters ``method`` binds by position after its ``self``, read from the
    code CPython runs: for a method of a plain Python function, the names of its
    positional parameters in order; for anything else (builtins, wrappers, partials,
    objects with ``__signature__``), none, as then only the signature says what a name
    means."""
    if type(method) is not MethodType:
        return ()
    function = method.__func__
    if type(function) is not FunctionType:
        return ()
    code = function.__code__
    # Positional-only ones never take a keyword: blanked, so no keyword matches them.
    return tuple(
        "" if index < code.co_posonlyargcount else name
        for index, name in enumerate(code.co_varnames[: code.co_argcount])
    )[1:]


def spell_call(
    method: Callable[..., Any], taken: int, kept: Sequence[int], names: Sequence[str]
) -> List[str]:
    """The arguments of one call: its first ``taken`` positional values, then the kept
    keywords. Keywords that name the very next positional parameters are passed by
    position, which binds them the same way and lets CPython take its fast path for
    calls without keywords."""
    arguments = [f"a{i}" for i in range(taken)]
    by_name = {names[k]: k for k in kept}
    parameters = positional_parameters(method)
    while len(arguments) < len(parameters) and parameters[len(arguments)] in by_name:
        arguments.append(f"k{by_name.pop(parameters[len(arguments)])}")
    return arguments + [f"{name}=k{k}" for name, k in by_name.items()]


def make_dispatch(
    hook: str,
    methods: Sequence[Callable[..., Any]],
    plans: Sequence[Plan],
    nargs: int,
    names: Sequence[str],
) -> Optional[Callable[..., None]]:
    """The dispatch function for ``methods`` called with ``nargs`` positional
    arguments and the keywords ``names``, or ``None`` when this call shape cannot be
    written as source (a keyword that is not an identifier, too many plugins)."""
    if len(methods) != len(plans) or not 0 < len(methods) <= MAX_PLUGINS:
        return None
    if not all(usable_keyword(name) for name in names):
        return None
    positional = [f"a{i}" for i in range(nargs)]
    values = [f"k{i}" for i in range(len(names))]
    # The methods are the function's globals (its own namespace): read like closure
    # variables, without copying every one into each call's frame first.
    lines: List[str] = [
        f"def dispatch({', '.join(['out', 'fail_fast', *positional, *values])}):",
    ]
    for i, (taken, kept) in enumerate(plans):
        if not 0 <= taken <= nargs or any(not 0 <= k < len(names) for k in kept):
            return None
        call_args = spell_call(methods[i], taken, kept, names)
        lines += [
            "    try:",
            f"        out[{i}] = m{i}({', '.join(call_args)})",
            "    except BaseException as e:",
            # The exception as a direct call would have left it: without this frame.
            "        t = e.__traceback__",
            "        if t is not None and t.tb_next is not None:",
            "            e.__traceback__ = t.tb_next",
            # The traceback's head holds this frame: kept in a local, a cycle.
            "        t = None",
            f"        out[{i}] = (FAILED, e)",
            "        if fail_fast:",
            "            return",
        ]
    namespace: Dict[str, Any] = {"FAILED": FAILED}
    namespace.update((f"m{i}", method) for i, method in enumerate(methods))
    code = compile("\n".join(lines) + "\n", f"<racetrack_plugins dispatch of {hook}>", "exec")
    exec(code, namespace)
    # Popped: left in its own globals, the function would be in a reference cycle, and
    # the methods (with their plugins) would outlive the set until a cyclic collection.
    dispatch: Callable[..., None] = namespace.pop("dispatch")
    return dispatch

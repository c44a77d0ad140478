"""JSON at the hooks' edge: ``RecordView``, the form JSON records take when handed
to a hook, and ``to_jsonable``, the JSON view of what a hook returns.

Owns the conversion rules and their limits. It converts values only: it may not
load or call plugins, and it imports nothing but the standard library, since it is
the first of the runtime's modules that Rust hosts run (``src/python/support.rs``).
"""

from __future__ import annotations

import functools
import os
from typing import Any, Callable, Dict, List, Set

class RecordView(Dict[str, Any]):
    """A dict that also offers attribute access (``manifest.name``).

    Racetrack hands pydantic models to hooks; plugins read them as attributes,
    and some as mappings, so this supports both.
    """

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value

    def dict(self) -> Dict[str, Any]:
        plain: Dict[str, Any] = _plain(self)
        return plain

    model_dump = dict

    def __repr__(self) -> str:
        return f"RecordView({dict.__repr__(self)})"


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


#: JSON numbers beyond this lose precision in JavaScript and many JSON readers.
JSON_SAFE_INTEGER = 2**53 - 1
#: Values a result may expand to in JSON: a shared sub-structure counts each time it
#: appears, so a result whose JSON would be exponentially large stops early.
MAX_JSON_VALUES = 250_000
#: Nesting a result may have in JSON.
MAX_JSON_DEPTH = 200


class NotJsonable(ValueError):
    """A hook result that has no faithful JSON view; the message says where and why."""


def to_jsonable(
    value: Any, *, max_values: int = MAX_JSON_VALUES, max_depth: int = MAX_JSON_DEPTH
) -> Any:
    """JSON view of a hook result, for the CLI and Rust callers: paths become strings,
    models and dataclasses their fields, other objects their ``repr``.

    Nothing is changed silently: NaN and infinities, integers beyond
    ``JSON_SAFE_INTEGER``, two keys with one JSON spelling (``1`` and ``"1"``), cycles,
    text that is not valid Unicode, a ``repr`` that raises, and results over
    ``max_values`` values or ``max_depth`` levels raise ``NotJsonable`` naming the
    place (``result["a"][2]``).
    """
    remaining = [max_values]
    on_path: Set[int] = set()

    # A path is (parent path, step) pairs, spelled out only for an error.
    def fail(path: Any, problem: str) -> NotJsonable:
        steps: List[str] = []
        while path is not None:
            path, step = path
            # Literal text, a list index (int) or a dict key (a 1-tuple).
            if isinstance(step, tuple):
                step = f"[{step[0]!r}]"
            steps.append(step if isinstance(step, str) else f"[{step}]")
        return NotJsonable("".join(reversed(steps)) + f": {problem}")

    def text(item: str, path: Any) -> str:
        try:
            item.encode("utf-8")
        except UnicodeEncodeError as e:
            raise fail(path, f"text with a lone surrogate ({item[e.start]!r} at index {e.start})") from None
        return item

    def key_text(key: Any, path: Any) -> str:
        if isinstance(key, str):
            return text(key, path)
        # JSON's own spelling of such keys, as json.dumps writes them.
        if key is None:
            return "null"
        if isinstance(key, bool):
            return "true" if key else "false"
        if isinstance(key, (int, float)):
            return str(convert(key, path, 0))
        raise fail(path, f"a key of type {type(key).__qualname__} (keys must be text or numbers)")

    def nested(item: Any, path: Any, depth: int, build: Callable[[], Any]) -> Any:
        if depth >= max_depth:
            raise fail(path, f"nested deeper than {max_depth} levels")
        ident = id(item)
        if ident in on_path:
            raise fail(path, f"a cycle: this {type(item).__qualname__} contains itself")
        on_path.add(ident)
        try:
            return build()
        finally:
            on_path.discard(ident)

    def convert(item: Any, path: Any, depth: int) -> Any:
        remaining[0] -= 1
        if remaining[0] < 0:
            raise fail(
                path,
                f"more than {max_values} values (a shared part counts each time it appears)",
            )
        if item is None or isinstance(item, bool):
            return item
        if isinstance(item, str):
            return text(str(item), path)
        if isinstance(item, int):
            if -JSON_SAFE_INTEGER <= item <= JSON_SAFE_INTEGER:
                return int(item)
            raise fail(
                path,
                f"integer beyond JSON's safe range (±{JSON_SAFE_INTEGER}); return it as text",
            )
        if isinstance(item, float):
            if item != item or item in (float("inf"), float("-inf")):
                raise fail(path, f"{item} is not a JSON number")
            return float(item)
        if isinstance(item, dict):
            def build_dict() -> Dict[str, Any]:
                out: Dict[str, Any] = {}
                origin: Dict[str, Any] = {}
                for k, v in item.items():
                    name = key_text(k, path)
                    if name in out:
                        raise fail(path, f"keys {origin[name]!r} and {k!r} are both {name!r} in JSON")
                    origin[name] = k
                    out[name] = convert(v, (path, (name,)), depth + 1)
                return out

            return nested(item, path, depth, build_dict)
        if isinstance(item, (list, tuple, set, frozenset)):
            return nested(
                item,
                path,
                depth,
                lambda: [convert(v, (path, i), depth + 1) for i, v in enumerate(item)],
            )
        if isinstance(item, os.PathLike):
            return text(os.fspath(item), path)
        if isinstance(item, (bytes, bytearray)):
            try:
                return bytes(item).decode("utf-8")
            except UnicodeDecodeError as e:
                raise fail(path, f"bytes that are not UTF-8 ({e.reason} at byte {e.start})") from None
        for attr in ("model_dump", "dict"):
            dump = getattr(item, attr, None)
            if callable(dump):
                try:
                    dumped = dump()
                except Exception:
                    continue
                return nested(item, path, depth, functools.partial(convert, dumped, path, depth + 1))
        if hasattr(item, "__dataclass_fields__") and not isinstance(item, type):
            import dataclasses

            # Field by field rather than dataclasses.asdict, which deep-copies and
            # recurses without limit.
            names = [f.name for f in dataclasses.fields(item)]
            return nested(
                item,
                path,
                depth,
                lambda: {
                    name: convert(getattr(item, name, None), (path, "." + name), depth + 1)
                    for name in names
                },
            )
        try:
            shown = repr(item)
        except Exception as e:
            raise fail(
                path, f"repr() of a {type(item).__name__} raised {type(e).__qualname__}: {e}"
            ) from None
        return text(shown, path)

    return convert(value, (None, "result"), 0)

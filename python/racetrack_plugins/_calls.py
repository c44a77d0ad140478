"""How hooks are called and how their failures read: ``call_policy`` (the arguments a
hook's signature takes), ``format_exception`` (tracebacks without the runtime's own
frames) and the exceptions the engine raises inside running hooks (``HookTimeout``,
``HostExiting``).

Reads signatures and tracebacks; it may not call hooks itself (Rust does) nor import
anything beyond the standard library: of the runtime's other modules it only knows
that they live in its folder.
"""

from __future__ import annotations

import inspect
import os
import traceback
from types import TracebackType
from typing import Any, Callable, List, Optional, Tuple

#: ``call_policy``'s answer: (positional parameters or None, keyword names or None).
CallPolicy = Tuple[Optional[int], Optional[Tuple[str, ...]]]

# The runtime's modules are this file's siblings, also when embedded in a Rust host
# (there under a folder of the package's name, which no plugin file has).
_RUNTIME_DIR = os.path.dirname(__file__)


def call_policy(method: Callable[..., Any]) -> CallPolicy:
    """How a hook takes arguments: (max positional or None, keyword names or None).

    None means "anything goes" (``*args`` / ``**kwargs`` or no signature).
    """
    try:
        signature = inspect.signature(method)
    except (TypeError, ValueError):
        return (None, None)
    max_positional: Optional[int] = 0
    keywords: Optional[List[str]] = []
    for param in signature.parameters.values():
        if param.kind is param.VAR_POSITIONAL:
            max_positional = None
        elif param.kind is param.VAR_KEYWORD:
            keywords = None
        if param.kind in (param.POSITIONAL_ONLY, param.POSITIONAL_OR_KEYWORD):
            if max_positional is not None:
                max_positional += 1
        if param.kind in (param.POSITIONAL_OR_KEYWORD, param.KEYWORD_ONLY):
            if keywords is not None:
                keywords.append(param.name)
    return (max_positional, None if keywords is None else tuple(keywords))


def _is_internal(frame: traceback.FrameSummary) -> bool:
    # The runtime's own frames (the loader, RecordView) and importlib's say nothing
    # about the plugin.
    return os.path.dirname(frame.filename) == _RUNTIME_DIR or frame.filename.startswith(
        "<frozen importlib"
    )


def format_exception(exc: BaseException, tb: Optional[TracebackType] = None) -> str:
    report = traceback.TracebackException(type(exc), exc, tb or exc.__traceback__)
    kept = [frame for frame in report.stack if not _is_internal(frame)]
    if kept:
        report.stack = traceback.StackSummary.from_list(kept)
    return "".join(report.format())


class HookTimeout(BaseException):
    """Raised inside a hook that outlived its caller's time limit, to stop it.

    A ``BaseException``, so a hook's ``except Exception`` does not swallow it."""


class HostExiting(BaseException):
    """Raised inside hooks still running when a Python host exits, so their threads
    leave the engine before the interpreter finalizes."""

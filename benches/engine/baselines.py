"""Python baselines of benches/engine: each loop returns the nanoseconds it took."""
import importlib.util
import sys
import time


def dispatch_list(methods, n):
    """What invoke does, by hand: call each bound method, keep each result."""
    t0 = time.perf_counter_ns()
    for _ in range(n):
        out = []
        for m in methods:
            out.append(m())
    return time.perf_counter_ns() - t0


def dispatch_merge(methods, n):
    """What the typed fatman_runtime_env_vars does, by hand: merge the dicts."""
    t0 = time.perf_counter_ns()
    for _ in range(n):
        merged = {}
        for m in methods:
            r = m()
            if r is not None:
                merged.update(r)
    return time.perf_counter_ns() - t0


def dispatch_kwargs(methods, n, name, user):
    """A hand-written host knows each signature: passes only what it declares."""
    t0 = time.perf_counter_ns()
    for _ in range(n):
        out = []
        for m in methods:
            out.append(m(name, user=user))
    return time.perf_counter_ns() - t0


class Rec(dict):
    """Same shape as the engine's RecordView: a dict with attribute access."""

    __slots__ = ()

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def time_build(build, n):
    t0 = time.perf_counter_ns()
    for _ in range(n):
        build()
    return time.perf_counter_ns() - t0


def deploy_by_hand(build, methods, n):
    """Build the arguments, then call every plugin with them."""
    t0 = time.perf_counter_ns()
    for _ in range(n):
        args, kwargs = build()
        for m in methods:
            m(*args, **kwargs)
    return time.perf_counter_ns() - t0


_counter = [0]


def import_modules(paths):
    """Imports each file under a fresh module name (as the engine's loader does)."""
    t0 = time.perf_counter_ns()
    for path in paths:
        _counter[0] += 1
        name = f"bench_tiny_{_counter[0]}"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return time.perf_counter_ns() - t0

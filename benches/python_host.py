"""Case 4 of the benchmarks: hook dispatch through the Python module.

Compares ``racetrack_plugins.PluginEngine.invoke_plugin_hook`` with a pure-Python
loop doing, per plugin, what Racetrack's own engine does (``hasattr``, a context
manager that adds error context, ``getattr``, the call, ``append``), on the same
10 plugins, in the same process. Target: the Rust engine at least 3x faster.

And the floor: a list comprehension calling the engine's own plugins' bound methods
(``[m() for m in methods]``, what any dispatcher must at least do). Target: the
engine at most 1.5x that.

Run it with the module installed (``scripts/bench.sh`` does that):

    .venv/bin/python benches/python_host.py [--quick]

Prints a readable table and, per case, a machine row ``@@ROW\\tcase\\tengine\\t
baseline\\tratio\\ttarget\\tmet`` (ratio = engine / baseline) that scripts/bench.sh
gathers into its final table.
"""

from __future__ import annotations

import contextlib
import importlib.util
import statistics
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any, Callable, Iterator, List

PLUGINS = 10
HOOK = "fatman_runtime_env_vars"


def plugin_source(i: int) -> str:
    # The same source as benches/engine.rs uses.
    return (
        "class Plugin:\n"
        "    def fatman_runtime_env_vars(self):\n"
        f'        return {{"PLUGIN_{i}_URL": "http://plugin-{i}.local"}}\n'
        "\n"
        "    def racetrack_event(self, name, user=None):\n"
        f"        return {i}\n"
        "\n"
        "    def post_fatman_deploy(self, manifest, fatman, image_name, deployer_username=None):\n"
        "        return None\n"
    )


def write_zips(plugins_dir: Path) -> None:
    plugins_dir.mkdir(parents=True, exist_ok=True)
    for i in range(PLUGINS):
        name = f"bench-plugin-{i:03}"
        manifest = f"name: {name}\nversion: '1.0.0'\npriority: {i}\n"
        with zipfile.ZipFile(plugins_dir / f"{name}-1.0.0.zip", "w") as zf:
            zf.writestr("plugin-manifest.yaml", manifest)
            zf.writestr("plugin.py", plugin_source(i))


# --- What Racetrack's engine does per call (racetrack_commons.plugin.engine) -----------


class ContextError(RuntimeError):
    pass


@contextlib.contextmanager
def wrap_context(context_name: str) -> Iterator[None]:
    """racetrack_commons' error-context manager: re-raises with what was being done."""
    try:
        yield
    except Exception as e:
        raise ContextError(context_name) from e


class PluginData:
    def __init__(self, name: str, instance: Any) -> None:
        self.plugin_manifest_name = name
        self.plugin_instance = instance


def python_engine_invoke(plugins: List[PluginData], function_name: str) -> List[Any]:
    results = []
    for plugin_data in plugins:
        if hasattr(plugin_data.plugin_instance, function_name):
            with wrap_context(
                f"calling hook {function_name} from plugin {plugin_data.plugin_manifest_name}"
            ):
                result = getattr(plugin_data.plugin_instance, function_name)()
                results.append(result)
    return results


def python_plugins(source_dir: Path) -> List[PluginData]:
    """The same plugins, imported and instantiated by plain Python."""
    source_dir.mkdir(parents=True, exist_ok=True)
    plugins = []
    for i in range(PLUGINS):
        path = source_dir / f"plugin_{i:03}.py"
        path.write_text(plugin_source(i))
        spec = importlib.util.spec_from_file_location(f"bench_py_plugin_{i}", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        plugins.append(PluginData(f"bench-plugin-{i:03}", module.Plugin()))
    return plugins


# --- Measuring -------------------------------------------------------------------------


def per_call_ns(fn: Callable[[], Any], sample_s: float, samples: int) -> List[float]:
    """Nanoseconds per call of ``fn``, one figure per sample."""
    n = 1
    while True:  # calibrate
        t0 = time.perf_counter_ns()
        for _ in range(n):
            fn()
        took = time.perf_counter_ns() - t0
        if took >= sample_s * 1e9 / 4 or samples == 1:
            break
        n *= 4
    n = max(1, int(n * (sample_s * 1e9) / max(took, 1)))
    out = []
    for _ in range(samples):
        t0 = time.perf_counter_ns()
        for _ in range(n):
            fn()
        out.append((time.perf_counter_ns() - t0) / n)
    return out


def measure_pair(
    engine: Callable[[], Any], baseline: Callable[[], Any], quick: bool
) -> "tuple[float, float]":
    samples, sample_s = (1, 0.001) if quick else (15, 0.06)
    e: List[float] = []
    b: List[float] = []
    for _ in range(samples):  # alternate, so both see the same machine state
        e += per_call_ns(engine, sample_s, 1)
        b += per_call_ns(baseline, sample_s, 1)
    return statistics.median(e), statistics.median(b)


def fmt_ns(ns: float) -> str:
    if ns >= 1e6:
        return f"{ns / 1e6:.2f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.2f} µs"
    return f"{ns:.1f} ns"


def report(case: str, engine: float, baseline: float, max_ratio: float) -> None:
    ratio = engine / baseline
    met = "yes" if ratio <= max_ratio else "NO"
    target = f"<= {max_ratio:.2f}x"
    e, b = fmt_ns(engine), fmt_ns(baseline)
    print(f"{case:<58} {e:>12} {b:>12} {ratio:>7.2f}x {target:>9} {met:>4}")
    print(f"@@ROW\t{case}\t{e}\t{b}\t{ratio:.2f}x\t{target}\t{met}", flush=True)


def main() -> int:
    quick = "--quick" in sys.argv
    try:
        import racetrack_plugins
    except ImportError as e:
        print(f"racetrack_plugins is not importable ({e}); run scripts/bench.sh", file=sys.stderr)
        return 2

    with tempfile.TemporaryDirectory(prefix="rt-bench-host-") as tmp:
        root = Path(tmp)
        write_zips(root / "plugins")
        engine = racetrack_plugins.PluginEngine(str(root / "plugins"))
        plugins = python_plugins(root / "py-plugins")

        # Same answers either way.
        rust_results = engine.invoke_plugin_hook(HOOK)
        py_results = python_engine_invoke(plugins, HOOK)
        assert rust_results == py_results, (rust_results, py_results)
        assert len(rust_results) == PLUGINS

        print(
            f"{'case':<58} {'engine':>12} {'baseline':>12} {'ratio':>8} {'target':>9} {'met':>4}"
        )
        e, b = measure_pair(
            lambda: engine.invoke_plugin_hook(HOOK),
            lambda: python_engine_invoke(plugins, HOOK),
            quick,
        )
        report(
            f"python host: invoke_plugin_hook({HOOK!r}), per plugin-call",
            e / PLUGINS,
            b / PLUGINS,
            1 / 3,
        )
        # The floor: the same bound methods of the engine's own plugin instances, called
        # by a list comprehension (no lookup, no error context, no ordering).
        methods = [getattr(p.plugin_instance, HOOK) for p in engine.plugins_data]
        assert [m() for m in methods] == rust_results
        e, b = measure_pair(
            lambda: engine.invoke_plugin_hook(HOOK),
            lambda: [m() for m in methods],
            quick,
        )
        report(
            f"python host: invoke_plugin_hook({HOOK!r}) vs [m() for m in methods]",
            e / PLUGINS,
            b / PLUGINS,
            1.5,
        )
        # Racetrack names hooks by function (PluginCore.fatman_runtime_env_vars).
        hook_fn = racetrack_plugins.PluginCore.fatman_runtime_env_vars
        e, b = measure_pair(
            lambda: engine.invoke_plugin_hook(hook_fn),
            lambda: python_engine_invoke(plugins, hook_fn.__name__),
            quick,
        )
        report(
            "python host: invoke_plugin_hook(PluginCore.<hook>), per plugin-call",
            e / PLUGINS,
            b / PLUGINS,
            1 / 3,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Loading plugins and calling hooks through the Python API: the public names, the
sample plugin, call order, ``PluginCore``, keyword pruning, arguments, finding
plugins and the engine's options."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import racetrack_plugins
from racetrack_plugins import (
    PluginCore,
    PluginData,
    PluginEngine,
    PluginNotFoundError,
    bundle_plugin,
)

from conftest import SAMPLE_DIR, install, write_plugin_zip


@pytest.fixture
def sample_engine(tmp_path: Path, plugins_dir: Path) -> PluginEngine:
    out = tmp_path / "dist"
    out.mkdir()
    zip_path = bundle_plugin(SAMPLE_DIR, out_dir=out)
    engine = PluginEngine(plugins_dir)
    install(engine, zip_path)
    return engine


def test_public_names() -> None:
    for name in racetrack_plugins.__all__:
        assert hasattr(racetrack_plugins, name), name
    assert racetrack_plugins.PluginManifest.__name__ == "PluginManifest"
    assert issubclass(racetrack_plugins.PluginNotFoundError, racetrack_plugins.PluginError)
    assert issubclass(racetrack_plugins.PluginNotFoundError, LookupError)
    assert issubclass(racetrack_plugins.PluginHookError, racetrack_plugins.PluginError)
    assert issubclass(racetrack_plugins.PluginInstallError, racetrack_plugins.PluginError)


def test_sample_plugin_loads_and_answers(sample_engine: PluginEngine, capsys: pytest.CaptureFixture[str]) -> None:
    (data,) = sample_engine.plugins_data
    assert isinstance(data, PluginData)
    assert data.plugin_manifest.name == "skynet-watcher"
    assert data.plugin_manifest.version == "1.2.3"
    assert data.plugin_manifest.priority == -1
    assert data.status == "loaded" and data.error is None
    assert isinstance(data.plugin_dir, Path) and (data.plugin_dir / "plugin.py").is_file()
    assert isinstance(data.config_path, Path) and data.config_path.name == "config.yaml"
    assert isinstance(data.zip_path, Path) and data.zip_path.is_file()
    assert data.plugin_instance.plugin_manifest == data.plugin_manifest
    assert [m.name for m in sample_engine.plugin_manifests] == ["skynet-watcher"]

    env = sample_engine.invoke_plugin_hook(PluginCore.fatman_runtime_env_vars)
    assert env == [{"SKYNET_WATCHER": "enabled", "SKYNET_WATCHER_VERSION": "1.2.3"}]
    assert sample_engine.invoke_plugin_hook("fatman_runtime_env_vars") == env
    # Hooks it does not implement are not called at all.
    assert sample_engine.invoke_plugin_hook(PluginCore.fatman_job_types, "registry/ns") == []

    manifest = SimpleNamespace(git=SimpleNamespace(remote="https://example.com/repo"))
    fatman = SimpleNamespace(name="adder", version="0.0.1")
    result = sample_engine.invoke_plugin_hook(
        PluginCore.post_fatman_deploy, manifest, fatman, "img:1", deployer_username="admin"
    )
    assert result == [None]
    assert "admin deployed fatman adder 0.0.1 from https://example.com/repo as img:1" in capsys.readouterr().out

    docs = sample_engine.invoke_one_plugin_hook("skynet-watcher", PluginCore.markdown_docs)
    assert isinstance(docs, str) and docs.startswith("# skynet-watcher")


def test_call_order_by_priority_and_origin(plugins_dir: Path, make_zip: Any) -> None:
    code = """
        class Plugin:
            def who(self):
                return self.plugin_manifest.name
    """
    engine = PluginEngine(plugins_dir)
    for name, priority in [("late", 5), ("early", -3), ("middle", 0)]:
        install(engine, make_zip(name, "1.0.0", code, priority=priority))
    assert engine.invoke_plugin_hook("who") == ["early", "middle", "late"]
    pairs = engine.invoke_hook_with_origin("who")
    assert [(d.plugin_manifest.name, r) for d, r in pairs] == [
        ("early", "early"),
        ("middle", "middle"),
        ("late", "late"),
    ]
    assert all(isinstance(d, PluginData) for d, _ in pairs)
    assert [d.plugin_manifest.name for d in engine.plugins_data] == ["early", "middle", "late"]


def test_plugin_core_base_and_plain_plugins(plugins_dir: Path, make_zip: Any) -> None:
    engine = PluginEngine(plugins_dir)
    install(
        engine,
        make_zip(
            "based",
            "1.0.0",
            """
            from pathlib import Path
            from racetrack_plugins import PluginCore

            class Plugin(PluginCore):
                def fatman_job_types(self, docker_registry_prefix):
                    return {"python3": (f"{docker_registry_prefix}/python3", Path("Dockerfile"))}
            """,
            priority=1,
        ),
    )
    install(
        engine,
        make_zip(
            "plain",
            "1.0.0",
            """
            class Plugin:
                def fatman_job_types(self, docker_registry_prefix):
                    return {"golang": (f"{docker_registry_prefix}/golang", "Dockerfile")}
            """,
            priority=2,
        ),
    )
    results = engine.invoke_plugin_hook(PluginCore.fatman_job_types, "reg")
    assert results == [
        {"python3": ("reg/python3", Path("Dockerfile"))},
        {"golang": ("reg/golang", "Dockerfile")},
    ]
    # PluginCore's defaults answer for hooks the subclass leaves out.
    assert engine.invoke_plugin_hook(PluginCore.fatman_deployers) == [{}]
    assert engine.invoke_plugin_hook(PluginCore.markdown_docs) == [None]
    assert engine.invoke_one_plugin_hook("plain", PluginCore.markdown_docs) is None
    assert engine.invoke_one_plugin_hook("based", "fatman_job_types", "x") == {
        "python3": ("x/python3", Path("Dockerfile"))
    }


def test_plugin_core_has_every_seed_hook() -> None:
    import inspect

    expected = {
        "post_fatman_deploy": ["self", "manifest", "fatman", "image_name", "deployer_username"],
        "fatman_runtime_env_vars": ["self"],
        "fatman_job_types": ["self", "docker_registry_prefix"],
        "fatman_deployers": ["self"],
        "fatman_monitors": ["self"],
        "fatman_logs_streamers": ["self"],
        "markdown_docs": ["self"],
        "post_fatman_delete": ["self", "fatman", "username_executor"],
    }
    core = PluginCore()
    for hook, params in expected.items():
        function = getattr(PluginCore, hook)
        assert list(inspect.signature(function).parameters) == params, hook
        assert function.__doc__, hook
        args = [None] * (len(params) - 1)
        result = getattr(core, hook)(*args)
        assert result in (None, {}), hook
    assert core.fatman_job_types("x") == {}


def test_kwargs_are_pruned_per_implementation(plugins_dir: Path, make_zip: Any) -> None:
    engine = PluginEngine(plugins_dir)
    install(
        engine,
        make_zip("a", "1.0.0", """
            class Plugin:
                def greet(self, name):
                    return f"hello {name}"
        """, priority=1),
    )
    install(
        engine,
        make_zip("b", "1.0.0", """
            class Plugin:
                def greet(self, name, punctuation="."):
                    return f"hi {name}{punctuation}"
        """, priority=2),
    )
    install(
        engine,
        make_zip("c", "1.0.0", """
            class Plugin:
                def greet(self, name, **kwargs):
                    return sorted(kwargs)
        """, priority=3),
    )
    results = engine.invoke_plugin_hook("greet", "bob", punctuation="!", newer_arg=1)
    assert results == ["hello bob", "hi bob!", ["newer_arg", "punctuation"]]
    # A keyword named like the engine's own parameters goes to the hook.
    assert engine.invoke_plugin_hook("greet", name="amy") == ["hello amy", "hi amy.", []]
    # Keys built at run time (not interned, new objects each call) are matched by text,
    # and what one call kept is not reused for another call's keys.
    for suffix in ("!", "?"):
        built = {"".join(["punct", "uation"]): suffix, "".join(["new", "er"]): 2}
        assert engine.invoke_plugin_hook("greet", "eve", **built) == [
            "hello eve",
            f"hi eve{suffix}",
            ["newer", "punctuation"],
        ]
    assert engine.invoke_plugin_hook("greet", "bob", punctuation="!", newer_arg=1) == results
    assert engine.invoke_one_plugin_hook("b", "greet", "eve", punctuation="?", hook=1) == "hi eve?"


@dataclasses.dataclass
class FatmanRecord:
    name: str
    version: str


class ModelLike:
    """Looks like a pydantic model: has dict() and model_dump()."""

    def __init__(self, name: str) -> None:
        self.name = name

    def dict(self) -> dict[str, str]:
        return {"name": self.name}

    def model_dump(self) -> dict[str, str]:
        return self.dict()


def test_arguments_reach_plugins_as_the_same_objects(plugins_dir: Path, make_zip: Any) -> None:
    engine = PluginEngine(plugins_dir)
    code = """
        class Plugin:
            def echo(self, obj, other=None):
                obj.seen_by = getattr(obj, "seen_by", []) + [self.plugin_manifest.name]
                return obj, other
    """
    install(engine, make_zip("first", "1.0.0", code, priority=1))
    install(engine, make_zip("second", "1.0.0", code, priority=2))
    record = FatmanRecord("adder", "1.0.0")
    model = ModelLike("m")
    results = engine.invoke_plugin_hook("echo", record, other=model)
    assert len(results) == 2
    for obj, other in results:
        assert obj is record
        assert other is model
    assert record.seen_by == ["first", "second"]  # type: ignore[attr-defined]
    one = engine.invoke_one_plugin_hook("second", "echo", model)
    assert one[0] is model


def test_find_plugin(plugins_dir: Path, make_zip: Any) -> None:
    engine = PluginEngine(plugins_dir)
    code = "class Plugin:\n    pass\n"
    install(engine, make_zip("multi", "1.0.0", code))
    install(engine, make_zip("multi", "2.0.0", code))
    assert engine.find_plugin("multi", "2.0.0").plugin_manifest.version == "2.0.0"
    assert engine.find_plugin("multi").plugin_manifest.name == "multi"
    with pytest.raises(PluginNotFoundError):
        engine.find_plugin("multi", "3.0.0")
    with pytest.raises(LookupError):
        engine.find_plugin("missing")
    with pytest.raises(PluginNotFoundError):
        engine.invoke_one_plugin_hook("missing", "anything")


def test_hook_argument_must_be_name_or_function(sample_engine: PluginEngine) -> None:
    with pytest.raises(TypeError):
        sample_engine.invoke_plugin_hook(42)  # type: ignore[arg-type]


def test_default_plugins_dir_from_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "from-env"
    monkeypatch.setenv("RACETRACK_PLUGINS_DIR", str(target))
    assert PluginEngine().plugins_dir == target
    monkeypatch.delenv("RACETRACK_PLUGINS_DIR")
    monkeypatch.chdir(tmp_path)
    assert PluginEngine().plugins_dir == tmp_path / "plugins"
    assert (tmp_path / "plugins").is_dir()


def test_constructor_options(plugins_dir: Path, make_zip: Any) -> None:
    write_plugin_zip(plugins_dir, "lc", "1.0.0", "class Plugin: pass\n", manifest_extra="components: [lifecycle]\n")
    engine = PluginEngine(os.fspath(plugins_dir), component="image-builder", watch_interval=None)
    assert engine.component == "image-builder"
    (row,) = engine.plugins_status()
    assert row["status"] == "skipped"
    assert engine.plugins_data == []
    assert PluginEngine(plugins_dir, component="lifecycle").plugins_data[0].plugin_manifest.components == ["lifecycle"]
    with pytest.raises(ValueError):
        PluginEngine(plugins_dir, installer="conda")
    with pytest.raises(ValueError):
        PluginEngine(plugins_dir, watch_interval=-1.0)

"""Hook failures: PluginHookError, chained to the plugin's own exception."""

from __future__ import annotations

import logging
import pickle
import traceback
from pathlib import Path
from typing import Any

import pytest

from racetrack_plugins import PluginCore, PluginEngine, PluginError, PluginHookError

from conftest import write_plugin_zip

FAILING = """
    class DeployRefused(RuntimeError):
        pass

    class Plugin:
        def post_fatman_deploy(self, manifest, fatman, image_name, deployer_username=None):
            self._refuse(fatman)

        def _refuse(self, fatman):
            raise DeployRefused(f"no deploying {fatman} today")

        def interrupt(self):
            raise KeyboardInterrupt()

        def leave(self):
            import sys
            sys.exit(4)
"""

RECORDING = """
    CALLS = []

    class Plugin:
        def post_fatman_deploy(self, manifest, fatman, image_name, deployer_username=None):
            CALLS.append(fatman)
            return "called"

        def calls(self):
            return list(CALLS)
"""


@pytest.fixture
def engine(plugins_dir: Path, make_zip: Any) -> PluginEngine:
    engine = PluginEngine(plugins_dir)
    for path in [
        make_zip("failing", "0.1.0", FAILING, priority=1),
        make_zip("recording", "0.2.0", RECORDING, priority=2),
    ]:
        engine.upload_plugin(path.name, path.read_bytes())
    return engine


def test_hook_error_is_chained_to_the_original(engine: PluginEngine) -> None:
    with pytest.raises(PluginHookError) as info:
        engine.invoke_plugin_hook(PluginCore.post_fatman_deploy, {}, "adder", "img")
    err = info.value
    assert isinstance(err, PluginError)
    assert err.plugin == "failing"
    assert err.version == "0.1.0"
    assert err.hook == "post_fatman_deploy"
    cause = err.__cause__
    assert cause is not None
    assert type(cause).__name__ == "DeployRefused"
    assert isinstance(cause, RuntimeError)
    assert str(cause) == "no deploying adder today"
    assert err.__suppress_context__
    assert "failing 0.1.0" in str(err) and "DeployRefused" in str(err)

    # The plugin's frames are in the traceback text, both as formatted by Python and
    # as the attribute.
    text = "".join(traceback.format_exception(type(err), err, err.__traceback__))
    assert "_refuse" in text and "plugin.py" in text
    assert "The above exception was the direct cause" in text
    assert "_refuse" in err.traceback_text and "DeployRefused" in err.traceback_text


def test_first_failure_stops_the_call(engine: PluginEngine) -> None:
    with pytest.raises(PluginHookError):
        engine.invoke_plugin_hook("post_fatman_deploy", {}, "adder", "img")
    # "recording" comes after "failing", so it was never called.
    assert engine.invoke_plugin_hook("calls") == [[]]
    assert engine.invoke_one_plugin_hook("recording", "post_fatman_deploy", {}, "f", "i") == "called"


def test_invoke_one_wraps_errors_too(engine: PluginEngine) -> None:
    with pytest.raises(PluginHookError) as info:
        engine.invoke_one_plugin_hook("failing", PluginCore.post_fatman_deploy, {}, "x", "img")
    assert info.value.plugin == "failing"
    assert type(info.value.__cause__).__name__ == "DeployRefused"


def test_keyboard_interrupt_passes_through(engine: PluginEngine) -> None:
    with pytest.raises(KeyboardInterrupt):
        engine.invoke_plugin_hook("interrupt")


def test_sys_exit_in_a_hook_does_not_stop_the_host(engine: PluginEngine) -> None:
    with pytest.raises(PluginHookError) as info:
        engine.invoke_plugin_hook("leave")
    assert (info.value.plugin, info.value.hook) == ("failing", "leave")
    assert isinstance(info.value.__cause__, SystemExit)
    assert info.value.__cause__.code == 4


def test_hook_error_pickles(engine: PluginEngine) -> None:
    with pytest.raises(PluginHookError) as info:
        engine.invoke_plugin_hook("post_fatman_deploy", {}, "adder", "img")
    copy = pickle.loads(pickle.dumps(info.value))
    assert (copy.plugin, copy.version, copy.hook) == ("failing", "0.1.0", "post_fatman_deploy")
    assert str(copy) == str(info.value)


def test_engine_logs_go_to_python_logging(engine: PluginEngine, caplog: pytest.LogCaptureFixture) -> None:
    # A raising hook is the caller's to report (it gets the exception): logged at
    # DEBUG only, so a host that handles it sees no traceback on stderr.
    with caplog.at_level(logging.DEBUG, logger="racetrack_plugins"):
        with pytest.raises(PluginHookError):
            engine.invoke_plugin_hook("post_fatman_deploy", {}, "adder", "img")
    records = [r for r in caplog.records if r.name.startswith("racetrack_plugins.")]
    about_it = [r for r in records if "DeployRefused" in r.getMessage()]
    assert about_it, records
    assert all(r.levelno == logging.DEBUG for r in about_it)


def test_a_rejected_upload_says_which_file_failed_and_why(plugins_dir: Path, make_zip: Any) -> None:
    from racetrack_plugins import PluginInstallError

    engine = PluginEngine(plugins_dir, watch_interval=None)
    bad = make_zip("broken", "1.0.0", "raise LookupError('no such table')\n")
    with pytest.raises(PluginInstallError) as info:
        engine.upload_plugin(bad.name, bad.read_bytes())
    text = str(info.value)
    # What was refused, then the cause, each once, naming the uploaded file.
    assert text.startswith("broken-1.0.0.zip: plugin broken 1.0.0 failed to load, nothing was installed: ")
    assert "broken-1.0.0.zip/plugin.py: loading the plugin raised: LookupError: no such table" in text
    assert text.count("nothing was installed") == 1
    assert engine.plugins_status() == []


def test_every_exception_a_hook_raises_is_that_hooks_error(tmp_path: Path, plugins_dir: Path) -> None:
    code = """
        class Boom(BaseException):
            pass

        class Plugin:
            def act(self):
                raise Boom("bang")
    """
    engine = PluginEngine(plugins_dir)
    zip_path = write_plugin_zip(tmp_path / "z", "bomber", "1.0", code)
    engine.upload_plugin(zip_path.name, zip_path.read_bytes())
    with pytest.raises(PluginHookError) as info:
        engine.invoke_plugin_hook("act")
    assert info.value.plugin == "bomber" and info.value.hook == "act"
    assert type(info.value.__cause__).__name__ == "Boom"
    assert "Boom: bang" in str(info.value)


def test_timeout_keyword_interrupts_a_slow_hook_with_hook_timeout(
    tmp_path: Path, plugins_dir: Path
) -> None:
    from racetrack_plugins import HookTimeout

    engine = PluginEngine(plugins_dir)
    for name, priority, code in [
        ("spin", 1, "class Plugin:\n    def work(self, n=0):\n        while True:\n            pass\n"),
        ("fast", 2, "class Plugin:\n    def work(self, n=0):\n        return n\n"),
    ]:
        zip_path = write_plugin_zip(tmp_path / "z", name, "1.0", code, priority=priority)
        engine.upload_plugin(zip_path.name, zip_path.read_bytes())
    with pytest.raises(HookTimeout) as info:
        engine.invoke_plugin_hook("work", n=5, timeout=0.3)
    assert isinstance(info.value, PluginHookError)
    assert (info.value.plugin, info.value.version, info.value.hook) == ("spin", "1.0", "work")
    assert info.value.timeout == 0.3
    assert str(info.value) == "plugin spin 1.0: hook work timed out after 0.3s"
    # `timeout` is the engine's keyword, never passed to the hook.
    assert engine.invoke_one_plugin_hook("fast", "work", n=5, timeout=5) == 5
    with pytest.raises(ValueError, match="more than 0 seconds"):
        engine.invoke_plugin_hook("work", timeout=0)

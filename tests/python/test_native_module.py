"""The extension module itself: built as a Python extension, not an embedding."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

import racetrack_plugins._native as native


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or shutil.which("ldd") is None,
    reason="checks ELF dependencies with ldd (Linux only)",
)
def test_extension_does_not_link_libpython() -> None:
    out = subprocess.run(["ldd", native.__file__], capture_output=True, text=True, check=True).stdout
    assert "libpython" not in out, out


def test_exceptions_are_shared_with_the_package() -> None:
    import racetrack_plugins

    for name in ["PluginError", "PluginHookError", "PluginInstallError", "PluginNotFoundError"]:
        assert getattr(native, name) is getattr(racetrack_plugins, name)
        assert getattr(racetrack_plugins, name).__module__ == "racetrack_plugins.errors"


def test_classes_live_in_the_package_namespace() -> None:
    for cls in [native.NativeEngine, native.PluginManifest, native.PluginData]:
        assert cls.__module__ == "racetrack_plugins"
    assert native.NativeEngine.__doc__

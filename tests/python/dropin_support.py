"""Helpers for the drop-in tests: the Racetrack-style fixture plugins and zips of them."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Optional

DROPIN = Path(__file__).resolve().parents[1] / "fixtures" / "dropin"
PLUGINS = DROPIN / "plugins"
JOB_TYPE = "python3-job-type"
INFRA = "docker-infrastructure"


def fixture_zip(dest: Path, name: str, version: Optional[str] = None) -> Path:
    """Zips the fixture plugin ``name`` (at ``version`` when given) into ``dest``."""
    src = PLUGINS / name
    manifest = (src / "plugin-manifest.yaml").read_text()
    if version is None:
        version = next(l.split(":", 1)[1].strip() for l in manifest.splitlines() if l.startswith("version:"))
    dest.mkdir(parents=True, exist_ok=True)
    path = dest / f"{name}-{version}.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for file in sorted(src.rglob("*")):
            if not file.is_file():
                continue
            text = file.read_text()
            if file.name == "plugin-manifest.yaml":
                text = "\n".join(
                    f"version: {version}" if l.startswith("version:") else l for l in text.splitlines()
                )
            zf.writestr(file.relative_to(src).as_posix(), text)
    return path

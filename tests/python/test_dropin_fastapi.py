"""Lifecycle's plugin endpoints, written as Racetrack writes them (routes, response
models, error handlers mapping Racetrack's exceptions), served on our engine."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any, List, Optional

import pytest

pytest.importorskip("racetrack_client")
pytest.importorskip("fastapi")

from fastapi import APIRouter, FastAPI, HTTPException, Request, Response, UploadFile
from fastapi.responses import FileResponse, JSONResponse
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field
from racetrack_client.log.errors import AlreadyExists, EntityNotFound
from racetrack_client.plugin.plugin_manifest import PluginManifest

from racetrack_plugins import PluginEngine

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "dropin" / "plugins"


def bundle(name: str, version: Optional[str] = None) -> bytes:
    """The fixture plugin ``name`` as zip bytes, at ``version`` when given."""
    src = FIXTURES / name
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for path in sorted(src.rglob("*")):
            if path.is_file():
                text = path.read_text()
                if path.name == "plugin-manifest.yaml" and version is not None:
                    text = "\n".join(
                        f"version: {version}" if line.startswith("version:") else line
                        for line in text.splitlines()
                    )
                zf.writestr(path.relative_to(src).as_posix(), text)
    return buf.getvalue()


class PluginUpdate(BaseModel):
    config_data: str = Field(description="text content of configuration file")


class PluginCore:
    """The hooks the endpoints name, as Racetrack's PluginCore declares them."""

    def markdown_docs(self) -> Optional[str]:
        return None

    def run_action(self, **kwargs: Any) -> Any:
        return None


def setup_plugin_endpoints(api: APIRouter, plugin_engine: PluginEngine) -> None:
    # As lifecycle/endpoints/plugin.py, without auth and audit log.
    @api.get("/plugin/{plugin_name}/{plugin_version}/download")
    def _download_installed_plugin_version(plugin_name: str, plugin_version: str) -> Response:
        plugin_path = plugin_engine.plugins_path / f"{plugin_name}-{plugin_version}.zip"
        if not plugin_path.exists():
            raise HTTPException(status_code=404, detail=f"Plugin '{plugin_name}' version '{plugin_version}' not found")
        return FileResponse(plugin_path, media_type="application/zip", filename=plugin_path.name)

    @api.get("/plugin", response_model=List[PluginManifest])
    def _info_plugins() -> List[PluginManifest]:
        return plugin_engine.plugin_manifests

    @api.post("/plugin/upload")
    def _upload_plugin(file: UploadFile, request: Request, replace: int = 0) -> None:
        file_bytes = file.file.read()
        assert file.filename is not None
        manifest = plugin_engine.upload_plugin(file.filename, file_bytes, bool(replace))
        assert isinstance(manifest, PluginManifest)

    @api.post("/plugin/upload/{filename}")
    async def _upload_plugin_bytes(filename: str, request: Request, replace: int = 0) -> PluginManifest:
        import asyncio

        file_bytes: bytes = await request.body()
        loop = asyncio.get_running_loop()
        manifest = await loop.run_in_executor(None, plugin_engine.upload_plugin, filename, file_bytes, bool(replace))
        return manifest  # type: ignore[no-any-return]

    @api.delete("/plugin/{plugin_name}/{plugin_version}")
    def _delete_plugin_by_version(plugin_name: str, plugin_version: str, request: Request) -> None:
        plugin_engine.delete_plugin_by_version(plugin_name, plugin_version)

    @api.delete("/plugin/all")
    def _delete_all_plugins(request: Request) -> None:
        plugin_engine.delete_all_plugins()

    @api.get("/plugin/{plugin_name}/{plugin_version}/config")
    def _read_plugin_config(plugin_name: str, plugin_version: str, request: Request) -> str:
        return plugin_engine.read_plugin_config(plugin_name, plugin_version)

    @api.put("/plugin/{plugin_name}/{plugin_version}/config")
    def _write_plugin_config(payload: PluginUpdate, plugin_name: str, plugin_version: str, request: Request) -> None:
        plugin_engine.write_plugin_config(plugin_name, plugin_version, payload.config_data)

    @api.get("/plugin/{plugin_name}/docs")
    def _info_plugin_docs(plugin_name: str) -> Optional[str]:
        return plugin_engine.invoke_one_plugin_hook(plugin_name, PluginCore.markdown_docs)  # type: ignore[no-any-return]

    @api.post("/plugin/{plugin_name}/run")
    def _run_plugin_action(plugin_name: str, payload_params: dict[str, Any], request: Request) -> Any:
        params = dict(request.query_params)
        params.update(payload_params)
        return plugin_engine.invoke_one_plugin_hook(plugin_name, PluginCore.run_action, **params)


def create_app(plugin_engine: PluginEngine) -> FastAPI:
    app = FastAPI()

    # As racetrack_commons.api.asgi.error_handler.
    @app.exception_handler(EntityNotFound)
    def not_found_error_handler(request: Request, error: EntityNotFound) -> JSONResponse:
        return JSONResponse(content={"error": str(error), "type": type(error).__name__}, status_code=404)

    @app.exception_handler(AlreadyExists)
    def already_exists_handler(request: Request, error: AlreadyExists) -> JSONResponse:
        return JSONResponse(content={"error": str(error), "type": type(error).__name__}, status_code=409)

    router = APIRouter(prefix="/api/v1")
    setup_plugin_endpoints(router, plugin_engine)
    app.include_router(router)
    return app


def test_lifecycle_plugin_endpoints_on_our_engine(tmp_path: Path) -> None:
    engine = PluginEngine(str(tmp_path / "plugins"), watch_interval=None)
    client = TestClient(create_app(engine))

    assert client.get("/api/v1/plugin").json() == []

    # Upload, both ways lifecycle accepts.
    r = client.post(
        "/api/v1/plugin/upload",
        files={"file": ("python3-job-type-2.4.0.zip", bundle("python3-job-type"), "application/zip")},
    )
    assert r.status_code == 200, r.text
    r = client.post("/api/v1/plugin/upload/docker-infrastructure.zip", content=bundle("docker-infrastructure"))
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "docker-infrastructure" and r.json()["category"] == "infrastructure"

    # A second infrastructure plugin of that name: Racetrack's AlreadyExists, 409.
    r = client.post(
        "/api/v1/plugin/upload/docker-infrastructure-1.2.0.zip",
        content=bundle("docker-infrastructure", "1.2.0"),
    )
    assert r.status_code == 409, r.text
    assert r.json()["type"] == "PluginAlreadyExistsError"

    listed = client.get("/api/v1/plugin").json()
    assert sorted((m["name"], m["version"]) for m in listed) == [
        ("docker-infrastructure", "1.1.0"),
        ("python3-job-type", "2.4.0"),
    ]
    job_type = next(m for m in listed if m["name"] == "python3-job-type")
    assert job_type == {
        "name": "python3-job-type",
        "version": "2.4.0",
        "build_date": None,
        "url": "https://github.com/TheRacetrack/plugin-python-job-type",
        "priority": 7,
        "category": "job-type",
        "components": [],
    }

    # Docs: the newest version answers.
    client.post("/api/v1/plugin/upload/python3-job-type-2.10.0.zip", content=bundle("python3-job-type", "2.10.0"))
    r = client.get("/api/v1/plugin/python3-job-type/docs")
    assert r.status_code == 200 and r.json().startswith("# Python 3 job type")
    assert client.get("/api/v1/plugin/docker-infrastructure/docs").json() == "Deploys jobs to the local Docker daemon."

    # Config: empty at first, written, read back.
    assert client.get("/api/v1/plugin/python3-job-type/2.4.0/config").json() == ""
    r = client.put("/api/v1/plugin/python3-job-type/2.4.0/config", json={"config_data": "registry: r.example\n"})
    assert r.status_code == 200, r.text
    assert client.get("/api/v1/plugin/python3-job-type/2.4.0/config").json() == "registry: r.example\n"

    # Download: the installed zip, byte for byte.
    r = client.get("/api/v1/plugin/python3-job-type/2.10.0/download")
    assert r.status_code == 200
    assert r.content == (engine.plugins_path / "python3-job-type-2.10.0.zip").read_bytes()
    with zipfile.ZipFile(engine.plugins_path / "python3-job-type-2.10.0.zip") as zf:
        assert "job-template.Dockerfile" in zf.namelist()

    # Missing plugins: 404 through Racetrack's EntityNotFound handler.
    r = client.get("/api/v1/plugin/no-such-plugin/docs")
    assert r.status_code == 404 and "no-such-plugin" in r.json()["error"]
    assert client.get("/api/v1/plugin/no-such-plugin/1.0.0/config").status_code == 404
    assert client.delete("/api/v1/plugin/no-such-plugin/1.0.0").status_code == 404
    assert client.get("/api/v1/plugin/no-such-plugin/1.0.0/download").status_code == 404

    # Delete one version, then everything.
    assert client.delete("/api/v1/plugin/python3-job-type/2.4.0").status_code == 200
    assert sorted(m["version"] for m in client.get("/api/v1/plugin").json()) == ["1.1.0", "2.10.0"]
    assert client.delete("/api/v1/plugin/all").status_code == 200
    assert client.get("/api/v1/plugin").json() == []
    assert list(engine.plugins_path.glob("*.zip")) == []

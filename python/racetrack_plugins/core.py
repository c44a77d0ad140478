"""``PluginCore``: an optional base class listing every hook Racetrack calls.

Plugins do not have to inherit from it; the engine looks hooks up by name. It is
handy for type checkers and for naming a hook at the call site::

    engine.invoke_plugin_hook(PluginCore.fatman_job_types, docker_registry_prefix)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Optional, Tuple

from ._native import PluginManifest  # Racetrack's, when installed (same fields)

__all__ = ["PluginCore", "Manifest", "FatmanDto"]

#: Racetrack's fatman manifest model (a pydantic model in Racetrack).
Manifest = Any
#: Racetrack's fatman record (a pydantic model in Racetrack).
FatmanDto = Any


class PluginCore:
    """Every hook with its default behaviour: do nothing, contribute nothing."""

    #: Set by the engine on the plugin class before it is instantiated.
    plugin_manifest: PluginManifest
    #: Folder the plugin's code was extracted to.
    plugin_dir: Path
    #: The plugin's config file (may be empty), kept across upgrades of the same version.
    config_path: Path

    def post_fatman_deploy(
        self,
        manifest: Manifest,
        fatman: FatmanDto,
        image_name: str,
        deployer_username: Optional[str] = None,
    ) -> None:
        """Supplementary actions invoked after fatman is deployed"""
        return None

    def fatman_runtime_env_vars(self) -> Optional[Dict[str, str]]:
        """Supplementary env vars dictionary added to runtime vars when deploying a Fatman"""
        return None

    def fatman_job_types(self, docker_registry_prefix: str) -> Dict[str, Tuple[str, Path]]:
        """
        Job types provided by this plugin
        :param docker_registry_prefix: prefix for the image names (docker registry + namespace)
        :return dict of job name -> (base image name, dockerfile template path)
        """
        return {}

    def fatman_deployers(self) -> Dict[str, Any]:
        """
        Fatman Deployers provided by this plugin
        :return dict of deployer name -> an instance of lifecycle.deployer.base.FatmanDeployer
        """
        return {}

    def fatman_monitors(self) -> Dict[str, Any]:
        """
        Fatman Monitors provided by this plugin
        :return dict of deployer name -> an instance of lifecycle.monitor.base.FatmanMonitor
        """
        return {}

    def fatman_logs_streamers(self) -> Dict[str, Any]:
        """
        Fatman Monitors provided by this plugin
        :return dict of deployer name -> an instance of lifecycle.monitor.base.LogsStreamer
        """
        return {}

    def markdown_docs(self) -> Optional[str]:
        """Return documentation for this plugin in markdown format"""
        return None

    def post_fatman_delete(self, fatman: FatmanDto, username_executor: Optional[str] = None) -> None:
        """
        Supplementary actions invoked after fatman is deleted
        :param username_executor: username of the user who deleted the fatman
        """
        return None

    # Today's Racetrack (2.x) names its hooks after jobs; hosts such as lifecycle and
    # image-builder call these.

    def post_job_deploy(
        self,
        manifest: Manifest,
        job: Any,
        image_name: str,
        deployer_username: Optional[str] = None,
    ) -> None:
        """Supplementary actions invoked after a job is deployed"""
        return None

    def job_runtime_env_vars(self) -> Optional[Dict[str, str]]:
        """Supplementary env vars added to runtime vars when deploying a job"""
        return None

    def job_types(self) -> Dict[str, Dict[str, Any]]:
        """
        Job types provided by this plugin
        :return dict of job type name with version ("python3:2.4.0") -> its definition,
            e.g. {"images": [{"source": "jobtype", "dockerfile_path": "...", "template": True}]}
        """
        return {}

    def infrastructure_targets(self) -> Dict[str, Any]:
        """
        Infrastructure targets (deployment targets for jobs) provided by this plugin
        :return dict of name -> lifecycle.infrastructure.model.InfrastructureTarget
        """
        return {}

    def run_action(self, **kwargs: Any) -> Any:
        """Call a supplementary action of a plugin"""
        return None

    def post_job_delete(self, job: Any, username_executor: Optional[str] = None) -> None:
        """Supplementary actions invoked after a job is deleted"""
        return None

    def validate_job_manifest(self, manifest: Manifest, job_type: str) -> None:
        """Validate a job's manifest against its job type's rules; raise when invalid"""
        return None

    def on_unload(self) -> None:
        """Called once when the engine lets go of this instance: its plugin was deleted,
        upgraded or replaced, or the plugin set reloaded (every reload, including one
        caused by another process changing the plugins directory, creates new
        instances). Stop threads, close connections and files here; the engine then
        drops every reference it holds, so the instance can be collected. Calls
        already running on this instance may still finish. An exception is logged and
        otherwise ignored. Not a hook: ``invoke_plugin_hook`` never calls it."""
        return None

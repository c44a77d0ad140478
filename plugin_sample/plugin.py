"""Sample Racetrack plugin: copy this folder and change the hooks as you like.

A plugin is plain Python. The engine sets ``plugin_manifest``, ``plugin_dir`` and
``config_path`` on the class before creating it, so ``__init__`` can read them.
Hooks you do not need can simply be left out.
"""
import logging
from typing import Any, Dict, Optional

logger = logging.getLogger(__name__)


class Plugin:
    def __init__(self) -> None:
        logger.info(
            "%s %s loaded from %s",
            self.plugin_manifest.name,
            self.plugin_manifest.version,
            self.plugin_dir,
        )

    def post_fatman_deploy(
        self,
        manifest: Any,
        fatman: Any,
        image_name: str,
        deployer_username: Optional[str] = None,
    ) -> None:
        """Supplementary actions invoked after fatman is deployed"""
        who = deployer_username or "someone"
        print(
            f"Skynet is watching: {who} deployed fatman {fatman.name} {fatman.version}"
            f" from {manifest.git.remote} as {image_name}"
        )

    def fatman_runtime_env_vars(self) -> Optional[Dict[str, str]]:
        """Supplementary env vars dictionary added to runtime vars when deploying a Fatman"""
        return {
            "SKYNET_WATCHER": "enabled",
            "SKYNET_WATCHER_VERSION": self.plugin_manifest.version,
        }

    def markdown_docs(self) -> Optional[str]:
        """Return documentation for this plugin in markdown format"""
        return (
            f"# {self.plugin_manifest.name}\n\n"
            "Watches every fatman deployment and adds `SKYNET_WATCHER` "
            "to the runtime environment of each fatman."
        )

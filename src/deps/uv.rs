//! Building a venv with uv: `uv venv` then `uv pip install`, with every uv
//! configuration file ignored (`--no-config`, `UV_NO_CONFIG`), so a `uv.toml` or a
//! `pyproject.toml` shipped in the plugin (uv runs in the plugin's folder so that
//! relative paths resolve there) changes nothing.

use std::path::Path;
use std::process::Command;

use super::build::Build;
use super::error::{DepsError, Step};
use super::options::Installer;

impl Build<'_> {
    pub(crate) fn build_with_uv(
        &self,
        uv: &Path,
        base: &Path,
        python: &Path,
    ) -> Result<(), DepsError> {
        let mut venv = uv_command(uv);
        venv.arg("venv")
            .arg("--no-config")
            .arg("--system-site-packages")
            .arg("--python")
            .arg(base)
            .arg(self.dir)
            .current_dir(self.venvs_root);
        self.step(Installer::Uv, Step::CreateVenv, venv)?;

        let mut install = uv_command(uv);
        install
            .args(["pip", "install", "--no-config", "--python"])
            .arg(python);
        self.add_install_args(&mut install);
        self.step(Installer::Uv, Step::Install, install)
    }
}

fn uv_command(uv: &Path) -> Command {
    let mut cmd = Command::new(uv);
    cmd.env("UV_NO_CONFIG", "1");
    cmd
}

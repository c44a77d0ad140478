//! `bundle` subcommand, shared by `racetrack-plugin-bundler` and `racetrack-plugin`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::bundle::{build_bundle, source_date_epoch_from_env, BundleOptions};

/// Arguments of `bundle`: turn a plugin folder into `NAME-VERSION.zip`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct BundleArgs {
    /// Plugin folder holding plugin.py and plugin-manifest.yaml [default: .]
    pub workdir: Option<PathBuf>,
    /// Directory to write the zip to [default: the plugin folder]
    #[arg(long = "out", value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// File name of the zip [default: NAME-VERSION.zip]
    #[arg(long = "out-filename", value_name = "NAME")]
    pub out_filename: Option<String>,
    /// Version to write into the bundled manifest, replacing the folder's
    #[arg(long = "plugin-version", value_name = "V")]
    pub plugin_version: Option<String>,
}

impl BundleArgs {
    /// The library options these arguments stand for.
    pub fn options(&self) -> BundleOptions {
        BundleOptions {
            out_dir: self.out.clone(),
            out_filename: self.out_filename.clone(),
            plugin_version: self.plugin_version.clone(),
        }
    }

    /// The plugin folder, `.` when not given.
    pub fn workdir(&self) -> &Path {
        self.workdir.as_deref().unwrap_or(Path::new("."))
    }
}

/// Runs `bundle`: reports the zip on stdout, or the error on stderr with exit code 1.
pub fn run_bundle(args: &BundleArgs) -> ExitCode {
    let result = source_date_epoch_from_env()
        .and_then(|epoch| build_bundle(args.workdir(), &args.options(), epoch));
    match result {
        Ok(bundle) => {
            println!(
                "Plugin {} {} bundled to {}",
                bundle.manifest.name,
                bundle.manifest.version,
                bundle.path.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `racetrack-plugin-bundler`: Racetrack's bundling tool, with only its `bundle` command.
#[derive(Debug, clap::Parser)]
#[command(
    name = "racetrack-plugin-bundler",
    version,
    about = "Bundle Racetrack plugins into ZIP files"
)]
struct BundlerCli {
    #[command(subcommand)]
    command: BundlerCommand,
}

#[derive(Debug, clap::Subcommand)]
enum BundlerCommand {
    /// Bundle a plugin folder into NAME-VERSION.zip
    Bundle(BundleArgs),
}

/// Parses `argv` (program name first) as `racetrack-plugin-bundler` and runs it;
/// returns the exit code (2 for bad usage). Shared by the binary and the Python
/// package's command of the same name.
pub fn bundler_from_args<I, T>(argv: I) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    use clap::Parser;
    match BundlerCli::try_parse_from(argv) {
        Ok(cli) => match &cli.command {
            BundlerCommand::Bundle(args) => {
                if run_bundle(args) == ExitCode::SUCCESS {
                    0
                } else {
                    1
                }
            }
        },
        Err(e) => {
            let _ = e.print();
            if e.use_stderr() {
                2
            } else {
                0
            }
        }
    }
}

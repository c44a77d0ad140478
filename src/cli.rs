//! The `racetrack-plugin` command line, shared by the Rust binary and
//! `python -m racetrack_plugins` (same parser, same output, same exit codes).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use serde_json::json;

use crate::bundle::{self, BundleOptions};
use crate::bundle_cli::{run_bundle, BundleArgs};
use crate::deps::{DepsOptions, Installer};
use crate::engine::{
    CallMode, CallOptions, EngineBuilder, HookError, PluginEngine, PluginInfo, PluginStatus,
    DEFAULT_PLUGINS_DIR, PLUGINS_DIR_ENV,
};
use crate::error::LoadError;
use crate::python::HookArgs;
use crate::types::{FatmanDto, GitDefinition, Manifest};

/// Exit code: a plugin or hook failed.
pub const EXIT_FAILED: u8 = 1;
/// Exit code: bad usage (clap uses it for parse errors too).
pub const EXIT_USAGE: u8 = 2;

#[derive(Debug, Parser)]
#[command(
    name = "racetrack-plugin",
    version,
    about = "Install, list, call and bundle Racetrack plugins",
    after_help = "Exit codes: 0 ok, 1 a plugin or hook failed, 2 bad usage."
)]
pub struct Cli {
    /// Plugins directory.
    #[arg(
        long,
        global = true,
        env = PLUGINS_DIR_ENV,
        default_value = DEFAULT_PLUGINS_DIR
    )]
    pub plugins_dir: PathBuf,
    /// Host component (e.g. lifecycle); plugins made for other components are skipped.
    #[arg(long, global = true)]
    pub component: Option<String>,
    /// Tool installing requirements.txt: auto (uv when on PATH), pip or uv.
    #[arg(long, global = true, default_value = "auto")]
    pub installer: Installer,
    /// Install requirements from this folder of wheels only, without any index.
    #[arg(long, global = true, value_name = "DIR")]
    pub wheelhouse: Option<PathBuf>,
    /// Folder of host-provided Python packages every plugin may import (repeatable);
    /// added to sys.path when the engine starts.
    #[arg(long = "python-path", global = true, value_name = "DIR")]
    pub python_path: Vec<PathBuf>,
    /// Time limit for installing one plugin's requirements, in seconds.
    #[arg(long, global = true, value_name = "SECONDS", default_value_t = crate::deps::DEFAULT_DEPS_TIMEOUT.as_secs())]
    pub deps_timeout: u64,
    /// Let plugins' requirements.txt choose indexes and find-links (never offline).
    #[arg(long, global = true)]
    pub allow_requirement_options: bool,
    /// Logs on stderr (-v info, -vv debug; none by default); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Install a plugin zip (validated and loaded before it becomes active).
    Install {
        file: PathBuf,
        /// Remove every other version of the plugin.
        #[arg(long)]
        replace: bool,
    },
    /// List installed plugins with their status.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Delete a plugin (all versions, or one).
    Delete {
        name: String,
        version: Option<String>,
        /// Delete its config folder too (kept by default).
        #[arg(long)]
        purge_config: bool,
    },
    /// Call a hook on every plugin implementing it, in order.
    Call {
        hook: String,
        /// Keyword arguments as a JSON object.
        #[arg(long, value_name = "JSON")]
        kwargs: Option<String>,
        /// Positional arguments as a JSON array.
        #[arg(long, value_name = "JSON")]
        args: Option<String>,
        /// Call only this plugin.
        #[arg(long, value_name = "NAME")]
        plugin: Option<String>,
        /// Call every plugin even when one raises.
        #[arg(long)]
        collect_all: bool,
        /// Longest each plugin's hook may run (seconds, e.g. 2.5); then it is a
        /// timeout error and the call moves on.
        #[arg(long, value_name = "SECONDS", value_parser = parse_timeout)]
        timeout: Option<std::time::Duration>,
        #[arg(long)]
        json: bool,
    },
    /// Print a plugin's Markdown documentation.
    Docs { name: String },
    /// Rebuild a plugin's venv from its requirements.txt.
    RebuildVenv {
        name: String,
        version: Option<String>,
    },
    /// Bundle a plugin folder into NAME-VERSION.zip.
    Bundle(BundleArgs),
    /// Bundle plugin_sample into a temporary plugins dir, load it and call every hook.
    Demo {
        /// Plugin folder to demonstrate.
        #[arg(long, value_name = "DIR")]
        sample: Option<PathBuf>,
    },
    /// Serve Racetrack's plugin API and the Administration page.
    #[cfg(feature = "admin")]
    Serve(crate::admin::serve::ServeArgs),
    /// Manage the users of `serve` (tokens, staff flag).
    #[cfg(feature = "admin")]
    Users(crate::admin::serve::UsersArgs),
}

/// Parses `argv` (program name first) and runs the command; returns the exit code.
pub fn run_from_args<I, T>(argv: I) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let cli = match Cli::try_parse_from(argv) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { EXIT_USAGE } else { 0 };
        }
    };
    // A server logs its requests' failures and audit events unless told otherwise.
    #[cfg(feature = "admin")]
    let verbose = match cli.command {
        Command::Serve(_) => cli.verbose.max(1),
        _ => cli.verbose,
    };
    #[cfg(not(feature = "admin"))]
    let verbose = cli.verbose;
    init_logging(verbose);
    run(cli)
}

pub fn main_exit_code() -> ExitCode {
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    // Ctrl-C and SIGTERM stop a running pip/uv (and its children) instead of leaving it.
    // A server handles both itself, to finish the requests in flight first.
    #[cfg(unix)]
    if !is_server(&argv) {
        if let Err(e) = crate::deps::stop_installs_on_signals() {
            eprintln!("warning: cannot handle Ctrl-C and SIGTERM: {e}");
        }
    }
    #[cfg(unix)]
    if !is_server(&argv) {
        die_quietly_on_closed_stdout();
    }
    let code = run_from_args(argv);
    match crate::deps::cancelled_by_signal() {
        Some(sig) => {
            eprintln!("error: interrupted (signal {sig}); the installs in progress were stopped");
            ExitCode::from(u8::try_from(128 + sig).unwrap_or(EXIT_FAILED))
        }
        None => ExitCode::from(code),
    }
}

/// `racetrack-plugin list | head -1`: once the reader is gone, the command ends as
/// Unix tools do (by SIGPIPE, silently) instead of panicking in `println!` on EPIPE.
/// Rust ignores SIGPIPE at start-up for the sake of servers, which is why `serve` keeps
/// that; only the stand-alone binary does this, never a Python host's process.
#[cfg(unix)]
fn die_quietly_on_closed_stdout() {
    // SAFETY: only sets SIGPIPE's disposition back to the default; no handler of ours
    // is replaced (Rust's runtime merely ignored it).
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// Whether `argv` runs `serve`, which shuts down gracefully on its own signals.
fn is_server(argv: &[std::ffi::OsString]) -> bool {
    #[cfg(feature = "admin")]
    if let Ok(cli) = Cli::try_parse_from(argv) {
        return matches!(cli.command, Command::Serve(_));
    }
    let _ = argv;
    false
}

fn init_logging(verbose: u8) {
    // Without -v the commands report failures themselves (table, `error:` lines);
    // logging them too would print each twice.
    let default = match verbose {
        0 => "off",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("RUST_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

fn fail(message: impl std::fmt::Display) -> u8 {
    eprintln!("error: {message}");
    EXIT_FAILED
}

/// The engine as the global options configure it, for `dir`; without watching for
/// other processes' changes (a command is over before they matter).
pub(crate) fn engine_builder(cli: &Cli, dir: &Path) -> EngineBuilder {
    let mut deps = DepsOptions {
        installer: cli.installer,
        timeout: std::time::Duration::from_secs(cli.deps_timeout),
        allow_requirement_options: cli.allow_requirement_options,
        ..DepsOptions::default()
    };
    if let Some(wheelhouse) = &cli.wheelhouse {
        deps.find_links.push(wheelhouse.clone());
        deps.no_index = true;
    }
    let mut builder = PluginEngine::builder(dir)
        .deps_options(deps)
        .watch_interval(None)
        .python_path(cli.python_path.iter().cloned());
    if let Some(component) = &cli.component {
        builder = builder.component(component.clone());
    }
    builder
}

fn open_engine(cli: &Cli, dir: &Path) -> Result<PluginEngine, u8> {
    engine_builder(cli, dir)
        .build()
        .map_err(|e| fail(e.report()))
}

pub fn run(cli: Cli) -> u8 {
    let result = match &cli.command {
        Command::Bundle(args) => return exit_code_of(run_bundle(args)),
        Command::Demo { sample } => demo(&cli, sample.as_deref()),
        #[cfg(feature = "admin")]
        Command::Serve(args) => return crate::admin::serve::run_serve(&cli, args),
        #[cfg(feature = "admin")]
        Command::Users(args) => return crate::admin::serve::run_users(&cli, args),
        _ => match open_engine(&cli, &cli.plugins_dir) {
            Ok(engine) => dispatch(&cli, &engine),
            Err(code) => Err(code),
        },
    };
    result.err().unwrap_or(0)
}

fn exit_code_of(code: ExitCode) -> u8 {
    if code == ExitCode::SUCCESS {
        0
    } else {
        EXIT_FAILED
    }
}

fn dispatch(cli: &Cli, engine: &PluginEngine) -> Result<(), u8> {
    match &cli.command {
        Command::Install { file, replace } => {
            let data = std::fs::read(file).map_err(|e| fail(format!("{}: {e}", file.display())))?;
            let filename = file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let manifest = engine
                .upload_plugin(&filename, &data, *replace)
                .map_err(|e| fail(e.report()))?;
            println!("Installed plugin {} {}", manifest.name, manifest.version);
            Ok(())
        }
        Command::List { json } => {
            let plugins = engine.plugins();
            if *json {
                print_json(&list_json(&plugins));
            } else {
                print_table(&plugins);
            }
            if plugins.iter().any(|p| p.status == PluginStatus::Failed) {
                Err(EXIT_FAILED)
            } else {
                Ok(())
            }
        }
        Command::Delete {
            name,
            version,
            purge_config,
        } => {
            let removed = engine
                .delete_plugin(name, version.as_deref(), *purge_config)
                .map_err(|e| fail(e.report()))?;
            for plugin in removed {
                println!("Deleted plugin {plugin}");
            }
            Ok(())
        }
        Command::Call {
            hook,
            kwargs,
            args,
            plugin,
            collect_all,
            timeout,
            json,
        } => call(
            engine,
            hook,
            kwargs.as_deref(),
            args.as_deref(),
            plugin.as_deref(),
            CallOptions::default()
                .mode(if *collect_all {
                    CallMode::CollectAll
                } else {
                    CallMode::FailFast
                })
                .timeout(*timeout),
            *json,
        ),
        Command::Docs { name } => match engine.markdown_docs(name) {
            Ok(Some(docs)) => {
                println!("{docs}");
                Ok(())
            }
            Ok(None) => {
                println!("Plugin {name} has no documentation.");
                Ok(())
            }
            Err(e) => Err(fail(e)),
        },
        Command::RebuildVenv { name, version } => {
            let rebuilt = engine
                .rebuild_venv(name, version.as_deref())
                .map_err(|e| fail(e.report()))?;
            for info in &rebuilt {
                match &info.venv {
                    Some(venv) => println!(
                        "Rebuilt venv of {} {}: {}",
                        info.name,
                        info.version,
                        venv.display()
                    ),
                    None => println!(
                        "{} {} has no requirements.txt, so no venv",
                        info.name, info.version
                    ),
                }
            }
            match rebuilt.iter().find(|p| p.status == PluginStatus::Failed) {
                Some(failed) => Err(fail(
                    failed
                        .error
                        .as_ref()
                        .map(LoadError::report)
                        .unwrap_or_default(),
                )),
                None => Ok(()),
            }
        }
        Command::Bundle(_) | Command::Demo { .. } => Ok(()),
        #[cfg(feature = "admin")]
        Command::Serve(_) | Command::Users(_) => Ok(()),
    }
}

/// `--timeout`: positive, finite seconds.
fn parse_timeout(text: &str) -> Result<std::time::Duration, String> {
    let seconds: f64 = text
        .parse()
        .map_err(|_| format!("{text:?} is not a number of seconds"))?;
    if seconds <= 0.0 {
        return Err("must be more than 0 seconds".into());
    }
    std::time::Duration::try_from_secs_f64(seconds).map_err(|e| format!("{text:?}: {e}"))
}

fn parse_json<T: serde::de::DeserializeOwned>(
    what: &str,
    text: Option<&str>,
) -> Result<Option<T>, u8> {
    text.map(|t| {
        serde_json::from_str(t).map_err(|e| {
            eprintln!("error: --{what} is not valid JSON of the right shape: {e}");
            EXIT_USAGE
        })
    })
    .transpose()
}

fn call(
    engine: &PluginEngine,
    hook: &str,
    kwargs: Option<&str>,
    args: Option<&str>,
    plugin: Option<&str>,
    options: CallOptions,
    json: bool,
) -> Result<(), u8> {
    let kwargs: Option<serde_json::Map<String, serde_json::Value>> = parse_json("kwargs", kwargs)?;
    let positional: Option<Vec<serde_json::Value>> = parse_json("args", args)?;
    let mut hook_args = HookArgs::new();
    for value in positional.unwrap_or_default() {
        hook_args = hook_args.arg(value);
    }
    hook_args = hook_args.kwargs_from_json(kwargs.unwrap_or_default());

    let results = match plugin {
        Some(name) => vec![engine
            .invoke_one_with(name, hook, &hook_args, options)
            .map(|o| o.into_iter().collect())],
        None if options.mode == CallMode::CollectAll => engine
            .invoke_with(hook, &hook_args, options)
            .into_iter()
            .map(|r| r.map(|o| vec![o]))
            .collect(),
        // Fail-fast: the first failure alone, as `invoke` reports it.
        None => vec![engine
            .invoke_with(hook, &hook_args, options)
            .into_iter()
            .collect()],
    };
    let mut rows = Vec::new();
    let mut failed = false;
    for result in results {
        match result {
            Ok(outputs) => {
                for output in outputs {
                    match output.value.to_json() {
                        Ok(value) => rows.push(json!({
                            "plugin": output.plugin.name,
                            "version": output.plugin.version,
                            "result": value,
                        })),
                        // One plugin's unshowable result is its own error, in its place;
                        // the others' results are still printed.
                        Err(failure) => {
                            failed = true;
                            let e = HookError::BadResult {
                                plugin: (*output.plugin).clone(),
                                hook: hook.to_string(),
                                problem: if failure.exception == "NotJsonable" {
                                    failure.message
                                } else {
                                    failure.summary()
                                },
                            };
                            eprintln!("error: {e}");
                            rows.push(json!({
                                "plugin": output.plugin.name,
                                "version": output.plugin.version,
                                "error": e.to_string(),
                            }));
                        }
                    }
                }
            }
            Err(e) => {
                failed = true;
                eprintln!("error: {e}");
                // In the JSON too, in its place, so a script does not read "no results".
                if let Some(plugin) = e.plugin() {
                    rows.push(json!({
                        "plugin": plugin.name,
                        "version": plugin.version,
                        "error": e.to_string(),
                    }));
                }
            }
        }
    }
    if json {
        print_json(&serde_json::Value::Array(rows));
    } else {
        for row in rows.iter().filter(|r| r.get("result").is_some()) {
            println!(
                "{} {}: {}",
                row["plugin"].as_str().unwrap_or(""),
                row["version"].as_str().unwrap_or(""),
                row["result"]
            );
        }
        if rows.is_empty() && !failed {
            println!("No loaded plugin implements {hook}.");
        }
    }
    if failed {
        Err(EXIT_FAILED)
    } else {
        Ok(())
    }
}

/// The rows of `list --json`: `PluginInfo`'s one serialised shape.
fn list_json(plugins: &[PluginInfo]) -> serde_json::Value {
    serde_json::to_value(plugins).unwrap_or_default()
}

fn print_json(value: &serde_json::Value) {
    let text = serde_json::to_string_pretty(value).unwrap_or_default();
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{text}");
}

fn print_table(plugins: &[PluginInfo]) {
    if plugins.is_empty() {
        println!("No plugins installed.");
        return;
    }
    println!(
        "{:<28} {:<12} {:>8}  {:<8} VENV",
        "NAME", "VERSION", "PRIORITY", "STATUS"
    );
    for p in plugins {
        let venv = p
            .venv
            .as_ref()
            .map(|v| v.display().to_string())
            .unwrap_or_else(|| "-".into());
        println!(
            "{:<28} {:<12} {:>8}  {:<8} {venv}",
            p.name,
            p.version,
            p.priority,
            p.status.to_string()
        );
        if let Some(error) = &p.error {
            for line in error.report().lines() {
                println!("    {line}");
            }
        }
        for warning in &p.warnings {
            println!("    warning: {warning}");
        }
    }
}

/// Where the sample plugin lives: `./plugin_sample`, else the one in the source tree.
fn sample_dir(explicit: Option<&Path>) -> PathBuf {
    if let Some(dir) = explicit {
        return dir.to_path_buf();
    }
    let local = PathBuf::from("plugin_sample");
    if local.join("plugin.py").is_file() {
        return local;
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("plugin_sample")
}

fn demo(cli: &Cli, sample: Option<&Path>) -> Result<(), u8> {
    let sample = sample_dir(sample);
    let scratch = tempfile::tempdir().map_err(fail)?;
    let plugins_dir = scratch.path().join("plugins");
    let out = scratch.path().join("dist");
    std::fs::create_dir_all(&out).map_err(fail)?;
    let zip = bundle::bundle_plugin(
        &sample,
        &BundleOptions {
            out_dir: Some(out),
            ..BundleOptions::default()
        },
    )
    .map_err(fail)?;
    println!("Bundled {} into {}", sample.display(), zip.display());

    let engine = open_engine(cli, &plugins_dir)?;
    let data = std::fs::read(&zip).map_err(fail)?;
    let name = zip
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let manifest = engine.upload_plugin(&name, &data, false).map_err(fail)?;
    println!(
        "Installed {} {} into {}",
        manifest.name,
        manifest.version,
        plugins_dir.display()
    );
    let interp = engine.interpreter();
    println!(
        "Python {} (prefix {})",
        interp.version_text.lines().next().unwrap_or(""),
        interp.prefix
    );
    print_table(&engine.plugins());
    println!();

    let fatman_manifest = Manifest {
        name: "adder".into(),
        owner_email: "owner@example.com".into(),
        lang: Some("python3".into()),
        git: GitDefinition {
            remote: "https://github.com/TheRacetrack/racetrack".into(),
            branch: Some("master".into()),
            directory: Some("sample/python-class".into()),
            ..GitDefinition::default()
        },
        ..Manifest::default()
    };
    let fatman = FatmanDto {
        name: "adder".into(),
        version: "0.0.1".into(),
        status: "running".into(),
        create_time: 1_700_000_000,
        update_time: 1_700_000_100,
        manifest: Some(fatman_manifest.clone()),
        internal_name: Some("fatman-adder-v-0-0-1".into()),
        deployed_by: Some("admin".into()),
        ..FatmanDto::default()
    };

    let mut failed = false;
    let mut report = |hook: &str, outcome: Result<String, String>| match outcome {
        Ok(text) => println!("{hook}: {text}"),
        Err(e) => {
            failed = true;
            println!("{hook}: FAILED: {e}");
        }
    };
    report(
        "post_fatman_deploy",
        engine
            .post_fatman_deploy(
                &fatman_manifest,
                &fatman,
                "registry.example.com/adder:0.0.1",
                Some("admin"),
            )
            .map(|_| "ok".into())
            .map_err(|e| e.to_string()),
    );
    report(
        "fatman_runtime_env_vars",
        engine
            .fatman_runtime_env_vars()
            .map(|v| format!("{v:?}"))
            .map_err(|e| e.to_string()),
    );
    report(
        "fatman_job_types",
        engine
            .fatman_job_types("registry.example.com/racetrack")
            .map(|t| {
                format!(
                    "{:?}",
                    t.iter()
                        .map(|(k, v)| (k, &v.base_image, &v.template_path))
                        .collect::<Vec<_>>()
                )
            })
            .map_err(|e| e.to_string()),
    );
    for (hook, result) in [
        ("fatman_deployers", engine.fatman_deployers()),
        ("fatman_monitors", engine.fatman_monitors()),
        ("fatman_logs_streamers", engine.fatman_logs_streamers()),
    ] {
        report(
            hook,
            result
                .map(|m| format!("{:?}", m.keys().collect::<Vec<_>>()))
                .map_err(|e| e.to_string()),
        );
    }
    report(
        "markdown_docs",
        engine
            .markdown_docs(&manifest.name)
            .map(|d| d.unwrap_or_else(|| "(none)".into()))
            .map_err(|e| e.to_string()),
    );
    report(
        "post_fatman_delete",
        engine
            .post_fatman_delete(&fatman, Some("admin"))
            .map(|_| "ok".into())
            .map_err(|e| e.to_string()),
    );
    if failed {
        Err(EXIT_FAILED)
    } else {
        Ok(())
    }
}

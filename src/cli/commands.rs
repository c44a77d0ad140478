//! What `install`, `list`, `delete`, `call`, `docs` and `rebuild-venv` do: engine
//! calls and their exit codes. Printing is `output`'s; no logic another front end needs.

use serde_json::json;

use crate::cli::output::{fail, list_json, print_json, print_table};
use crate::cli::parser::{Cli, Command};
use crate::cli::{EXIT_FAILED, EXIT_USAGE};
use crate::engine::{CallMode, CallOptions, HookError, PluginEngine, PluginStatus};
use crate::error::LoadError;
use crate::python::HookArgs;

pub(super) fn dispatch(cli: &Cli, engine: &PluginEngine) -> Result<(), u8> {
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

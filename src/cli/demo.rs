//! `racetrack-plugin demo`: bundles the sample plugin into a scratch plugins dir,
//! installs it and calls every seed hook, printing what each returned.

use std::path::{Path, PathBuf};

use crate::bundle::{self, BundleOptions};
use crate::cli::output::{fail, print_table};
use crate::cli::parser::Cli;
use crate::cli::{open_engine, EXIT_FAILED};
use crate::types::{FatmanDto, GitDefinition, Manifest};

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

pub(super) fn demo(cli: &Cli, sample: Option<&Path>) -> Result<(), u8> {
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

//! A minimal Rust host, as in the README: `cargo run --example rust_host [PLUGINS_DIR]`.
//! Without a directory, it bundles `plugin_sample` into a temporary one first.

use std::collections::BTreeMap;
use std::error::Error;

use racetrack_plugins::bundle::{bundle_plugin, BundleOptions};
use racetrack_plugins::{FatmanDto, GitDefinition, HookArgs, Manifest, PluginEngine};

fn main() -> Result<(), Box<dyn Error>> {
    let scratch = tempfile::tempdir()?;
    let plugins_dir = match std::env::args().nth(1) {
        Some(dir) => dir.into(),
        None => scratch.path().join("plugins"),
    };
    let engine = PluginEngine::builder(&plugins_dir)
        .component("lifecycle")
        .build()?;
    if engine.plugins().is_empty() {
        let sample = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("plugin_sample");
        let options = BundleOptions {
            out_dir: Some(scratch.path().to_path_buf()),
            ..BundleOptions::default()
        };
        let zip = bundle_plugin(&sample, &options)?;
        let bytes = std::fs::read(&zip)?;
        engine.upload_plugin("skynet-watcher-1.2.3.zip", &bytes, true)?;
    }

    for plugin in engine.plugins() {
        println!("{} {} {}", plugin.name, plugin.version, plugin.status);
    }

    let manifest = Manifest {
        name: "adder".into(),
        owner_email: "owner@example.com".into(),
        git: GitDefinition {
            remote: "https://github.com/TheRacetrack/racetrack".into(),
            ..GitDefinition::default()
        },
        ..Manifest::default()
    };
    let fatman = FatmanDto {
        name: "adder".into(),
        version: "0.0.1".into(),
        status: "running".into(),
        ..FatmanDto::default()
    };
    let env: BTreeMap<String, String> = engine.fatman_runtime_env_vars()?;
    println!("runtime env vars: {env:?}");
    engine.post_fatman_deploy(&manifest, &fatman, "registry/adder:1", Some("alice"))?;
    let deployers = engine.fatman_deployers()?;
    if let Some(docker) = deployers.get("docker") {
        docker
            .object
            .call_method("deploy", &HookArgs::new().arg("adder"))?;
    }
    for out in engine.invoke("markdown_docs", &HookArgs::new().kwarg("dry_run", true))? {
        println!("{}: {}", out.plugin, out.value.to_json()?);
    }
    let all = engine.invoke_collect("fatman_runtime_env_vars", &HookArgs::new());
    println!("{} plugin(s) answered", all.len());
    Ok(())
}

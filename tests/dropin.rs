//! A Rust host (the `racetrack-plugin` binary) loading plugins shaped like Racetrack's
//! public ones, with the host's own Python packages given by `--python-path` or by an
//! activated virtualenv (`VIRTUAL_ENV`). Sources: `tests/fixtures/dropin/`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/dropin")
}

fn cli(dir: &Path, args: &[&str], envs: &[(&str, &Path)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_racetrack-plugin"));
    command
        .arg("--plugins-dir")
        .arg(dir)
        .args(args)
        .env_remove("RUST_LOG")
        .env_remove("VIRTUAL_ENV");
    for (key, value) in envs {
        command.env(key, value);
    }
    command.output().expect("binary runs")
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// Bundles the fixture plugins into `plugins/` with the binary's own `bundle`.
fn install_fixtures(root: &Path) -> PathBuf {
    let dir = root.join("plugins");
    std::fs::create_dir_all(&dir).unwrap();
    for name in ["python3-job-type", "docker-infrastructure"] {
        let src = fixtures().join("plugins").join(name);
        let out = cli(
            &dir,
            &[
                "bundle",
                src.to_str().unwrap(),
                "--out",
                dir.to_str().unwrap(),
            ],
            &[],
        );
        assert!(out.status.success(), "{out:?}");
    }
    dir
}

fn host_imports(dir: &Path, args: &[&str], envs: &[(&str, &Path)]) -> serde_json::Value {
    let mut all = args.to_vec();
    all.extend(["call", "host_imports", "--json"]);
    let out = cli(dir, &all, envs);
    assert!(out.status.success(), "{out:?}");
    let value = json(&out);
    assert_eq!(value[0]["plugin"], "docker-infrastructure", "{value}");
    value[0]["result"].clone()
}

#[test]
fn python_path_gives_plugins_the_hosts_packages() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = install_fixtures(tmp.path());
    let host = fixtures().join("host");
    let client = fixtures().join("host_client");

    // Without the host's packages the infrastructure plugin cannot import
    // racetrack_client: it is listed as failed, the job type still loads.
    let out = cli(&dir, &["--component", "lifecycle", "list", "--json"], &[]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let rows = json(&out);
    let row = |name: &str| {
        rows.as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == name)
            .cloned()
            .unwrap()
    };
    assert_eq!(row("python3-job-type")["status"], "loaded");
    assert_eq!(row("docker-infrastructure")["status"], "failed");
    assert!(
        row("docker-infrastructure")["error"]
            .as_str()
            .unwrap()
            .contains("racetrack_client"),
        "{rows}"
    );

    let args = [
        "--component",
        "lifecycle",
        "--python-path",
        host.to_str().unwrap(),
        "--python-path",
        client.to_str().unwrap(),
    ];
    let got = host_imports(&dir, &args, &[]);
    assert_eq!(
        got,
        serde_json::json!({
            "target_class": "lifecycle.infrastructure.model.InfrastructureTarget",
            "logger": got["logger"].clone(),
        })
    );
    assert!(got["logger"].as_str().unwrap().contains("plugin"), "{got}");

    // Job types: images and templates from the plugin's folder, read from its cwd.
    let mut all = args.to_vec();
    all.extend(["call", "job_types", "--json"]);
    let out = cli(&dir, &all, &[]);
    assert!(out.status.success(), "{out:?}");
    let images = &json(&out)[0]["result"]["python3:2.4.0"]["images"];
    assert_eq!(images[1]["dockerfile_path"], "job-template.Dockerfile");
    assert_eq!(images[1]["template"], true);
}

#[test]
fn virtual_env_site_packages_are_importable() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = install_fixtures(tmp.path());
    // A venv of the interpreter the binary embeds, holding the host's racetrack_client.
    let venv = tmp.path().join("venv");
    let python = std::env::var("PYO3_PYTHON").unwrap_or_else(|_| "python3".into());
    let status = Command::new(&python)
        .args(["-m", "venv", "--without-pip"])
        .arg(&venv)
        .status()
        .expect("python3 runs");
    assert!(status.success());
    let site = std::fs::read_dir(venv.join("lib"))
        .unwrap()
        .map(|e| e.unwrap().path().join("site-packages"))
        .find(|p| p.is_dir())
        .expect("the venv has site-packages");
    let target = site.join("racetrack_client");
    copy_dir(&fixtures().join("host_client/racetrack_client"), &target);

    let host = fixtures().join("host");
    let args = [
        "--component",
        "lifecycle",
        "--python-path",
        host.to_str().unwrap(),
    ];
    let got = host_imports(&dir, &args, &[("VIRTUAL_ENV", &venv)]);
    assert_eq!(
        got["target_class"],
        "lifecycle.infrastructure.model.InfrastructureTarget"
    );
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let dest = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_dir(&path, &dest);
        } else {
            std::fs::copy(&path, &dest).unwrap();
        }
    }
}

/// The library API: `EngineBuilder::python_path`, and `find_plugin` picking the newest
/// version in Racetrack's semantic-version order.
#[test]
fn rust_api_python_path_and_newest_version() {
    use racetrack_plugins::bundle::{bundle_plugin, BundleOptions};
    use racetrack_plugins::{HookArgs, PluginEngine};

    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("plugins");
    std::fs::create_dir_all(&dir).unwrap();
    // 2.10.0 and 2.4.0 of the job type (as text, 2.4.0 would sort above 2.10.0).
    for version in ["2.10.0", "2.4.0"] {
        let options = BundleOptions {
            out_dir: Some(dir.clone()),
            out_filename: None,
            plugin_version: Some(version.to_string()),
        };
        bundle_plugin(&fixtures().join("plugins/python3-job-type"), &options).unwrap();
    }
    bundle_plugin(
        &fixtures().join("plugins/docker-infrastructure"),
        &BundleOptions {
            out_dir: Some(dir.clone()),
            out_filename: None,
            plugin_version: None,
        },
    )
    .unwrap();

    let engine = PluginEngine::builder(&dir)
        .component("lifecycle")
        .python_path([fixtures().join("host"), fixtures().join("host_client")])
        .watch_interval(None)
        .build()
        .unwrap();
    let statuses: Vec<_> = engine
        .plugins()
        .iter()
        .map(|p| (p.name.clone(), p.version.clone(), p.status.to_string()))
        .collect();
    assert!(
        statuses.iter().all(|(_, _, status)| status == "loaded"),
        "{statuses:?}"
    );
    let newest = engine.find_plugin("python3-job-type", None).unwrap();
    assert_eq!(newest.version(), "2.10.0");
    let older = engine
        .find_plugin("python3-job-type", Some("2.4.0"))
        .unwrap();
    assert_eq!(older.version(), "2.4.0");

    let outputs = engine.invoke("host_imports", &HookArgs::new()).unwrap();
    assert_eq!(outputs.len(), 1);
    assert_eq!(
        outputs[0].value.to_json().unwrap()["target_class"],
        "lifecycle.infrastructure.model.InfrastructureTarget"
    );
}

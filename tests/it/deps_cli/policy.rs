//! The requirements policy: offline installs stay in the wheelhouse, index options need
//! the operator, shipped installer configs do nothing, editable requirements are
//! refused, versions equal under PEP 440 are no conflict.

use super::*;

#[test]
fn offline_requirements_cannot_reach_beyond_the_wheelhouse() {
    let area = Area::new();
    let server = Server::start(false);
    let cases = [
        format!("--find-links {}", server.url("")),
        format!("-f {}", server.url("")),
        format!("--index-url {}", server.url("simple")),
        format!("--extra-index-url={}", server.url("simple")),
        format!("rtpol_x @ {}", server.url("rtpol_x-1.0-py3-none-any.whl")),
        server.url("rtpol_x-1.0-py3-none-any.whl"),
        format!("-r {}", server.url("r.txt")),
        "-r /etc/passwd".to_owned(),
        "-r ../../../../../../etc/passwd".to_owned(),
        "/etc/passwd".to_owned(),
        format!("file://{}/x.whl", area.wheels().display()),
    ];
    for (i, line) in cases.iter().enumerate() {
        let name = format!("rtpol-offline{i}");
        let plugin = plugin_with_requirements(&name, &format!("# ok\nrtpol_ok==1.0\n{line}\n"));
        let out = area.run(
            "pip",
            true,
            &["install", area.zip(&plugin).to_str().expect("utf-8")],
        );
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{line}: {stderr}");
        assert!(
            stderr.contains(&format!("requirements.txt line 3: `{line}` is refused")),
            "{line}: {stderr}"
        );
        assert!(stderr.contains(&name), "{stderr}");
        assert!(!stderr.contains("root:"), "file content leaked: {stderr}");
    }
    assert_eq!(server.hits(), 0, "an installer reached the network");
    assert!(area.list("pip").is_empty(), "nothing is installed");
}

#[test]
fn online_index_options_need_the_operators_permission() {
    let area = Area::new();
    let server = Server::start(false);
    let line = format!("--index-url {}", server.url("simple"));
    let plugin = plugin_with_requirements("rtpol-online", &format!("{line}\nrtpol_online==1.0\n"));
    let zip = area.zip(&plugin);
    let zip = zip.to_str().expect("utf-8");

    let out = area.run("pip", false, &["install", zip]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("line 1: `{line}` is refused"))
            && stderr.contains("--allow-requirement-options"),
        "{stderr}"
    );
    assert_eq!(server.hits(), 0);

    // Allowed, pip asks that index (which has nothing, so the install still fails).
    let out = area.run(
        "pip",
        false,
        &["--allow-requirement-options", "install", zip],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(server.hits() > 0, "the plugin's index was not used");
}

/// An installer configuration that, if read, sends the installer to `server`.
fn hostile_configs(plugin: PluginSrc, server: &Server) -> PluginSrc {
    let links = server.url("links/");
    plugin
        .file("uv.toml", &format!("[pip]\nfind-links = [\"{links}\"]\n"))
        .file(
            "pyproject.toml",
            &format!("[project]\nname = \"x\"\nversion = \"1\"\n\n[tool.uv.pip]\nfind-links = [\"{links}\"]\n"),
        )
        .file("pip.conf", &format!("[global]\nfind-links = {links}\n"))
}

fn shipped_configs_have_no_effect(installer: &str) {
    let area = Area::new();
    let server = Server::start(false);
    Wheel::new("rtpol_cfg", "1.0").write_into(&area.wheels());
    let plugin = hostile_configs(
        plugin_with_requirements("rtpol-cfg", "rtpol_cfg==1.0\n").plugin_py(
            "import rtpol_cfg\nclass Plugin:\n    def version(self):\n        return rtpol_cfg.VERSION\n",
        ),
        &server,
    );
    // A user-level pip config pointing at the server too; pip must ignore it.
    let xdg = area.root.join("xdg");
    fs::create_dir_all(xdg.join("pip")).expect("mkdir");
    fs::write(
        xdg.join("pip/pip.conf"),
        format!("[global]\nfind-links = {}\n", server.url("links/")),
    )
    .expect("write");
    let out = area
        .command(
            installer,
            true,
            &["install", area.zip(&plugin).to_str().expect("utf-8")],
        )
        .env("XDG_CONFIG_HOME", &xdg)
        .output()
        .expect("CLI runs");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(server.hits(), 0, "a shipped config file was read");
}

#[test]
fn pip_ignores_config_files() {
    shipped_configs_have_no_effect("pip");
}

#[test]
fn uv_ignores_config_files_shipped_in_the_plugin() {
    if uv_available("uv_ignores_config_files_shipped_in_the_plugin") {
        shipped_configs_have_no_effect("uv");
    }
}

#[test]
fn editable_requirements_are_refused_and_bundled_wheels_outlive_the_upload() {
    let area = Area::new();
    let editable = plugin_with_requirements("rtpol-editable", "-e ./pkg\n").file(
        "pkg/setup.py",
        "from setuptools import setup\nsetup(name='rtpol_e')\n",
    );
    let out = area.run(
        "pip",
        true,
        &["install", area.zip(&editable).to_str().expect("utf-8")],
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("line 1: `-e ./pkg` is refused: editable installs (-e) are not supported"),
        "{stderr}"
    );

    // A wheel shipped in the plugin is copied into the venv at install, so later
    // processes load it although the upload's staging folder is gone.
    let wheel_dir = area.root.join("bundled");
    let wheel = Wheel::new("rtpol_bundled", "2.0").write_into(&wheel_dir);
    let wheel_text = fs::read(&wheel).expect("read wheel");
    let plugin = plugin_with_requirements(
        "rtpol-bundled",
        &format!("./wheels/{}\n", Wheel::new("rtpol_bundled", "2.0").file_name()),
    )
    .plugin_py("import rtpol_bundled\nclass Plugin:\n    def version(self):\n        return rtpol_bundled.VERSION\n");
    // PluginSrc holds text files; a wheel is binary, so zip it by hand below.
    let mut entries: Vec<(String, Vec<u8>)> = vec![(
        "plugin-manifest.yaml".into(),
        plugin.manifest_text().into_bytes(),
    )];
    for (p, content) in &plugin.files {
        entries.push((p.clone(), content.clone().into_bytes()));
    }
    entries.push((
        format!("wheels/{}", Wheel::new("rtpol_bundled", "2.0").file_name()),
        wheel_text,
    ));
    let zip_path = area.root.join(plugin.file_name());
    fs::write(&zip_path, zip_bytes(&entries)).expect("write zip");
    let out = area.run("pip", true, &["install", zip_path.to_str().expect("utf-8")]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = area.run("pip", true, &["call", "version", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let calls: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(calls[0]["result"], "2.0", "{calls}");
}

fn zip_bytes(entries: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (path, content) in entries {
        writer
            .start_file(path.as_str(), zip::write::SimpleFileOptions::default())
            .expect("start file");
        writer.write_all(content).expect("write entry");
    }
    writer.finish().expect("finish zip").into_inner()
}

/// A plugin zip shipping `wheel` under `wheels/` and requiring it by path.
fn plugin_bundling(area: &Area, name: &str, wheel: &Wheel) -> PathBuf {
    let built = wheel.write_into(&area.root.join(format!("bundled-{name}")));
    let plugin = plugin_with_requirements(name, &format!("./wheels/{}\n", wheel.file_name()));
    let mut entries: Vec<(String, Vec<u8>)> = vec![(
        "plugin-manifest.yaml".into(),
        plugin.manifest_text().into_bytes(),
    )];
    for (p, content) in &plugin.files {
        entries.push((p.clone(), content.clone().into_bytes()));
    }
    entries.push((
        format!("wheels/{}", wheel.file_name()),
        fs::read(built).expect("read wheel"),
    ));
    let path = area.plugins().join(plugin.file_name());
    fs::write(&path, zip_bytes(&entries)).expect("write zip");
    path
}

#[test]
fn versions_equal_under_pep_440_are_no_conflict() {
    let area = Area::new();
    plugin_bundling(&area, "rtpol-pep-a", &Wheel::new("rtpol_pep", "1.0"));
    plugin_bundling(&area, "rtpol-pep-b", &Wheel::new("rtpol_pep", "1.0.0"));
    plugin_bundling(&area, "rtpol-pep-c", &Wheel::new("rtpol_pep", "1.1"));
    let list = area.list("pip");
    assert_eq!(list.len(), 3, "{list:?}");
    let warnings = |name: &str| -> Vec<String> {
        let entry = list
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("{name} not listed: {list:?}"));
        assert_eq!(entry["status"], "loaded", "{entry}");
        entry["warnings"]
            .as_array()
            .expect("warnings")
            .iter()
            .map(|w| w.as_str().expect("text").to_owned())
            .collect()
    };
    // a and b hold one version spelled two ways; c differs from both.
    let a = warnings("rtpol-pep-a");
    assert!(
        !a.iter().any(|w| w.contains("rtpol-pep-b")),
        "1.0 and 1.0.0 are one version: {a:?}"
    );
    assert!(a.iter().any(|w| w.contains("rtpol-pep-c")), "{a:?}");
    let b = warnings("rtpol-pep-b");
    assert!(!b.iter().any(|w| w.contains("rtpol-pep-a")), "{b:?}");
}

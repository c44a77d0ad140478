//! Venv packages against the host's modules: a package named like a stdlib module, a
//! library first imported by a plugin, a package the host already has.

use super::*;

// Standard-library precedence and private siblings inside libraries (#13, items 2, 3).

#[test]
fn a_venv_package_named_like_a_stdlib_module_breaks_no_other_plugin() {
    let _g = shared();
    let area = Area::new();
    // A "backport" of a standard-library module that lacks what the real one has.
    area.wheel(Wheel::new("colorsys", "9.9").file("colorsys/__init__.py", "BACKPORT = True\n"));
    PluginSrc::new("backported", "1.0.0")
        .plugin_py("import colorsys\nclass Plugin:\n    def which(self):\n        return hasattr(colorsys, 'BACKPORT')\n")
        .file("requirements.txt", "colorsys\n")
        .write_into(&area.plugins());
    simple_plugin(
        "plain",
        "1.0.0",
        "    def hsv(self):\n        import colorsys\n        return colorsys.rgb_to_hsv(1.0, 0.0, 0.0)",
    )
    .priority(1)
    .write_into(&area.plugins());
    let engine = area.engine(Installer::Pip);

    let infos = engine.plugins();
    let backported = info(&infos, "backported");
    assert_eq!(backported.status, PluginStatus::Loaded, "{backported:?}");
    assert!(
        backported
            .warnings
            .iter()
            .any(|w| w.contains("package colorsys 9.9") && w.contains("standard library")),
        "{:?}",
        backported.warnings
    );
    assert_eq!(hook(&engine, "backported", "which"), Value::Bool(false));
    assert_eq!(
        hook(&engine, "plain", "hsv"),
        serde_json::json!([0.0, 1.0, 1.0])
    );
}

#[test]
fn a_library_first_imported_by_a_plugin_does_not_get_the_plugins_sibling() {
    let _g = shared();
    let area = Area::new();
    // The library imports a module of its own distribution, as jsonpatch imports
    // jsonpointer; the plugin ships a sibling of the same name.
    area.wheel(
        Wheel::new("rtsib_lib", "1.0")
            .file(
                "rtsib_lib/__init__.py",
                "import rtsib_helper\nimport tabnanny\nHELPER = rtsib_helper.WHO\nCHECK = tabnanny.check.__name__\n",
            )
            .file("rtsib_helper.py", "WHO = 'library'\n"),
    );
    // Imported while the plugin loads, the moment its folder is on `sys.path`.
    PluginSrc::new("sibling", "1.0.0")
        .plugin_py(
            "import rtsib_lib, rtsib_helper, tabnanny\nclass Plugin:\n    def who(self):\n        return [rtsib_lib.HELPER, rtsib_helper.WHO, tabnanny.WHO, rtsib_lib.CHECK]\n",
        )
        .file("requirements.txt", "rtsib_lib\n")
        .file("rtsib_helper.py", "WHO = 'plugin'\n")
        .file("tabnanny.py", "WHO = 'plugin tabnanny'\n")
        .write_into(&area.plugins());
    let engine = area.engine(Installer::Pip);
    let infos = engine.plugins();
    let loaded = info(&infos, "sibling");
    assert_eq!(loaded.status, PluginStatus::Loaded, "{loaded:?}");
    assert_eq!(
        hook(&engine, "sibling", "who"),
        serde_json::json!(["library", "plugin", "plugin tabnanny", "check"])
    );
}

#[test]
fn a_venv_package_the_host_already_has_is_the_hosts_with_a_warning() {
    let _g = shared();
    let area = Area::new();
    // The host provides rtshadow_host 1.0 (a folder on its sys.path, with metadata);
    // the plugin's venv gets 2.0.
    let host = area.root.join("host-packages");
    fs::create_dir_all(host.join("rtshadow_host")).unwrap();
    fs::write(
        host.join("rtshadow_host/__init__.py"),
        "VERSION = 'host 1.0'\n",
    )
    .unwrap();
    fs::create_dir_all(host.join("rtshadow_host-1.0.dist-info")).unwrap();
    fs::write(
        host.join("rtshadow_host-1.0.dist-info/METADATA"),
        "Metadata-Version: 2.1\nName: rtshadow_host\nVersion: 1.0\n",
    )
    .unwrap();
    area.wheel(Wheel::new("rtshadow_host", "2.0"));
    simple_plugin(
        "shadowed",
        "1.0.0",
        "    def which(self):\n        import rtshadow_host\n        return rtshadow_host.VERSION",
    )
    .file("requirements.txt", "rtshadow_host==2.0\n")
    .write_into(&area.plugins());
    let engine = PluginEngine::builder(area.plugins())
        .installer(Installer::Pip)
        .offline_wheelhouse(area.wheels())
        .python_path([host.clone()])
        .watch_interval(None)
        .build()
        .expect("engine opens");
    let infos = engine.plugins();
    let shadowed = info(&infos, "shadowed");
    assert_eq!(shadowed.status, PluginStatus::Loaded, "{shadowed:?}");
    assert!(
        shadowed
            .warnings
            .iter()
            .any(|w| w.contains("package rtshadow_host 2.0")
                && w.contains("version 1.0")
                && w.contains("comes first")),
        "{:?}",
        shadowed.warnings
    );
    assert_eq!(hook(&engine, "shadowed", "which"), "host 1.0");
}

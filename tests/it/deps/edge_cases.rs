//! Half-built venvs, relative wheel paths, conflicting pins, timeouts and the base
//! interpreter.

use super::*;

#[test]
fn half_built_venvs_are_rebuilt() {
    let _g = shared();
    let area = Area::new();
    area.wheel("rtdeps_half", "1.0");
    area.plugin("half-1.0", "rtdeps_half==1.0\n");
    let opts = area.offline(Installer::Pip);
    let dir = area.venvs().join("half-1.0");

    // A crash mid-install: a folder without the marker.
    fs::create_dir_all(dir.join("lib")).expect("mkdir");
    fs::write(dir.join("leftover.txt"), "from a crashed install").expect("write");
    let venv = area.ensure("half-1.0", &opts).expect("rebuilt");
    assert_eq!(venv.installer_ran, Some(Installer::Pip));
    assert!(
        !dir.join("leftover.txt").exists(),
        "the old folder was wiped first"
    );
    assert_eq!(imported_version(&venv, "rtdeps_half"), "1.0");

    // A marker that does not match.
    fs::write(dir.join(READY_MARKER), "not-the-key\n").expect("write");
    let venv = area.ensure("half-1.0", &opts).expect("rebuilt again");
    assert_eq!(venv.installer_ran, Some(Installer::Pip));
    assert_eq!(imported_version(&venv, "rtdeps_half"), "1.0");

    // A matching marker, but the installed packages were deleted under it.
    fs::remove_dir_all(&venv.site_packages[0]).expect("rm site-packages");
    let venv = area.ensure("half-1.0", &opts).expect("rebuilt once more");
    assert_eq!(venv.installer_ran, Some(Installer::Pip));
    assert_eq!(imported_version(&venv, "rtdeps_half"), "1.0");

    // Now it is whole: reused.
    let venv = area.ensure("half-1.0", &opts).expect("reused");
    assert_eq!(venv.installer_ran, None);

    deps::remove_venv(&area.venvs(), "half-1.0").expect("removed");
    assert!(!dir.exists());
    deps::remove_venv(&area.venvs(), "half-1.0").expect("removing nothing is fine");
    assert_eq!(deps::venv_dir(&area.venvs(), "half-1.0"), dir);
}

#[test]
fn relative_wheel_paths_resolve_in_the_plugin_folder() {
    let _g = shared();
    let area = Area::new();
    let plugin_dir = area.plugin("local-1.0", "./wheels/rtdeps_local-1.0-py3-none-any.whl\n");
    fs::create_dir(plugin_dir.join("wheels")).expect("mkdir");
    make_wheel(&plugin_dir.join("wheels"), "rtdeps_local", "1.0");
    // A plugin file named like pip's module must not replace pip (the installer runs
    // in this folder).
    fs::create_dir(plugin_dir.join("pip")).expect("mkdir");
    fs::write(
        plugin_dir.join("pip/__init__.py"),
        "raise SystemExit('hijacked')\n",
    )
    .expect("write");
    fs::write(
        plugin_dir.join("pip/__main__.py"),
        "raise SystemExit('hijacked')\n",
    )
    .expect("write");
    let opts = DepsOptions {
        installer: Installer::Pip,
        no_index: true,
        ..DepsOptions::default()
    };
    let venv = area
        .ensure("local-1.0", &opts)
        .expect("builds from the bundled wheel");
    assert_eq!(imported_version(&venv, "rtdeps_local"), "1.0");
    if uv_available("relative_wheel_paths_resolve_in_the_plugin_folder (uv part)") {
        let opts = DepsOptions {
            installer: Installer::Uv,
            ..opts
        };
        let venv = area
            .ensure("local-1.0", &opts)
            .expect("uv builds from the bundled wheel");
        assert_eq!(venv.installer_ran, Some(Installer::Uv));
        assert_eq!(imported_version(&venv, "rtdeps_local"), "1.0");
    }
}

#[test]
fn plugins_pinning_different_versions_are_reported() {
    let _g = shared();
    let area = Area::new();
    area.wheel("rtdeps_shared", "1.0");
    area.wheel("rtdeps_shared", "2.0");
    area.wheel("rtdeps_only_b", "1.0");
    area.plugin("a-1.0", "rtdeps_shared==1.0\n");
    area.plugin("b-1.0", "rtdeps_shared==2.0\nrtdeps_only_b\n");
    let opts = area.offline(Installer::Auto);
    let a = area.ensure("a-1.0", &opts).expect("a builds");
    let b = area.ensure("b-1.0", &opts).expect("b builds");
    // Separate venvs: each plugin's own interpreter sees its own pin.
    assert_eq!(imported_version(&a, "rtdeps_shared"), "1.0");
    assert_eq!(imported_version(&b, "rtdeps_shared"), "2.0");

    let conflicts = find_conflicts(&[
        ("a-1.0".to_owned(), a.distributions.clone()),
        ("b-1.0".to_owned(), b.distributions.clone()),
    ]);
    assert_eq!(conflicts.len(), 1, "{conflicts:?}");
    assert_eq!(conflicts[0].package, "rtdeps-shared");
    assert_eq!(conflicts[0].first, ("a-1.0".to_owned(), "1.0".to_owned()));
    assert_eq!(conflicts[0].second, ("b-1.0".to_owned(), "2.0".to_owned()));
    assert_eq!(
        deps::installed_distributions(&b.site_packages[0])
            .into_iter()
            .filter(|d| d.name.starts_with("rtdeps"))
            .collect::<Vec<_>>(),
        vec![dist("rtdeps-only-b", "1.0"), dist("rtdeps-shared", "2.0")]
    );
}

#[test]
fn a_timeout_stops_the_build_and_cleans_up() {
    let _g = shared();
    let area = Area::new();
    area.wheel("rtdeps_slow", "1.0");
    area.plugin("slow-1.0", "rtdeps_slow\n");
    let opts = DepsOptions {
        timeout: Duration::from_millis(1),
        ..area.offline(Installer::Pip)
    };
    let err = area
        .ensure("slow-1.0", &opts)
        .expect_err("1 ms is not enough");
    assert!(matches!(err, DepsError::TimedOut { .. }), "{err:?}");
    assert!(err.to_string().starts_with("plugin slow-1.0: "), "{err}");
    assert!(!area.venvs().join("slow-1.0").exists());
}

#[test]
fn the_base_interpreter_matches_the_running_version() {
    let running = running_python();
    let base = deps::find_base_interpreter(&running).expect("python3 itself qualifies");
    let out = Command::new(&base)
        .args(["-c", "import sys; print('%d.%d' % sys.version_info[:2])"])
        .output()
        .expect("base runs");
    let (major, minor, _) = running.version;
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("{major}.{minor}")
    );
}

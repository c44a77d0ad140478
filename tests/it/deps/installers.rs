//! Building venvs with pip and uv: build then reuse, picking the installer, rebuilding
//! on changed requirements, a missing package.

use super::*;

fn exclusive() -> std::sync::RwLockWriteGuard<'static, ()> {
    COUNTING.write().unwrap_or_else(|p| p.into_inner())
}

/// Cold build, then a warm `ensure` that must start no process at all.
fn build_then_reuse(installer: Installer, module: &str) {
    let area = Area::new();
    area.wheel(module, "1.0");
    area.plugin("demo-1.0", &format!("{module}==1.0\n"));
    let opts = area.offline(installer);

    let started = Instant::now();
    let venv = {
        let _g = shared();
        area.ensure("demo-1.0", &opts).expect("venv builds")
    };
    eprintln!("{installer} cold install took {:?}", started.elapsed());

    assert_eq!(venv.dir, area.venvs().join("demo-1.0"));
    assert_eq!(venv.installer_ran, Some(installer));
    let (major, minor, _) = area.running.version;
    assert_eq!(
        venv.site_packages,
        vec![venv
            .dir
            .join(format!("lib/python{major}.{minor}/site-packages"))]
    );
    assert!(venv.site_packages[0]
        .join(module)
        .join("__init__.py")
        .is_file());
    let normalized = module.replace('_', "-");
    assert!(
        venv.distributions.contains(&dist(&normalized, "1.0")),
        "{:?}",
        venv.distributions
    );
    assert!(venv.dir.join(READY_MARKER).is_file());
    assert_eq!(imported_version(&venv, module), "1.0");
    // Neither installer copies pip into the venv (pip runs from outside, `--python`).
    assert!(!venv.site_packages[0].join("pip").exists());
    let cfg = fs::read_to_string(venv.dir.join("pyvenv.cfg")).expect("pyvenv.cfg");
    assert!(cfg.contains("include-system-site-packages = true"), "{cfg}");

    let _g = exclusive();
    let runs = deps::installer_runs();
    let children = deps::child_processes();
    let started = Instant::now();
    let again = area.ensure("demo-1.0", &opts).expect("venv reused");
    eprintln!("{installer} warm ensure took {:?}", started.elapsed());
    assert_eq!(again.installer_ran, None);
    assert_eq!(
        deps::installer_runs(),
        runs,
        "a warm ensure must not run the installer"
    );
    assert_eq!(
        deps::child_processes(),
        children,
        "a warm ensure must start no process"
    );
    assert_eq!(again.dir, venv.dir);
    assert_eq!(again.site_packages, venv.site_packages);
    assert_eq!(again.distributions, venv.distributions);
}

#[test]
fn pip_builds_a_venv_and_reuses_it() {
    build_then_reuse(Installer::Pip, "rtdeps_pip_demo");
}

#[test]
fn uv_builds_a_venv_and_reuses_it() {
    if !uv_available("uv_builds_a_venv_and_reuses_it") {
        return;
    }
    build_then_reuse(Installer::Uv, "rtdeps_uv_demo");
}

#[test]
fn auto_picks_uv_when_it_is_on_path() {
    let _g = shared();
    let area = Area::new();
    area.wheel("rtdeps_auto", "1.0");
    area.plugin("auto-1.0", "rtdeps_auto\n");
    let venv = area
        .ensure("auto-1.0", &area.offline(Installer::Auto))
        .expect("builds");
    let expected = if which::which("uv").is_ok() {
        Installer::Uv
    } else {
        Installer::Pip
    };
    assert_eq!(venv.installer_ran, Some(expected));
    assert_eq!(imported_version(&venv, "rtdeps_auto"), "1.0");
}

fn changed_requirements_rebuild(installer: Installer, module: &str) {
    let _g = shared();
    let area = Area::new();
    area.wheel(module, "1.0");
    area.wheel(module, "2.0");
    let opts = area.offline(installer);
    let plugin_dir = area.plugin("demo-1.0", &format!("{module}==1.0\n"));
    let first = area.ensure("demo-1.0", &opts).expect("first build");
    assert_eq!(imported_version(&first, module), "1.0");

    fs::write(
        plugin_dir.join("requirements.txt"),
        format!("{module}==2.0\n"),
    )
    .expect("rewrite");
    let second = area.ensure("demo-1.0", &opts).expect("rebuild");
    assert_eq!(second.installer_ran, Some(installer));
    assert_eq!(imported_version(&second, module), "2.0");
    let name = module.replace('_', "-");
    assert_eq!(
        second
            .distributions
            .iter()
            .filter(|d| d.name == name)
            .collect::<Vec<_>>(),
        vec![&dist(&name, "2.0")]
    );

    // Other installer options are part of the key too.
    let mut other = opts.clone();
    other.find_links.push(area.tmp.path().join("plugins"));
    let third = area
        .ensure("demo-1.0", &other)
        .expect("rebuild for new options");
    assert_eq!(third.installer_ran, Some(installer));
    let fourth = area.ensure("demo-1.0", &other).expect("reuse");
    assert_eq!(fourth.installer_ran, None);
}

#[test]
fn pip_rebuilds_when_requirements_change() {
    changed_requirements_rebuild(Installer::Pip, "rtdeps_pip_change");
}

#[test]
fn uv_rebuilds_when_requirements_change() {
    if !uv_available("uv_rebuilds_when_requirements_change") {
        return;
    }
    changed_requirements_rebuild(Installer::Uv, "rtdeps_uv_change");
}

fn missing_package_fails(installer: Installer) {
    let _g = shared();
    let area = Area::new();
    area.wheel("rtdeps_present", "1.0");
    area.plugin("broken-1.0", "rtdeps_present\nrtdeps_absent_package==3.0\n");
    let err = area
        .ensure("broken-1.0", &area.offline(installer))
        .expect_err("the package does not exist");
    let text = err.to_string();
    eprintln!("{installer} failure reads:\n{text}");
    match &err {
        DepsError::InstallFailed {
            plugin_id,
            installer: used,
            status,
            output_tail,
        } => {
            assert_eq!(plugin_id, "broken-1.0");
            assert_eq!(*used, installer);
            assert!(!status.success());
            assert!(
                output_tail.contains("rtdeps_absent_package")
                    || output_tail.contains("rtdeps-absent-package"),
                "{output_tail}"
            );
        }
        other => panic!("expected InstallFailed, got {other:?}"),
    }
    assert!(
        text.starts_with(&format!(
            "plugin broken-1.0: installing its requirements with {installer} failed"
        )),
        "{text}"
    );
    assert!(
        !area.venvs().join("broken-1.0").exists(),
        "the failed venv is removed"
    );
}

#[test]
fn pip_missing_package_is_an_install_failure() {
    missing_package_fails(Installer::Pip);
}

#[test]
fn uv_missing_package_is_an_install_failure() {
    if !uv_available("uv_missing_package_is_an_install_failure") {
        return;
    }
    missing_package_fails(Installer::Uv);
}

//! Venvs through the `racetrack-plugin` binary: listing them, `rebuild-venv`, the
//! `--installer` option.

use super::*;

// 7. The CLI: venv column, rebuild-venv, bad --installer.

#[cfg(unix)]
fn inode(path: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    fs::metadata(path).expect("metadata").ino()
}

fn cli_venv_commands(installer: &str, pkg: &str) {
    let area = Area::new();
    area.wheel(Wheel::new(pkg, "1.0"));
    for version in ["1.0.0", "2.0.0"] {
        simple_plugin(
            "clitool",
            version,
            &format!("    def where(self):\n        import {pkg}\n        return {pkg}.__file__"),
        )
        .file("requirements.txt", &format!("{pkg}\n"))
        .write_into(&area.plugins());
    }
    let v1 = area.venv("clitool-1.0.0");
    let v2 = area.venv("clitool-2.0.0");

    // `list` builds the venvs and shows where they are.
    let out = area.cli(installer, &["list"]);
    assert_success(&out, "list");
    let stdout = text(&out.stdout);
    assert!(stdout.contains("VENV"), "{stdout}");
    for venv in [&v1, &v2] {
        assert!(stdout.contains(&venv.display().to_string()), "{stdout}");
        assert!(venv.join(READY_MARKER).is_file());
    }

    // Hooks run from the venv.
    let out = area.cli(installer, &["call", "where", "--json"]);
    assert_success(&out, "call where");
    let rows: Value = serde_json::from_slice(&out.stdout).expect("call --json is JSON");
    let rows = rows.as_array().expect("array");
    assert_eq!(rows.len(), 2, "{rows:?}");
    // Both versions need the same package; the one interpreter imports it once, from
    // whichever venv comes first.
    assert_eq!(rows[0]["result"], rows[1]["result"]);
    assert_from_venv(&rows[0]["result"], &area.plugins().join("venvs"));

    // Sentinels prove which venvs get rebuilt.
    let sentinel = "sentinel.txt";
    fs::write(v1.join(sentinel), "1").expect("sentinel");
    fs::write(v2.join(sentinel), "2").expect("sentinel");
    #[cfg(unix)]
    let v2_marker = inode(&v2.join(READY_MARKER));

    let out = area.cli(installer, &["rebuild-venv", "clitool", "1.0.0"]);
    assert_success(&out, "rebuild-venv clitool 1.0.0");
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains(&format!("Rebuilt venv of clitool 1.0.0: {}", v1.display())),
        "{stdout}"
    );
    assert!(!v1.join(sentinel).exists(), "1.0.0's venv was rebuilt");
    assert!(v1.join(READY_MARKER).is_file());
    assert!(v2.join(sentinel).exists(), "2.0.0's venv was left alone");
    #[cfg(unix)]
    assert_eq!(inode(&v2.join(READY_MARKER)), v2_marker);

    // Without a version: every version.
    let out = area.cli(installer, &["rebuild-venv", "clitool"]);
    assert_success(&out, "rebuild-venv clitool");
    let stdout = text(&out.stdout);
    assert!(stdout.contains("Rebuilt venv of clitool 1.0.0"), "{stdout}");
    assert!(stdout.contains("Rebuilt venv of clitool 2.0.0"), "{stdout}");
    assert!(!v2.join(sentinel).exists(), "2.0.0's venv was rebuilt");
    for venv in [&v1, &v2] {
        assert!(venv.join(READY_MARKER).is_file());
    }
    let out = area.cli(installer, &["call", "where", "--plugin", "clitool"]);
    assert_success(&out, "call after rebuild");

    // An unknown plugin is an error, not a usage error.
    let out = area.cli(installer, &["rebuild-venv", "nosuch"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
}

#[test]
fn cli_pip_list_shows_venvs_and_rebuild_venv_rebuilds() {
    cli_venv_commands("pip", "rted_cli_pip");
}

#[test]
fn cli_uv_list_shows_venvs_and_rebuild_venv_rebuilds() {
    if !uv_available("cli_uv_list_shows_venvs_and_rebuild_venv_rebuilds") {
        return;
    }
    cli_venv_commands("uv", "rted_cli_uv");
}

#[test]
fn cli_rejects_an_unknown_installer() {
    let area = Area::new();
    for args in [&["list"][..], &["rebuild-venv", "x"][..]] {
        let out = area.cli("bogus", args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "stdout: {}\nstderr: {}",
            text(&out.stdout),
            text(&out.stderr)
        );
        let stderr = text(&out.stderr);
        assert!(stderr.contains("bogus"), "{stderr}");
    }
}

#[test]
fn cli_list_without_requirements_shows_no_venv() {
    let area = Area::new();
    simple_plugin("plain", "1.0.0", "    def ping(self):\n        return 1")
        .write_into(&area.plugins());
    let out = area.cli("pip", &["list"]);
    assert_success(&out, "list");
    let stdout = text(&out.stdout);
    let row = stdout
        .lines()
        .find(|l| l.starts_with("plain "))
        .unwrap_or_else(|| panic!("no row for plain: {stdout}"));
    assert!(row.trim_end().ends_with(" -"), "{row}");
    assert!(!area.plugins().join("venvs").join("plain-1.0.0").exists());
}

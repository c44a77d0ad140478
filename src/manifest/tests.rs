use super::*;

#[test]
fn parses_seed_example() {
    let m = PluginManifest::parse(
        "name: skynet-watcher\nversion: 1.2.3\nurl: https://example.org\npriority: -1\n",
        "x",
    )
    .expect("valid");
    assert_eq!(m.name, "skynet-watcher");
    assert_eq!(m.priority, -1);
    assert_eq!(m.id(), "skynet-watcher-1.2.3");
}

#[test]
fn priority_defaults_to_zero_and_extras_accepted() {
    let m = PluginManifest::parse(
        "name: a\nversion: '1'\nbuild_date: 2024-01-01T000000Z\ncategory: core\ncomponents: [lifecycle]\n",
        "x",
    )
    .expect("valid");
    assert_eq!(m.priority, 0);
    assert!(m.runs_in("lifecycle"));
    assert!(!m.runs_in("image-builder"));
}

#[test]
fn unknown_field_is_named() {
    let e = PluginManifest::parse("name: a\nversion: '1'\nprio: 3\n", "bundle.zip")
        .expect_err("unknown field");
    let text = e.to_string();
    assert!(text.contains("bundle.zip"), "{text}");
    assert!(text.contains("prio"), "{text}");
    for field in ALLOWED_FIELDS {
        assert!(
            text.contains(&format!("`{field}`")),
            "{field} not listed: {text}"
        );
    }
}

#[test]
fn unsafe_names_rejected() {
    for bad in ["../x", "a/b", "", ".hidden", "a b", "-x"] {
        let text = format!("name: {bad:?}\nversion: '1'\n");
        assert!(
            PluginManifest::parse(&text, "x").is_err(),
            "{bad:?} accepted"
        );
    }
    assert!(PluginManifest::parse("name: a\nversion: 1/2\n", "x").is_err());
}

#[test]
fn missing_version_rejected() {
    let e = PluginManifest::parse("name: a\n", "x").expect_err("missing");
    assert!(e.to_string().contains("version"), "{e}");
}

#[test]
fn yaml_round_trip() {
    let m =
        PluginManifest::parse("name: a\nversion: '1.0'\ncomponents: [x]\n", "x").expect("valid");
    let again = PluginManifest::parse(&m.to_yaml(), "y").expect("valid");
    assert_eq!(m, again);
}

mod coercion {
    use super::*;

    fn priority(value: &str) -> Result<i64, String> {
        PluginManifest::parse(&format!("name: a\nversion: '1'\npriority: {value}\n"), "m")
            .map(|m| m.priority)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn priority_coerced_like_pydantic() {
        assert_eq!(priority("7"), Ok(7));
        assert_eq!(priority("'7'"), Ok(7));
        assert_eq!(priority("\"-3\""), Ok(-3));
        assert_eq!(priority("' 12 '"), Ok(12));
        assert_eq!(priority("7.0"), Ok(7));
        assert_eq!(priority("true"), Ok(1));
    }

    #[test]
    fn priority_refused_where_pydantic_refuses() {
        for bad in ["x", "'x'", "'7.5'", "7.5", "[1]", "~", "''"] {
            let e = priority(bad).expect_err(bad);
            assert!(e.starts_with("m: invalid plugin-manifest.yaml: "), "{e}");
            assert!(
                e.contains("priority") || e.contains("integer"),
                "{bad}: {e}"
            );
        }
        assert!(priority("'x'")
            .unwrap_err()
            .contains("\"x\" is not an integer"));
    }

    #[test]
    fn byte_order_mark_is_ignored() {
        let m = PluginManifest::parse("\u{feff}name: a\nversion: '1'\n", "m").expect("valid");
        assert_eq!((m.name.as_str(), m.version.as_str()), ("a", "1"));
    }

    #[test]
    fn id_too_long_for_file_names() {
        let long = "n".repeat(120);
        let text = format!("name: {long}\nversion: '{}'\n", "1".repeat(100));
        let e = PluginManifest::parse(&text, "m")
            .expect_err("too long")
            .to_string();
        assert!(e.contains("221 characters long; at most 200"), "{e}");
    }
}

mod pinned {
    //! Behaviour pinned before the YAML library changed: these must hold across it.
    use super::*;

    #[test]
    fn unquoted_numbers_stay_text() {
        let m = PluginManifest::parse("name: a\nversion: 1.0\n", "x").expect("valid");
        assert_eq!(m.version, "1.0");
        let m = PluginManifest::parse("name: a\nversion: 2\n", "x").expect("valid");
        assert_eq!(m.version, "2");
        let m = PluginManifest::parse("name: a\nversion: 1.10\n", "x").expect("valid");
        assert_eq!(m.version, "1.10");
    }

    #[test]
    fn unknown_field_message() {
        let e = PluginManifest::parse("name: a\nversion: '1'\nprio: 3\n", "bundle.zip")
            .expect_err("unknown field");
        assert_eq!(
            e.to_string(),
            "bundle.zip: invalid plugin-manifest.yaml: unknown field `prio`, expected one of \
             `name`, `version`, `url`, `priority`, `build_date`, `category`, `components` \
             at line 3 column 1"
        );
    }

    #[test]
    fn missing_field_message() {
        let e = PluginManifest::parse("name: a\n", "m.yaml").expect_err("missing");
        assert_eq!(
            e.to_string(),
            "m.yaml: invalid plugin-manifest.yaml: missing field `version`"
        );
    }

    #[test]
    fn written_yaml() {
        let m = PluginManifest::parse(
            "name: a\nversion: 1.0\npriority: -2\ncomponents: [lifecycle]\n",
            "x",
        )
        .expect("valid");
        assert_eq!(
            m.to_yaml(),
            "name: a\nversion: '1.0'\npriority: -2\ncomponents:\n- lifecycle\n"
        );
    }
}

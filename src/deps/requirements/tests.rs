//! The policy on requirement lines, file by file.

use super::*;

const OFFLINE: RequirementsPolicy = RequirementsPolicy {
    offline: true,
    allow_source_options: false,
};
const ONLINE: RequirementsPolicy = RequirementsPolicy {
    offline: false,
    allow_source_options: false,
};
const ONLINE_ALLOWED: RequirementsPolicy = RequirementsPolicy {
    offline: false,
    allow_source_options: true,
};

fn check(text: &str, policy: RequirementsPolicy) -> Result<(), PolicyViolation> {
    let dir = tempfile::tempdir().expect("tempdir");
    let plugin = dir.path().join("plugin");
    std::fs::create_dir_all(plugin.join("sub")).expect("mkdir");
    std::fs::write(plugin.join("sub/more.txt"), "b==1\n").expect("write");
    std::fs::write(plugin.join("sub/bad.txt"), "# fine\n--index-url http://x\n").expect("write");
    let req = plugin.join("requirements.txt");
    std::fs::write(&req, text).expect("write");
    check_requirements(&plugin, &req, policy)
}

#[test]
fn plain_specifiers_pass_everywhere() {
    let text = "# comment\n\
                a==1.0  # trailing comment\n\
                B_c[extra1,extra2] >= 2, < 3 ; python_version >= \"3.8\"\n\
                d~=1.4 \\\n    --hash=sha256:abc \\\n    --hash sha256:def\n\
                \n\
                --require-hashes\n\
                -r sub/more.txt\n\
                -c./sub/more.txt\n\
                ./wheels/x-1.0-py3-none-any.whl\n\
                file:./wheels/x-1.0-py3-none-any.whl\n";
    for policy in [OFFLINE, ONLINE, ONLINE_ALLOWED] {
        assert_eq!(check(text, policy), Ok(()), "{policy:?}");
    }
}

fn refused(text: &str, policy: RequirementsPolicy) -> PolicyViolation {
    check(text, policy).expect_err(text)
}

#[test]
fn offline_refuses_sources_and_urls() {
    for line in [
        "--find-links http://127.0.0.1:1/",
        "-f http://127.0.0.1:1/",
        "-fhttp://127.0.0.1:1/",
        "--index-url=http://127.0.0.1:1/simple",
        "-i http://127.0.0.1:1/simple",
        "--extra-index-url http://127.0.0.1:1/simple",
        "--trusted-host 127.0.0.1",
    ] {
        let v = refused(&format!("a==1\n{line}\n"), OFFLINE);
        assert_eq!(v.reason, Reason::SourceOptionOffline, "{line}");
        assert_eq!((v.line, v.text.as_str()), (2, line));
        assert_eq!(v.file, "requirements.txt");
        // Allowed online only with the operator's permission.
        assert_eq!(refused(line, ONLINE).reason, Reason::SourceOptionNotAllowed);
        assert_eq!(check(line, ONLINE_ALLOWED), Ok(()));
    }
    for line in [
        "pkg @ http://127.0.0.1:1/pkg-1.0-py3-none-any.whl",
        "http://127.0.0.1:1/pkg-1.0-py3-none-any.whl",
        "git+https://127.0.0.1:1/repo.git#egg=pkg",
    ] {
        assert_eq!(refused(line, OFFLINE).reason, Reason::UrlOffline, "{line}");
        assert_eq!(check(line, ONLINE), Ok(()), "{line}");
    }
}

#[test]
fn files_outside_the_plugin_are_refused_without_reading_them() {
    for line in [
        "-r /etc/passwd",
        "-r ../../../../etc/passwd",
        "--requirement=/etc/passwd",
        "-c /etc/passwd",
        "/etc/passwd",
        "../outside.whl",
        "~/x.whl",
        "file:///etc/passwd",
        "pkg @ file:///tmp/pkg.whl",
        "file://otherhost/x.whl",
        "-r https://127.0.0.1:1/r.txt",
    ] {
        for policy in [OFFLINE, ONLINE_ALLOWED] {
            let v = refused(line, policy);
            assert_eq!(v.reason, Reason::OutsidePlugin, "{line}");
            let text = v.to_string();
            assert!(!text.contains("root:"), "{text}");
            assert!(text.contains(&format!("`{line}`")), "{text}");
        }
    }
}

#[test]
fn included_files_are_checked_and_blamed_precisely() {
    let v = refused("a==1\n-r sub/bad.txt\n", ONLINE);
    assert_eq!(v.file, "sub/bad.txt");
    assert_eq!(v.line, 2);
    assert_eq!(v.text, "--index-url http://x");
    let v = refused("-r sub/missing.txt\n", ONLINE);
    assert_eq!(v.reason, Reason::UnreadableFile);
    assert_eq!((v.file.as_str(), v.line), ("requirements.txt", 1));
}

#[test]
fn editables_env_vars_and_unknown_options_are_refused() {
    assert_eq!(refused("-e ./pkg", ONLINE).reason, Reason::Editable);
    assert_eq!(refused("--editable=./pkg", ONLINE).reason, Reason::Editable);
    assert_eq!(
        refused("-r ${HOME}/x.txt", ONLINE).reason,
        Reason::EnvironmentVariable
    );
    assert_eq!(
        refused("--use-pep517", ONLINE).reason,
        Reason::UnknownOption("--use-pep517".into())
    );
    assert_eq!(
        refused("a==1 --config-settings=x=y", ONLINE).reason,
        Reason::RequirementOption("--config-settings".into())
    );
}

#[test]
fn the_message_quotes_the_line() {
    let v = refused("a==1\n\n-r /etc/passwd  # read it\n", OFFLINE);
    assert_eq!(
        v.to_string(),
        "requirements.txt line 3: `-r /etc/passwd` is refused: it points outside the plugin's folder; requirements may only name files shipped in the plugin"
    );
}

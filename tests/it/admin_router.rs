//! `admin::router` mounted by a Rust host under a prefix of its own: the API answers
//! under the prefix, and the pages' links and cookies follow it.
#![cfg(feature = "admin")]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

use crate::common::PluginSrc;
use racetrack_plugins::admin::{router, users, AdminConfig};
use racetrack_plugins::PluginEngine;

/// One HTTP/1.1 request over a plain socket; returns the status line, headers and body.
fn http(addr: SocketAddr, request: &str) -> (String, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    (head.to_string(), body.to_string())
}

fn get(addr: SocketAddr, path: &str, token: Option<&str>) -> (String, String) {
    let auth = token
        .map(|t| format!("X-Racetrack-Auth: {t}\r\n"))
        .unwrap_or_default();
    http(
        addr,
        &format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n{auth}Connection: close\r\n\r\n"),
    )
}

#[test]
fn router_nested_under_a_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let plugins_dir = dir.path().join("plugins");
    let engine = PluginEngine::builder(&plugins_dir)
        .watch_interval(None)
        .build()
        .unwrap();
    let zip = PluginSrc::new("nested", "1.0")
        .plugin_py("class Plugin:\n    def markdown_docs(self):\n        return '# Nested'\n")
        .zip_bytes();
    engine.upload_plugin("nested-1.0.zip", &zip, false).unwrap();

    let users_file = dir.path().join("users.yaml");
    let token = users::add_user(&users_file, "host", true).unwrap();
    let admin = router(engine, AdminConfig::new(&users_file)).unwrap();
    let app = axum::Router::new().nest("/plugins-admin", admin);

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    runtime.spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
    });

    let (head, body) = get(addr, "/plugins-admin/api/v1/info", None);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(body.contains("\"auth_required\":true"), "{body}");

    let (head, _) = get(addr, "/plugins-admin/lifecycle/api/v1/plugin", None);
    assert!(head.starts_with("HTTP/1.1 401"), "{head}");
    let (head, body) = get(addr, "/plugins-admin/api/v1/plugin", Some(&token));
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(body.contains("\"name\":\"nested\""), "{body}");
    let (_, body) = get(
        addr,
        "/plugins-admin/api/v1/plugin/nested/docs",
        Some(&token),
    );
    assert_eq!(body, "\"# Nested\"");

    let (head, body) = get(addr, "/plugins-admin/login", None);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(body.contains("action=\"/plugins-admin/login\""), "{body}");
    let lower = head.to_ascii_lowercase();
    assert!(lower.contains("set-cookie: rtp_csrf="), "{head}");
    assert!(
        head.contains("Path=/plugins-admin; HttpOnly; SameSite=Strict"),
        "{head}"
    );
    assert!(
        lower.contains("content-security-policy: default-src 'none'"),
        "{head}"
    );

    let (head, _) = get(addr, "/plugins-admin/admin", None);
    assert!(head.starts_with("HTTP/1.1 303"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("location: /plugins-admin/login"),
        "{head}"
    );
}

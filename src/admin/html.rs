//! HTML building blocks for the pages: escaping, the page frame (header, tabs, inline
//! stylesheet; no script, no CDN), and Markdown rendering of plugin docs with raw
//! HTML shown as text and only harmless link schemes kept.

use std::fmt::Write;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use pulldown_cmark::{CowStr, Event, Options, Parser, Tag};

use super::users::User;

/// Escapes text for HTML bodies and quoted attribute values.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    // Writing to a String cannot fail.
    let _ = pulldown_cmark_escape::escape_html(&mut out, text);
    out
}

/// An error box (`role="alert"`, so screen readers announce it) holding `text`.
pub fn alert(text: &str) -> String {
    format!("<div class=\"alert\" role=\"alert\">{}</div>", esc(text))
}

/// Escapes a string for use inside a URL path segment.
pub fn url_part(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

fn safe_url(url: &str) -> bool {
    let lower = url.trim().to_ascii_lowercase();
    match lower.split_once(':') {
        // A colon before any '/', '?' or '#' is a scheme.
        Some((scheme, _)) if !scheme.contains(['/', '?', '#']) => {
            matches!(scheme, "http" | "https" | "mailto")
        }
        _ => true,
    }
}

/// Renders a plugin's Markdown docs. Raw HTML in them is escaped (shown as text) and
/// links or images with other schemes than http, https and mailto lose their target,
/// so the docs cannot run script in a staff member's browser.
pub fn markdown(text: &str) -> String {
    let options =
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS;
    let events = Parser::new_ext(text, options).map(|event| match event {
        Event::Html(raw) | Event::InlineHtml(raw) => Event::Text(raw),
        Event::Start(Tag::Link {
            link_type,
            dest_url,
            title,
            id,
        }) if !safe_url(&dest_url) => Event::Start(Tag::Link {
            link_type,
            dest_url: CowStr::Borrowed("#"),
            title,
            id,
        }),
        Event::Start(Tag::Image {
            link_type,
            dest_url,
            title,
            id,
        }) if !safe_url(&dest_url) => Event::Start(Tag::Image {
            link_type,
            dest_url: CowStr::Borrowed("#"),
            title,
            id,
        }),
        other => other,
    });
    let mut out = String::new();
    pulldown_cmark::html::push_html(&mut out, events);
    out
}

const STYLE: &str = r#"
:root { --fg:#1d2330; --muted:#5b6475; --line:#d9dee8; --bg:#f5f7fb; --card:#fff;
        --accent:#1f5fbf; --danger:#b42318; --ok:#18794e; --warn:#9a6700; }
* { box-sizing: border-box; }
body { margin:0; font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif; color:var(--fg); background:var(--bg); }
header { background:#16213a; color:#fff; padding:.6rem 1rem; display:flex; flex-wrap:wrap; align-items:center; gap:.5rem 1.25rem; }
header .brand { font-weight:700; margin-right:auto; }
header a, header button.link { color:#dfe7f7; text-decoration:none; padding:.35rem .5rem; border-radius:6px; }
header a[aria-current=page] { background:#2c3b60; color:#fff; }
header form { margin:0; }
header .who { color:#aab6cf; font-size:.9rem; }
main { max-width:1100px; margin:0 auto; padding:1rem; }
h1 { font-size:1.5rem; margin:.5rem 0 1rem; }
h2 { font-size:1.15rem; margin:1.5rem 0 .75rem; }
.card { background:var(--card); border:1px solid var(--line); border-radius:10px; padding:1rem; margin-bottom:1rem; }
.table-wrap { overflow-x:auto; }
table { border-collapse:collapse; width:100%; }
th, td { text-align:left; padding:.5rem .6rem; border-bottom:1px solid var(--line); vertical-align:top; }
th { font-size:.8rem; text-transform:uppercase; letter-spacing:.03em; color:var(--muted); }
.actions { display:flex; flex-wrap:wrap; gap:.35rem; }
.actions .button { padding:.25rem .6rem; font-size:.9rem; }
.card > h2:first-child { margin-top:0; }
td.url { word-break:break-all; }
.status { display:inline-block; padding:.05rem .5rem; border-radius:999px; font-size:.85rem; font-weight:600; }
.status-loaded { background:#dcf5e7; color:var(--ok); }
.status-failed { background:#fde4e1; color:var(--danger); }
.status-skipped { background:#fff1c2; color:var(--warn); }
pre.error { white-space:pre-wrap; font-size:.8rem; background:#fff5f4; border:1px solid #f4c7c3; padding:.5rem; border-radius:6px; max-height:12rem; overflow:auto; margin:.4rem 0 0; }
.notice, .alert { padding:.75rem 1rem; border-radius:8px; margin-bottom:1rem; }
.notice { background:#e5f4ea; border:1px solid #a7dcb9; }
.alert { background:#fdecea; border:1px solid #f2b8b5; white-space:pre-wrap; }
label { display:block; font-weight:600; margin:.5rem 0 .25rem; }
label.inline { display:inline-flex; gap:.4rem; align-items:center; font-weight:400; }
input[type=text], input[type=password], textarea { width:100%; max-width:32rem; padding:.55rem .6rem; border:1px solid #b8c0cf; border-radius:6px; font:inherit; }
textarea { max-width:none; min-height:16rem; font-family:ui-monospace,Menlo,Consolas,monospace; font-size:.9rem; }
input[type=file] { max-width:100%; }
.button, button { display:inline-block; font:inherit; font-weight:600; padding:.45rem .9rem; border-radius:6px; border:1px solid var(--accent); background:var(--accent); color:#fff; cursor:pointer; text-decoration:none; }
.button.secondary { background:#fff; color:var(--accent); }
.button.danger, button.danger { background:var(--danger); border-color:var(--danger); color:#fff; }
header button.link { background:none; border:none; font-weight:400; }
a { color:var(--accent); }
:focus-visible { outline:3px solid #f5b400; outline-offset:2px; }
.row { display:flex; flex-wrap:wrap; gap:.75rem; align-items:center; margin-top:.75rem; }
.muted { color:var(--muted); }
.docs { line-height:1.6; }
.docs pre { background:#f0f2f7; padding:.75rem; overflow:auto; border-radius:6px; }
.docs code { background:#f0f2f7; padding:.1rem .25rem; border-radius:4px; }
@media (max-width: 640px) {
  main { padding:.5rem; }
  thead { display:none; }
  table, tbody, tr, td { display:block; width:100%; }
  tr { border:1px solid var(--line); border-radius:8px; margin-bottom:.75rem; padding:.25rem .5rem; background:var(--card); }
  td { border:none; padding:.25rem 0; }
  td[data-label]::before { content:attr(data-label) ": "; font-weight:600; color:var(--muted); }
}
"#;

/// Which tab a page belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    Plugins,
    Admin,
    None,
}

/// A whole page: frame, tabs for `user` (Administration only for staff), `body`.
pub fn page(
    base: &str,
    title: &str,
    user: Option<&User>,
    csrf: &str,
    tab: Tab,
    body: &str,
) -> String {
    let mut nav = String::new();
    if let Some(user) = user {
        let current = |t: Tab| {
            if t == tab {
                " aria-current=\"page\""
            } else {
                ""
            }
        };
        let _ = write!(
            nav,
            "<a href=\"{base}/plugins\"{}>Plugins</a>",
            current(Tab::Plugins)
        );
        if user.staff {
            let _ = write!(
                nav,
                "<a href=\"{base}/admin\"{}>Administration</a>",
                current(Tab::Admin)
            );
        }
        let _ = write!(
            nav,
            "<span class=\"who\">{}{}</span>\
             <form method=\"post\" action=\"{base}/logout\">\
             <input type=\"hidden\" name=\"csrf\" value=\"{}\">\
             <button class=\"link\" type=\"submit\">Log out</button></form>",
            esc(&user.name),
            if user.staff { " (staff)" } else { "" },
            esc(csrf)
        );
    }
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} · Racetrack plugins</title><style>{STYLE}</style></head>\
         <body><header><span class=\"brand\">Racetrack plugins</span>{nav}</header>\
         <main>{body}</main></body></html>",
        esc(title)
    )
}

/// An HTML response with headers that keep the browser from running anything the
/// page did not mean to (no script at all is allowed).
pub fn respond(status: StatusCode, html: String) -> Response {
    let mut response = (status, html).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' https: data:; \
             form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_escapes_raw_html_and_script_links() {
        let html = markdown("# T\n\n<script>alert(1)</script>\n\nx <img src=x onerror=alert(1)> [a](javascript:alert(1)) [b](https://x.org)");
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(!html.contains("javascript:"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
        assert!(html.contains("href=\"https://x.org\""), "{html}");
        assert!(html.contains("<h1>T</h1>"), "{html}");
    }
}

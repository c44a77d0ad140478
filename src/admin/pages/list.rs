//! The plugin list every logged-in user sees, and the plugins table it shares with
//! the Administration page (which adds the config and delete actions). It may not
//! change anything: every link here leads to a page that checks its own visitor.

use std::fmt::Write;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use super::{error_page, html, require_user};
use crate::admin::auth::PageCtx;
use crate::admin::html::{esc, url_part, Tab};
use crate::admin::{operations, AppState};
use crate::engine::PluginInfo;

fn status_badge(p: &PluginInfo) -> String {
    let status = p.status.to_string();
    let mut out = format!(
        "<span class=\"status status-{}\">{}</span>",
        esc(&status),
        esc(&status)
    );
    if let Some(error) = &p.error {
        let _ = write!(out, "<pre class=\"error\">{}</pre>", esc(&error.report()));
    }
    out
}

fn opt(v: &Option<String>) -> String {
    v.as_deref().map(esc).unwrap_or_else(|| "–".into())
}

fn url_cell(v: &Option<String>) -> String {
    match v {
        Some(url) if url.starts_with("https://") || url.starts_with("http://") => {
            format!(
                "<a href=\"{0}\" rel=\"noopener noreferrer\">{0}</a>",
                esc(url)
            )
        }
        other => opt(other),
    }
}

/// The plugins table; `admin` adds the config and delete actions.
pub(super) fn plugins_table(base: &str, plugins: &[PluginInfo], admin: bool) -> String {
    if plugins.is_empty() {
        return "<p class=\"muted\">No plugins installed.</p>".into();
    }
    let mut rows = String::new();
    for p in plugins {
        let name = url_part(&p.name);
        let version = url_part(&p.version);
        let mut actions = format!(
            "<a class=\"button secondary\" href=\"{base}/plugins/{name}/docs\" aria-label=\"Docs of {0} {1}\">Docs</a>",
            esc(&p.name),
            esc(&p.version)
        );
        if admin {
            let _ = write!(
                actions,
                " <a class=\"button secondary\" href=\"{base}/admin/plugins/{name}/{version}/config\" aria-label=\"Config of {0} {1}\">Config</a> \
                 <a class=\"button danger\" href=\"{base}/admin/plugins/{name}/{version}/delete\" aria-label=\"Delete {0} {1}\">Delete</a>",
                esc(&p.name),
                esc(&p.version)
            );
        }
        let components = if p.components.is_empty() {
            "all".to_string()
        } else {
            esc(&p.components.join(", "))
        };
        let _ = write!(
            rows,
            "<tr data-plugin=\"{id}\"><td data-label=\"Name\"><strong>{n}</strong></td>\
             <td data-label=\"Version\">{v}</td><td data-label=\"Priority\">{prio}</td>\
             <td data-label=\"Status\">{status}</td><td data-label=\"URL\" class=\"url\">{url}</td>\
             <td data-label=\"Category\">{cat}</td><td data-label=\"Components\">{components}</td>\
             <td><div class=\"actions\">{actions}</div></td></tr>",
            id = esc(&format!("{}-{}", p.name, p.version)),
            n = esc(&p.name),
            v = esc(&p.version),
            prio = p.priority,
            status = status_badge(p),
            url = url_cell(&p.url),
            cat = opt(&p.category),
        );
    }
    format!(
        "<div class=\"table-wrap\"><table><thead><tr><th>Name</th><th>Version</th><th>Priority</th>\
         <th>Status</th><th>URL</th><th>Category</th><th>Components</th><th><span class=\"muted\">Actions</span></th></tr></thead>\
         <tbody>{rows}</tbody></table></div>"
    )
}

pub(super) async fn plugins_page(State(state): State<AppState>, ctx: PageCtx) -> Response {
    if let Err(r) = require_user(&ctx) {
        return *r;
    }
    let plugins = match operations::list(&state).await {
        Ok(p) => p,
        Err(e) => return error_page(&state, &ctx, e),
    };
    let body = format!(
        "<h1>Installed plugins</h1><div class=\"card\">{}</div>",
        plugins_table(&ctx.base, &plugins, false)
    );
    html(&state, &ctx, StatusCode::OK, "Plugins", Tab::Plugins, &body)
}

//! A plugin's `markdown_docs` as a page, for every logged-in user, rendered by
//! [`crate::admin::html::markdown`] so the docs cannot run script. It may not show
//! anything but the docs.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::{error_page, html, require_user};
use crate::admin::auth::PageCtx;
use crate::admin::html::{esc, markdown, Tab};
use crate::admin::input::check_part;
use crate::admin::{operations, AppState};

pub(super) async fn docs_page(
    State(state): State<AppState>,
    ctx: PageCtx,
    Path(name): Path<String>,
) -> Response {
    if let Err(r) = require_user(&ctx) {
        return *r;
    }
    if let Err(e) = check_part("plugin name", &name) {
        return error_page(&state, &ctx, e);
    }
    let docs = match operations::plugin_docs(&state, name.clone()).await {
        Ok(docs) => docs,
        Err(e) => return error_page(&state, &ctx, e),
    };
    let content = match docs {
        Some(text) => format!("<article class=\"docs\">{}</article>", markdown(&text)),
        None => "<p class=\"muted\">This plugin has no documentation.</p>".into(),
    };
    let body = format!(
        "<p><a href=\"{}/plugins\">← Plugins</a></p><h1>Docs of {}</h1><div class=\"card\">{content}</div>",
        ctx.base,
        esc(&name)
    );
    html(
        &state,
        &ctx,
        StatusCode::OK,
        &format!("Docs of {name}"),
        Tab::Plugins,
        &body,
    )
}

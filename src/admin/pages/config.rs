//! The staff-only config editor of one plugin version: its `config.yaml` in a
//! textarea, saved (and the plugin reloaded) through [`crate::admin::operations`],
//! with the engine's error shown above the unsaved text when it is refused. It may
//! not act for a visitor who is not staff.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;
use serde::Deserialize;

use super::{error_page, html, notice_redirect, staff_on_plugin};
use crate::admin::auth::PageCtx;
use crate::admin::html::{alert, esc, url_part, Tab};
use crate::admin::{operations, AppState};

fn config_body(
    ctx: &PageCtx,
    name: &str,
    version: &str,
    text: &str,
    error: Option<&str>,
) -> String {
    let error_box = error.map(alert).unwrap_or_default();
    format!(
        "<p><a href=\"{base}/admin\">← Administration</a></p><h1>Config of {n} {v}</h1>{error_box}\
         <div class=\"card\"><form method=\"post\" action=\"{base}/admin/plugins/{un}/{uv}/config\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <label for=\"config_data\">config.yaml</label>\
         <textarea id=\"config_data\" name=\"config_data\" spellcheck=\"false\">{text}</textarea>\
         <div class=\"row\"><button type=\"submit\">Save and reload</button>\
         <a class=\"button secondary\" href=\"{base}/admin\">Cancel</a></div></form></div>",
        base = ctx.base,
        n = esc(name),
        v = esc(version),
        un = url_part(name),
        uv = url_part(version),
        csrf = esc(&ctx.csrf),
        text = esc(text),
    )
}

pub(super) async fn config_page(
    State(state): State<AppState>,
    ctx: PageCtx,
    Path((name, version)): Path<(String, String)>,
) -> Response {
    if let Err(r) = staff_on_plugin(&state, &ctx, None, &name, &version) {
        return *r;
    }
    match operations::load_config(&state, name.clone(), version.clone()).await {
        Ok(text) => {
            let body = config_body(&ctx, &name, &version, text.as_deref().unwrap_or(""), None);
            html(
                &state,
                &ctx,
                StatusCode::OK,
                "Plugin config",
                Tab::Admin,
                &body,
            )
        }
        Err(e) => error_page(&state, &ctx, e),
    }
}

#[derive(Deserialize)]
pub(super) struct ConfigForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    config_data: String,
}

pub(super) async fn config_save(
    State(state): State<AppState>,
    ctx: PageCtx,
    Path((name, version)): Path<(String, String)>,
    Form(form): Form<ConfigForm>,
) -> Response {
    let user = match staff_on_plugin(&state, &ctx, Some(&form.csrf), &name, &version) {
        Ok(u) => u,
        Err(r) => return *r,
    };
    // Browsers send CRLF line ends from a textarea; YAML files keep LF.
    let text = form.config_data.replace("\r\n", "\n");
    match operations::save_config(
        &state,
        &user.name,
        name.clone(),
        version.clone(),
        text.clone(),
    )
    .await
    {
        Ok(()) => notice_redirect(&ctx, &format!("Saved the config of {name} {version}.")),
        Err(e) => {
            let body = config_body(&ctx, &name, &version, &text, Some(&e.message));
            html(&state, &ctx, e.status, "Plugin config", Tab::Admin, &body)
        }
    }
}

//! The staff-only Dashboard Administration page: the upload form (showing the
//! engine's error when a zip is refused), the plugins table with its actions, and
//! deleting a plugin behind a confirmation page. The config editor is
//! [`super::config`]'s. It may not act for a visitor who is not staff.

use std::fmt::Write;

use axum::extract::{Path, Query, Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;
use serde::Deserialize;

use super::list::plugins_table;
use super::{
    error_page, html, notice_redirect, require_csrf, require_staff, staff_on_plugin, CsrfForm,
};
use crate::admin::auth::PageCtx;
use crate::admin::html::{esc, url_part, Tab};
use crate::admin::input::read_multipart;
use crate::admin::{operations, AppState};

#[derive(Deserialize)]
pub(super) struct Notice {
    notice: Option<String>,
}

async fn render_admin(
    state: &AppState,
    ctx: &PageCtx,
    status: StatusCode,
    notice: Option<&str>,
    error: Option<&str>,
) -> Response {
    let plugins = match operations::list(state).await {
        Ok(p) => p,
        Err(e) => return error_page(state, ctx, e),
    };
    let mut body = String::from("<h1>Administration</h1>");
    if let Some(n) = notice {
        let _ = write!(
            body,
            "<div class=\"notice\" role=\"status\">{}</div>",
            esc(n)
        );
    }
    if let Some(e) = error {
        let _ = write!(
            body,
            "<div class=\"alert\" role=\"alert\" id=\"upload-error\">{}</div>",
            esc(e)
        );
    }
    let _ = write!(
        body,
        "<section class=\"card\" aria-labelledby=\"upload-title\"><h2 id=\"upload-title\">Upload a plugin</h2>\
         <form method=\"post\" action=\"{base}/admin/upload\" enctype=\"multipart/form-data\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <label for=\"file\">Plugin bundle (.zip)</label>\
         <input type=\"file\" id=\"file\" name=\"file\" accept=\".zip,application/zip\" required>\
         <div class=\"row\"><label class=\"inline\"><input type=\"checkbox\" name=\"replace\" value=\"1\" id=\"replace\"> Replace older versions</label>\
         <button type=\"submit\">Upload</button></div>\
         <p class=\"muted\">Up to {mb} MiB. The plugin is loaded before it is installed: a broken bundle changes nothing.</p>\
         </form></section>\
         <section class=\"card\" aria-labelledby=\"installed-title\"><h2 id=\"installed-title\">Installed plugins</h2>{table}</section>",
        base = ctx.base,
        csrf = esc(&ctx.csrf),
        mb = state.config.max_upload_bytes / (1024 * 1024),
        table = plugins_table(&ctx.base, &plugins, true),
    );
    html(state, ctx, status, "Administration", Tab::Admin, &body)
}

pub(super) async fn admin_page(
    State(state): State<AppState>,
    ctx: PageCtx,
    Query(q): Query<Notice>,
) -> Response {
    if let Err(r) = require_staff(&state, &ctx) {
        return *r;
    }
    render_admin(&state, &ctx, StatusCode::OK, q.notice.as_deref(), None).await
}

pub(super) async fn upload(
    State(state): State<AppState>,
    ctx: PageCtx,
    request: Request,
) -> Response {
    let user = match require_staff(&state, &ctx) {
        Ok(u) => u,
        Err(r) => return *r,
    };
    let upload = match read_multipart(&state, request).await {
        Ok(u) => u,
        Err(e) => return render_admin(&state, &ctx, e.status, None, Some(&e.message)).await,
    };
    if let Err(r) = require_csrf(&state, &ctx, upload.csrf.as_deref().unwrap_or("")) {
        return *r;
    }
    let (Some(filename), Some(data)) = (upload.filename.filter(|f| !f.is_empty()), upload.data)
    else {
        return render_admin(
            &state,
            &ctx,
            StatusCode::BAD_REQUEST,
            None,
            Some("Choose a plugin .zip file to upload."),
        )
        .await;
    };
    let replace = upload.replace.is_some_and(|v| v == "1" || v == "on");
    match operations::install(&state, &user.name, filename, data, replace).await {
        Ok(m) => notice_redirect(&ctx, &format!("Installed plugin {} {}.", m.name, m.version)),
        Err(e) => render_admin(&state, &ctx, e.status, None, Some(&e.message)).await,
    }
}

pub(super) async fn delete_confirm(
    State(state): State<AppState>,
    ctx: PageCtx,
    Path((name, version)): Path<(String, String)>,
) -> Response {
    if let Err(r) = staff_on_plugin(&state, &ctx, None, &name, &version) {
        return *r;
    }
    let body = format!(
        "<h1>Delete {n} {v}?</h1><div class=\"card\"><p>The plugin's zip, extracted code and venv are removed; \
         its config is kept.</p>\
         <form method=\"post\" action=\"{base}/admin/plugins/{un}/{uv}/delete\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <div class=\"row\"><button class=\"danger\" type=\"submit\" id=\"confirm-delete\" autofocus>Delete {n} {v}</button>\
         <a class=\"button secondary\" href=\"{base}/admin\">Cancel</a></div></form></div>",
        n = esc(&name),
        v = esc(&version),
        un = url_part(&name),
        uv = url_part(&version),
        base = ctx.base,
        csrf = esc(&ctx.csrf),
    );
    html(
        &state,
        &ctx,
        StatusCode::OK,
        "Delete plugin",
        Tab::Admin,
        &body,
    )
}

pub(super) async fn delete(
    State(state): State<AppState>,
    ctx: PageCtx,
    Path((name, version)): Path<(String, String)>,
    Form(form): Form<CsrfForm>,
) -> Response {
    let user = match staff_on_plugin(&state, &ctx, Some(&form.csrf), &name, &version) {
        Ok(u) => u,
        Err(r) => return *r,
    };
    match operations::delete_plugin(&state, &user.name, name.clone(), Some(version.clone())).await {
        Ok(()) => notice_redirect(&ctx, &format!("Deleted plugin {name} {version}.")),
        Err(e) => render_admin(&state, &ctx, e.status, None, Some(&e.message)).await,
    }
}

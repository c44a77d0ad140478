//! The server-rendered pages: login, the plugin list every user sees, a plugin's
//! docs, and the staff-only Dashboard Administration page (upload, delete with a
//! confirmation, config editor). Plain forms, no script: each POST carries a CSRF
//! token and answers with a redirect (303) or the page with an error.

use std::fmt::Write;

use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Router};
use serde::Deserialize;

use super::auth::{check_token, set_cookie, LoginFailure, PageCtx, CSRF_COOKIE, SESSION_COOKIE};
use super::error::ApiError;
use super::html::{esc, markdown, page, respond, url_part, Tab};
use super::input::check_part;
use super::operations as api;
use super::users::User;
use super::AppState;
use crate::engine::PluginInfo;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(root))
        .route("/login", get(login_form).post(login))
        .route("/logout", axum::routing::post(logout))
        .route("/plugins", get(plugins_page))
        .route("/plugins/{name}/docs", get(docs_page))
        .route("/admin", get(admin_page))
        .route("/admin/upload", axum::routing::post(upload))
        .route(
            "/admin/plugins/{name}/{version}/delete",
            get(delete_confirm).post(delete),
        )
        .route(
            "/admin/plugins/{name}/{version}/config",
            get(config_page).post(config_save),
        )
}

/// Adds the CSRF cookie when the visitor had none.
fn finish(state: &AppState, ctx: &PageCtx, mut response: Response) -> Response {
    if ctx.new_csrf_cookie {
        let cookie = set_cookie(state, &ctx.base, CSRF_COOKIE, &ctx.csrf, None);
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    response
}

fn html(
    state: &AppState,
    ctx: &PageCtx,
    status: StatusCode,
    title: &str,
    tab: Tab,
    body: &str,
) -> Response {
    let text = page(&ctx.base, title, ctx.user.as_ref(), &ctx.csrf, tab, body);
    finish(state, ctx, respond(status, text))
}

fn see_other(ctx: &PageCtx, path: &str) -> Response {
    Redirect::to(&format!("{}{path}", ctx.base)).into_response()
}

/// The visitor, or a redirect to the login page.
fn require_user(ctx: &PageCtx) -> Result<User, Box<Response>> {
    ctx.user
        .clone()
        .ok_or_else(|| Box::new(see_other(ctx, "/login")))
}

fn forbidden(state: &AppState, ctx: &PageCtx, why: &str) -> Response {
    let body = format!(
        "<h1>Not allowed</h1><div class=\"alert\" role=\"alert\">{}</div>",
        esc(why)
    );
    html(
        state,
        ctx,
        StatusCode::FORBIDDEN,
        "Not allowed",
        Tab::None,
        &body,
    )
}

/// The visitor when staff; a login redirect or a 403 page otherwise.
fn require_staff(state: &AppState, ctx: &PageCtx) -> Result<User, Box<Response>> {
    let user = require_user(ctx)?;
    if !user.staff {
        return Err(Box::new(forbidden(
            state,
            ctx,
            &format!(
                "User {} is not staff: the Administration page is for staff users only.",
                user.name
            ),
        )));
    }
    Ok(user)
}

fn csrf_refused(state: &AppState, ctx: &PageCtx) -> Response {
    forbidden(
        state,
        ctx,
        "The form's security token is missing or out of date. Go back, reload the page and try again.",
    )
}

fn error_page(state: &AppState, ctx: &PageCtx, e: ApiError) -> Response {
    let body = format!(
        "<h1>Error</h1><div class=\"alert\" role=\"alert\">{}</div><p><a href=\"{}/plugins\">Back to the plugins</a></p>",
        esc(&e.message),
        ctx.base
    );
    html(state, ctx, e.status, "Error", Tab::None, &body)
}

async fn root(ctx: PageCtx) -> Response {
    see_other(
        &ctx,
        if ctx.user.is_some() {
            "/plugins"
        } else {
            "/login"
        },
    )
}

fn login_body(ctx: &PageCtx, error: Option<&str>, name: &str) -> String {
    let alert = error
        .map(|e| format!("<div class=\"alert\" role=\"alert\">{}</div>", esc(e)))
        .unwrap_or_default();
    format!(
        "<h1>Log in</h1>{alert}<div class=\"card\">\
         <form method=\"post\" action=\"{base}/login\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <label for=\"name\">User name</label>\
         <input type=\"text\" id=\"name\" name=\"name\" autocomplete=\"username\" required value=\"{name}\" autofocus>\
         <label for=\"token\">Token</label>\
         <input type=\"password\" id=\"token\" name=\"token\" autocomplete=\"current-password\" required>\
         <div class=\"row\"><button type=\"submit\">Log in</button></div></form>\
         <p class=\"muted\">An operator creates users and their tokens with <code>racetrack-plugin users add NAME</code>.</p></div>",
        base = ctx.base,
        csrf = esc(&ctx.csrf),
        name = esc(name),
    )
}

async fn login_form(State(state): State<AppState>, ctx: PageCtx) -> Response {
    if ctx.user.is_some() {
        return see_other(&ctx, "/plugins");
    }
    html(
        &state,
        &ctx,
        StatusCode::OK,
        "Log in",
        Tab::None,
        &login_body(&ctx, None, ""),
    )
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    token: String,
    #[serde(default)]
    csrf: String,
}

async fn login(
    State(state): State<AppState>,
    ctx: PageCtx,
    Form(form): Form<LoginForm>,
) -> Response {
    if !ctx.csrf_ok(&form.csrf) {
        return csrf_refused(&state, &ctx);
    }
    if state.users.is_none() {
        return see_other(&ctx, "/admin");
    }
    let name = form.name.trim().to_string();
    let user = match check_token(&state, form.token.trim().to_string(), ctx.addr, Some(&name)).await
    {
        Ok(user) => user,
        Err(failure) => {
            let (status, message) = match failure {
                LoginFailure::Invalid => (StatusCode::UNAUTHORIZED, "Wrong user name or token."),
                LoginFailure::TooMany => (
                    StatusCode::TOO_MANY_REQUESTS,
                    "Too many failed logins from this address: try again in a minute.",
                ),
            };
            let body = login_body(&ctx, Some(message), &name);
            return html(&state, &ctx, status, "Log in", Tab::None, &body);
        }
    };
    let (session, _csrf) = match state.sessions.create(&user.name) {
        Ok(created) => created,
        Err(e) => {
            return error_page(
                &state,
                &ctx,
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
            )
        }
    };
    tracing::info!(user = %user.name, "logged in to the administration page");
    let mut response = see_other(&ctx, if user.staff { "/admin" } else { "/plugins" });
    let cookie = set_cookie(&state, &ctx.base, SESSION_COOKIE, &session, None);
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    response
}

#[derive(Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

async fn logout(
    State(state): State<AppState>,
    ctx: PageCtx,
    Form(form): Form<CsrfForm>,
) -> Response {
    if !ctx.csrf_ok(&form.csrf) {
        return csrf_refused(&state, &ctx);
    }
    if let Some(id) = &ctx.session {
        state.sessions.remove(id);
    }
    let mut response = see_other(&ctx, "/login");
    let cookie = set_cookie(&state, &ctx.base, SESSION_COOKIE, "", Some(0));
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    response
}

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
fn plugins_table(base: &str, plugins: &[PluginInfo], admin: bool) -> String {
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

async fn plugins_page(State(state): State<AppState>, ctx: PageCtx) -> Response {
    if let Err(r) = require_user(&ctx) {
        return *r;
    }
    let plugins = match api::list(&state).await {
        Ok(p) => p,
        Err(e) => return error_page(&state, &ctx, e),
    };
    let body = format!(
        "<h1>Installed plugins</h1><div class=\"card\">{}</div>",
        plugins_table(&ctx.base, &plugins, false)
    );
    html(&state, &ctx, StatusCode::OK, "Plugins", Tab::Plugins, &body)
}

async fn docs_page(
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
    let docs = match api::plugin_docs(&state, name.clone()).await {
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

#[derive(Deserialize)]
struct Notice {
    notice: Option<String>,
}

async fn render_admin(
    state: &AppState,
    ctx: &PageCtx,
    status: StatusCode,
    notice: Option<&str>,
    error: Option<&str>,
) -> Response {
    let plugins = match api::list(state).await {
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

async fn admin_page(
    State(state): State<AppState>,
    ctx: PageCtx,
    Query(q): Query<Notice>,
) -> Response {
    if let Err(r) = require_staff(&state, &ctx) {
        return *r;
    }
    render_admin(&state, &ctx, StatusCode::OK, q.notice.as_deref(), None).await
}

fn notice_redirect(ctx: &PageCtx, text: &str) -> Response {
    see_other(ctx, &format!("/admin?notice={}", url_part(text)))
}

async fn upload(State(state): State<AppState>, ctx: PageCtx, request: Request) -> Response {
    let user = match require_staff(&state, &ctx) {
        Ok(u) => u,
        Err(r) => return *r,
    };
    let upload = match super::input::read_multipart(&state, request).await {
        Ok(u) => u,
        Err(e) => {
            let status = e.status;
            return render_admin(&state, &ctx, status, None, Some(&e.message)).await;
        }
    };
    if !ctx.csrf_ok(upload.csrf.as_deref().unwrap_or("")) {
        return csrf_refused(&state, &ctx);
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
    match api::install(&state, &user.name, filename, data, replace).await {
        Ok(m) => notice_redirect(&ctx, &format!("Installed plugin {} {}.", m.name, m.version)),
        Err(e) => render_admin(&state, &ctx, e.status, None, Some(&e.message)).await,
    }
}

async fn delete_confirm(
    State(state): State<AppState>,
    ctx: PageCtx,
    Path((name, version)): Path<(String, String)>,
) -> Response {
    if let Err(r) = require_staff(&state, &ctx) {
        return *r;
    }
    if let Err(e) = check_part("plugin name", &name).and(check_part("plugin version", &version)) {
        return error_page(&state, &ctx, e);
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

async fn delete(
    State(state): State<AppState>,
    ctx: PageCtx,
    Path((name, version)): Path<(String, String)>,
    Form(form): Form<CsrfForm>,
) -> Response {
    let user = match require_staff(&state, &ctx) {
        Ok(u) => u,
        Err(r) => return *r,
    };
    if !ctx.csrf_ok(&form.csrf) {
        return csrf_refused(&state, &ctx);
    }
    if let Err(e) = check_part("plugin name", &name).and(check_part("plugin version", &version)) {
        return error_page(&state, &ctx, e);
    }
    match api::delete_plugin(&state, &user.name, name.clone(), Some(version.clone())).await {
        Ok(()) => notice_redirect(&ctx, &format!("Deleted plugin {name} {version}.")),
        Err(e) => render_admin(&state, &ctx, e.status, None, Some(&e.message)).await,
    }
}

fn config_body(
    ctx: &PageCtx,
    name: &str,
    version: &str,
    text: &str,
    error: Option<&str>,
) -> String {
    let alert = error
        .map(|e| format!("<div class=\"alert\" role=\"alert\">{}</div>", esc(e)))
        .unwrap_or_default();
    format!(
        "<p><a href=\"{base}/admin\">← Administration</a></p><h1>Config of {n} {v}</h1>{alert}\
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

async fn config_page(
    State(state): State<AppState>,
    ctx: PageCtx,
    Path((name, version)): Path<(String, String)>,
) -> Response {
    if let Err(r) = require_staff(&state, &ctx) {
        return *r;
    }
    if let Err(e) = check_part("plugin name", &name).and(check_part("plugin version", &version)) {
        return error_page(&state, &ctx, e);
    }
    match api::load_config(&state, name.clone(), version.clone()).await {
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
struct ConfigForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    config_data: String,
}

async fn config_save(
    State(state): State<AppState>,
    ctx: PageCtx,
    Path((name, version)): Path<(String, String)>,
    Form(form): Form<ConfigForm>,
) -> Response {
    let user = match require_staff(&state, &ctx) {
        Ok(u) => u,
        Err(r) => return *r,
    };
    if !ctx.csrf_ok(&form.csrf) {
        return csrf_refused(&state, &ctx);
    }
    if let Err(e) = check_part("plugin name", &name).and(check_part("plugin version", &version)) {
        return error_page(&state, &ctx, e);
    }
    // Browsers send CRLF line ends from a textarea; YAML files keep LF.
    let text = form.config_data.replace("\r\n", "\n");
    match api::save_config(
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

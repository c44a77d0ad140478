//! The server-rendered pages: `login` (log in and out), `list` (the plugin list
//! every user sees), `docs` (a plugin's docs), and the staff-only Dashboard
//! Administration page, `admin` (upload, delete with a confirmation) and `config`
//! (the config editor). Plain forms, no script: each POST carries a CSRF token and
//! answers with a redirect (303) or the page with an error.
//!
//! This module owns the routes and what every page shares: the visitor checks
//! (login, staff, CSRF, plain `{name}/{version}`), the error and 403 pages, redirects
//! and cookies. The page frame and escaping are [`super::html`]'s. Pages may not call
//! the engine: what they do to plugins is `operations`, as for the API.

mod admin;
mod config;
mod docs;
mod list;
mod login;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;

use super::auth::{set_cookie, PageCtx, CSRF_COOKIE};
use super::error::ApiError;
use super::html::{alert, page, respond, url_part, Tab};
use super::input::check_plugin_version;
use super::users::User;
use super::AppState;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(login::root))
        .route("/login", get(login::login_form).post(login::login))
        .route("/logout", post(login::logout))
        .route("/plugins", get(list::plugins_page))
        .route("/plugins/{name}/docs", get(docs::docs_page))
        .route("/admin", get(admin::admin_page))
        .route("/admin/upload", post(admin::upload))
        .route(
            "/admin/plugins/{name}/{version}/delete",
            get(admin::delete_confirm).post(admin::delete),
        )
        .route(
            "/admin/plugins/{name}/{version}/config",
            get(config::config_page).post(config::config_save),
        )
}

/// A refusal or failure already rendered as a page (boxed: a `Response` is large).
type PageResult<T> = Result<T, Box<Response>>;

/// A form that carries nothing but its CSRF token.
#[derive(Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// Appends a `Set-Cookie` header; a cookie that is not a valid header is dropped.
fn add_cookie(response: &mut Response, cookie: &str) {
    if let Ok(v) = HeaderValue::from_str(cookie) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
}

/// Adds the CSRF cookie when the visitor had none.
fn finish(state: &AppState, ctx: &PageCtx, mut response: Response) -> Response {
    if ctx.new_csrf_cookie {
        let cookie = set_cookie(state, &ctx.base, CSRF_COOKIE, &ctx.csrf, None);
        add_cookie(&mut response, &cookie);
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

fn notice_redirect(ctx: &PageCtx, text: &str) -> Response {
    see_other(ctx, &format!("/admin?notice={}", url_part(text)))
}

/// The visitor, or a redirect to the login page.
fn require_user(ctx: &PageCtx) -> PageResult<User> {
    ctx.user
        .clone()
        .ok_or_else(|| Box::new(see_other(ctx, "/login")))
}

fn forbidden(state: &AppState, ctx: &PageCtx, why: &str) -> Response {
    let body = format!("<h1>Not allowed</h1>{}", alert(why));
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
fn require_staff(state: &AppState, ctx: &PageCtx) -> PageResult<User> {
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

/// A posted form's CSRF token, or a 403 page.
fn require_csrf(state: &AppState, ctx: &PageCtx, token: &str) -> PageResult<()> {
    if ctx.csrf_ok(token) {
        return Ok(());
    }
    Err(Box::new(forbidden(
        state,
        ctx,
        "The form's security token is missing or out of date. Go back, reload the page and try again.",
    )))
}

/// The staff visitor of a `{name}/{version}` page, checked in this order: staff, the
/// form's CSRF token when it is a POST (`csrf` given), plain name and version.
fn staff_on_plugin(
    state: &AppState,
    ctx: &PageCtx,
    csrf: Option<&str>,
    name: &str,
    version: &str,
) -> PageResult<User> {
    let user = require_staff(state, ctx)?;
    if let Some(token) = csrf {
        require_csrf(state, ctx, token)?;
    }
    check_plugin_version(name, version).map_err(|e| Box::new(error_page(state, ctx, e)))?;
    Ok(user)
}

fn error_page(state: &AppState, ctx: &PageCtx, e: ApiError) -> Response {
    let body = format!(
        "<h1>Error</h1>{}<p><a href=\"{}/plugins\">Back to the plugins</a></p>",
        alert(&e.message),
        ctx.base
    );
    html(state, ctx, e.status, "Error", Tab::None, &body)
}

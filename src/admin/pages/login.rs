//! Logging in and out of the pages: the login form (user name + token, checked and
//! throttled by [`crate::admin::auth`]), the session cookie it sets, and `/` sending
//! each visitor to where they belong. It may not show plugins.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;
use serde::Deserialize;

use super::{add_cookie, error_page, html, require_csrf, see_other, CsrfForm};
use crate::admin::auth::{check_token, set_cookie, LoginFailure, PageCtx, SESSION_COOKIE};
use crate::admin::error::ApiError;
use crate::admin::html::{alert, esc, Tab};
use crate::admin::AppState;

pub(super) async fn root(ctx: PageCtx) -> Response {
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
    let error_box = error.map(alert).unwrap_or_default();
    format!(
        "<h1>Log in</h1>{error_box}<div class=\"card\">\
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

pub(super) async fn login_form(State(state): State<AppState>, ctx: PageCtx) -> Response {
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
pub(super) struct LoginForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    token: String,
    #[serde(default)]
    csrf: String,
}

pub(super) async fn login(
    State(state): State<AppState>,
    ctx: PageCtx,
    Form(form): Form<LoginForm>,
) -> Response {
    if let Err(r) = require_csrf(&state, &ctx, &form.csrf) {
        return *r;
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
    add_cookie(&mut response, &cookie);
    response
}

pub(super) async fn logout(
    State(state): State<AppState>,
    ctx: PageCtx,
    Form(form): Form<CsrfForm>,
) -> Response {
    if let Err(r) = require_csrf(&state, &ctx, &form.csrf) {
        return *r;
    }
    if let Some(id) = &ctx.session {
        state.sessions.remove(id);
    }
    let mut response = see_other(&ctx, "/login");
    let cookie = set_cookie(&state, &ctx.base, SESSION_COOKIE, "", Some(0));
    add_cookie(&mut response, &cookie);
    response
}

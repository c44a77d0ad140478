//! Who is calling: API callers by token (`X-Racetrack-Auth`, as Racetrack's client
//! sends it, or `Authorization: Bearer`), page visitors by session cookie; staff
//! checks, failed-login throttling, CSRF tokens for the pages' forms.
//!
//! The API takes tokens only, never the session cookie, so it needs no CSRF token;
//! every page form carries one (the session's, or before login a cookie's).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, FromRequestParts, OriginalUri};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use subtle::ConstantTimeEq;

use super::error::ApiError;
use super::users::{random_token, User};
use super::{AdminError, AppState};

pub const SESSION_COOKIE: &str = "rtp_session";
pub const CSRF_COOKIE: &str = "rtp_csrf";
pub const AUTH_HEADER: &str = "x-racetrack-auth";
const SESSION_LIFETIME: Duration = Duration::from_secs(12 * 3600);

fn anonymous() -> User {
    User {
        name: "anonymous".into(),
        staff: true,
    }
}

struct Session {
    user: String,
    csrf: String,
    expires: Instant,
}

/// Page sessions, in memory: a restart logs everyone out, which is fine for a page
/// operators use now and then.
#[derive(Default)]
pub struct Sessions {
    map: Mutex<HashMap<String, Session>>,
}

impl Sessions {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        self.map
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A new session for `user`: its id (the cookie) and its CSRF token.
    pub fn create(&self, user: &str) -> Result<(String, String), AdminError> {
        let id = random_token()?;
        let csrf = random_token()?;
        let now = Instant::now();
        let mut map = self.lock();
        map.retain(|_, s| s.expires > now);
        map.insert(
            id.clone(),
            Session {
                user: user.to_string(),
                csrf: csrf.clone(),
                expires: now + SESSION_LIFETIME,
            },
        );
        Ok((id, csrf))
    }

    /// (user name, CSRF token) of a live session.
    fn get(&self, id: &str) -> Option<(String, String)> {
        let map = self.lock();
        map.get(id)
            .filter(|s| s.expires > Instant::now())
            .map(|s| (s.user.clone(), s.csrf.clone()))
    }

    pub fn remove(&self, id: &str) {
        self.lock().remove(id);
    }
}

pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A `Set-Cookie` value: HttpOnly and SameSite=Strict always, Secure behind TLS.
pub(crate) fn set_cookie(
    state: &AppState,
    base: &str,
    name: &str,
    value: &str,
    max_age: Option<u64>,
) -> String {
    let path = if base.is_empty() { "/" } else { base };
    let mut text = format!("{name}={value}; Path={path}; HttpOnly; SameSite=Strict");
    if let Some(age) = max_age {
        text.push_str(&format!("; Max-Age={age}"));
    }
    if state.config.behind_tls {
        text.push_str("; Secure");
    }
    text
}

pub fn client_addr(parts: &Parts) -> Option<IpAddr> {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
}

/// Why a login failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginFailure {
    Invalid,
    TooMany,
}

/// Checks a token, counting failures per address. Runs argon2 (first use of a
/// token) off the async workers.
pub(crate) async fn check_token(
    state: &AppState,
    token: String,
    addr: Option<IpAddr>,
    expected_user: Option<&str>,
) -> Result<User, LoginFailure> {
    let Some(_) = &state.users else {
        return Ok(anonymous());
    };
    let blocked = state.failed_logins.is_blocked(addr);
    let shared = state.clone();
    let outcome = tokio::task::spawn_blocking(move || match &shared.users {
        Some(store) => store.authenticate(&token).map_err(Some),
        None => Err(None),
    })
    .await;
    let refusal = match outcome {
        Ok(Ok(user)) if expected_user.is_none_or(|u| u == user.name) => return Ok(user),
        Ok(Ok(_)) => None,
        Ok(Err(refusal)) => refusal,
        Err(e) => {
            tracing::error!(error = %e, "token check panicked");
            None
        }
    };
    if blocked {
        tracing::warn!(addr = ?addr, "failed login while throttled");
        return Err(LoginFailure::TooMany);
    }
    let now_blocked = state.failed_logins.record_failure(addr);
    tracing::warn!(addr = ?addr, reason = ?refusal, throttled = now_blocked, "failed login");
    Err(LoginFailure::Invalid)
}

fn token_from(headers: &HeaderMap) -> Option<String> {
    if let Some(v) = headers.get(AUTH_HEADER).and_then(|v| v.to_str().ok()) {
        if !v.trim().is_empty() {
            return Some(v.trim().to_string());
        }
    }
    let auth = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = auth.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_string())
}

/// Any valid API user.
pub struct ApiUser(pub User);

impl FromRequestParts<AppState> for ApiUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if state.users.is_none() {
            return Ok(ApiUser(anonymous()));
        }
        let Some(token) = token_from(&parts.headers) else {
            return Err(ApiError::unauthorized(
                "missing auth token: send it in the X-Racetrack-Auth header",
            ));
        };
        match check_token(state, token, client_addr(parts), None).await {
            Ok(user) => Ok(ApiUser(user)),
            Err(LoginFailure::Invalid) => Err(ApiError::unauthorized("invalid auth token")),
            Err(LoginFailure::TooMany) => Err(ApiError::too_many_logins()),
        }
    }
}

/// A staff API user.
pub struct StaffUser(pub User);

impl FromRequestParts<AppState> for StaffUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let ApiUser(user) = ApiUser::from_request_parts(parts, state).await?;
        if !user.staff {
            return Err(ApiError::forbidden(format!(
                "user {} is not staff: only staff users may change plugins or read their config",
                user.name
            )));
        }
        Ok(StaffUser(user))
    }
}

/// What a page needs to know about its visitor. Never rejects: pages decide.
pub struct PageCtx {
    /// The prefix the router is nested under ("" at the root), for links.
    pub base: String,
    pub user: Option<User>,
    pub session: Option<String>,
    pub csrf: String,
    /// Set when the CSRF cookie is new: the response must carry it.
    pub new_csrf_cookie: bool,
    pub addr: Option<IpAddr>,
}

impl PageCtx {
    /// Whether a form's CSRF token is the visitor's (constant-time).
    pub fn csrf_ok(&self, sent: &str) -> bool {
        !self.new_csrf_cookie
            && !self.csrf.is_empty()
            && bool::from(self.csrf.as_bytes().ct_eq(sent.as_bytes()))
    }
}

fn base_of(parts: &Parts) -> String {
    let inner = parts.uri.path();
    let Some(OriginalUri(original)) = parts.extensions.get::<OriginalUri>() else {
        return String::new();
    };
    let full = original.path();
    let base = full.strip_suffix(inner).unwrap_or("");
    base.trim_end_matches('/').to_string()
}

fn looks_like_token(v: &str) -> bool {
    v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit())
}

impl FromRequestParts<AppState> for PageCtx {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let base = base_of(parts);
        let addr = client_addr(parts);
        let session_id = cookie(&parts.headers, SESSION_COOKIE).map(str::to_string);
        let mut user = None;
        let mut session_csrf = None;
        if let (Some(store), Some(id)) = (&state.users, &session_id) {
            if let Some((name, csrf)) = state.sessions.get(id) {
                // The file decides, so removing a user or its staff flag acts at once.
                user = store.user(&name);
                session_csrf = user.as_ref().map(|_| csrf);
            }
        }
        if state.users.is_none() {
            user = Some(anonymous());
        }
        let (csrf, new_csrf_cookie) = match session_csrf {
            Some(csrf) => (csrf, false),
            None => match cookie(&parts.headers, CSRF_COOKIE).filter(|v| looks_like_token(v)) {
                Some(v) => (v.to_string(), false),
                None => (random_token().unwrap_or_default(), true),
            },
        };
        Ok(PageCtx {
            base,
            user,
            session: session_id,
            csrf,
            new_csrf_cookie,
            addr,
        })
    }
}

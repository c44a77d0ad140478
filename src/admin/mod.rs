//! The administration server (feature `admin`): Racetrack's plugin API (`/api/v1/...`,
//! also under `/lifecycle/api/v1/...` as Racetrack's client expects) and the Dashboard
//! Administration page, as one axum [`Router`] a Rust host nests under any prefix, and
//! run by `racetrack-plugin serve`.
//!
//! Submodules: [`users`] (users file, token checks), [`ratelimit`] (failed logins),
//! [`auth`] (callers, sessions, CSRF), `input` (checks of path names, file names and
//! upload bodies), `operations` (what the API and the pages do to plugins, audited,
//! with the 409 in-progress set), [`error`] (the error answer and its statuses),
//! [`api`] (JSON routes), [`pages`] and [`html`] (server-rendered pages), [`audit`]
//! (audit log), [`serve`] (the CLI commands). Only `operations` calls the engine's
//! install, delete and config methods, so both front ends do them the same way.

pub mod api;
pub mod audit;
pub mod auth;
pub mod error;
pub mod html;
mod input;
mod operations;
pub mod pages;
pub mod ratelimit;
pub mod serve;
pub mod users;

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::Router;
use thiserror::Error;

use crate::engine::PluginEngine;

/// Who may use the server.
#[derive(Debug, Clone)]
pub enum AuthMode {
    /// Tokens checked against this users file (see [`users`]).
    UsersFile(PathBuf),
    /// Everyone is a staff user named `anonymous`: local development only.
    Disabled,
}

/// How the router is set up.
#[derive(Debug, Clone)]
pub struct AdminConfig {
    pub auth: AuthMode,
    /// Largest plugin upload accepted, in bytes.
    pub max_upload_bytes: usize,
    /// Marks the session cookie `Secure`: set it when clients reach the server over TLS.
    pub behind_tls: bool,
    /// Passed to the `fatman_job_types` hook for `/plugin/job_type/versions`.
    pub docker_registry_prefix: String,
}

impl AdminConfig {
    /// Token auth with `users_file`, 100 MiB uploads, no TLS declared.
    pub fn new(users_file: impl Into<PathBuf>) -> Self {
        AdminConfig {
            auth: AuthMode::UsersFile(users_file.into()),
            max_upload_bytes: 100 * 1024 * 1024,
            behind_tls: false,
            docker_registry_prefix: String::new(),
        }
    }
}

#[derive(Debug, Error)]
pub enum AdminError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("users file {}: {problem}", path.display())]
    UsersFile { path: PathBuf, problem: String },
    #[error("user name {0:?} is not allowed: use 1 to 64 letters, digits, '-' or '_'")]
    BadUserName(String),
    #[error("user {0} already exists (remove it first to give it a new token)")]
    UserExists(String),
    #[error("no user named {0}")]
    NoSuchUser(String),
    #[error("no secure random numbers available: {0}")]
    Random(String),
    #[error("cannot listen on {addr}: {problem}")]
    Bind { addr: String, problem: String },
    #[error("--no-auth serves anyone as staff, so it only listens on loopback addresses; {0} is not one")]
    NoAuthNotLoopback(String),
}

/// State shared by every handler.
pub(crate) struct Shared {
    pub engine: PluginEngine,
    pub config: AdminConfig,
    pub users: Option<users::UserStore>,
    pub failed_logins: ratelimit::FailedLogins,
    pub sessions: auth::Sessions,
    pub audit: audit::Audit,
    /// (name, version) of uploads running now: a second upload of one gets 409.
    pub installing: Mutex<HashSet<(String, String)>>,
}

pub(crate) type AppState = Arc<Shared>;

/// The administration router: API under `/api/v1` and `/lifecycle/api/v1`, pages
/// under `/` (`/login`, `/plugins`, `/admin`). Nest it under any prefix; links in the
/// pages follow the prefix. Serve it with
/// `into_make_service_with_connect_info::<SocketAddr>()` so failed logins are
/// throttled per client address (without it, all clients share one budget).
pub fn router(engine: PluginEngine, config: AdminConfig) -> Result<Router, AdminError> {
    let users = match &config.auth {
        AuthMode::UsersFile(path) => Some(users::UserStore::open(path.clone())?),
        AuthMode::Disabled => None,
    };
    let audit = audit::Audit::new(engine.plugins_dir().join("state").join("audit.log"));
    let state: AppState = Arc::new(Shared {
        engine,
        config,
        users,
        failed_logins: ratelimit::FailedLogins::default(),
        sessions: auth::Sessions::default(),
        audit,
        installing: Mutex::new(HashSet::new()),
    });
    let api = api::routes();
    Ok(Router::new()
        .nest("/api/v1", api.clone())
        .nest("/lifecycle/api/v1", api)
        .merge(pages::routes())
        .layer(axum::middleware::from_fn(trace_request))
        .with_state(state))
}

/// A span per request (method, path), so engine logs of an upload carry the request
/// they served; failures are logged with their status and duration.
async fn trace_request(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use tracing::Instrument;
    let span = tracing::info_span!(
        "http_request",
        method = %request.method(),
        path = %request.uri().path()
    );
    let started = std::time::Instant::now();
    let response = next.run(request).instrument(span.clone()).await;
    let status = response.status().as_u16();
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    span.in_scope(|| {
        if status >= 500 {
            tracing::error!(status, elapsed_ms, "request failed");
        } else {
            tracing::debug!(status, elapsed_ms, "request done");
        }
    });
    response
}

/// Default users file of a plugins dir.
pub fn default_users_file(plugins_dir: &std::path::Path) -> PathBuf {
    plugins_dir.join("state").join("users.yaml")
}

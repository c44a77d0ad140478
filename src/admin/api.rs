//! Racetrack's plugin API, same paths and shapes as Racetrack's lifecycle, so its own
//! `racetrack` client works unchanged. Errors are JSON `{"error": "..."}`; routes that
//! answer nothing answer JSON `null` (the client fails on a body without a type).
//! Engine calls that install, delete or reload run on blocking threads, so listing
//! keeps answering while pip runs for an upload.

use std::io::Read;

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Multipart, Path, Query, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use http_body_util::BodyExt;
use serde::Deserialize;
use serde_json::{json, Value};

use super::audit::Action;
use super::auth::{ApiUser, StaffUser};
use super::AppState;
use crate::engine::PluginInfo;
use crate::error::EngineError;
use crate::manifest::PluginManifest;
use crate::store::StoreError;

/// An error answer: status and a message for the operator.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
        }
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, message)
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }
    pub fn too_many_logins() -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too many failed logins from this address: try again in a minute",
        )
    }
    fn internal(message: impl Into<String>) -> Self {
        let message = message.into();
        tracing::error!(error = %message, "internal error");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        let status = match &e {
            EngineError::NotFound { .. } => StatusCode::NOT_FOUND,
            // Another process holds the plugins directory for longer than we wait.
            EngineError::Store(e) if matches!(**e, StoreError::LockTimeout { .. }) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            EngineError::Archive(_)
            | EngineError::Manifest(_)
            | EngineError::NotAZip { .. }
            | EngineError::UploadRejected { .. }
            | EngineError::Refused { .. }
            | EngineError::Store(_)
            | EngineError::Deps(_) => StatusCode::BAD_REQUEST,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(error = %e, "engine error");
        }
        ApiError::new(status, e.report())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({ "error": self.message }))).into_response()
    }
}

type ApiResult<T> = Result<T, ApiError>;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/info", get(info))
        .route("/users/validate_user_auth", get(validate_user_auth))
        .route("/plugin", get(list_plugins))
        .route("/plugin/upload", post(upload_multipart))
        .route("/plugin/upload/{*filename}", post(upload_raw))
        .route("/plugin/all", delete(delete_all))
        .route("/plugin/job_type/versions", get(job_type_versions))
        .route("/plugin/{name}/docs", get(docs))
        .route("/plugin/{name}/{version}", delete(delete_version))
        .route("/plugin/{name}/{version}/download", get(download))
        .route(
            "/plugin/{name}/{version}/config",
            get(read_config).put(write_config),
        )
        .fallback(|| async { ApiError::not_found("no such API route") })
}

/// Runs blocking engine work on tokio's blocking pool.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> ApiResult<T> {
    // The request's span follows the work onto the blocking thread.
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || span.in_scope(f))
        .await
        .map_err(|e| ApiError::internal(format!("engine task failed: {e}")))
}

/// A plugin name or version from a path: one plain file-name part.
pub(crate) fn check_part(what: &str, value: &str) -> ApiResult<()> {
    let bad = value.is_empty()
        || value.contains(['/', '\\', '\0'])
        || value.contains("..")
        || value.chars().any(char::is_control);
    if bad {
        return Err(ApiError::bad_request(format!(
            "{what} {value:?} is not a plain name (no '/', '\\', '..' or control characters)"
        )));
    }
    Ok(())
}

/// An uploaded file's name: a plain file name ending in `.zip`.
pub(crate) fn check_filename(filename: &str) -> ApiResult<()> {
    check_part("file name", filename)?;
    if !filename.to_ascii_lowercase().ends_with(".zip") {
        return Err(ApiError::bad_request(format!(
            "{filename}: only .zip plugin bundles can be installed"
        )));
    }
    Ok(())
}

/// Reads a request body up to `limit` bytes. Past the limit the rest is read and
/// dropped (up to a bound) before answering 413, so the client gets to read the
/// answer instead of a reset connection.
pub(crate) async fn read_limited(body: Body, limit: usize) -> ApiResult<Bytes> {
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "upload larger than the limit of {} MiB (serve --max-upload-mb)",
                limit / (1024 * 1024)
            ),
        )
    };
    let drain_bound = limit.saturating_mul(4).max(16 * 1024 * 1024);
    let mut body = body;
    let mut data = Vec::new();
    let mut seen = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| ApiError::bad_request(format!("reading the upload: {e}")))?;
        let Ok(chunk) = frame.into_data() else {
            continue;
        };
        seen = seen.saturating_add(chunk.len());
        if seen > limit {
            if seen > drain_bound {
                return Err(too_large());
            }
            data = Vec::new();
            continue;
        }
        data.extend_from_slice(&chunk);
    }
    if seen > limit {
        return Err(too_large());
    }
    Ok(Bytes::from(data))
}

/// The manifest inside a zip, read without the engine, only to know which plugin
/// version an upload is (for 409). Anything odd is left for the engine to report.
fn peek_manifest(data: &[u8], filename: &str) -> Option<PluginManifest> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(data)).ok()?;
    let entry = archive.by_name("plugin-manifest.yaml").ok()?;
    let mut text = String::new();
    entry.take(1024 * 1024).read_to_string(&mut text).ok()?;
    PluginManifest::parse(&text, filename).ok()
}

/// Removes an upload's (name, version) from the running set when it ends, however.
struct InstallingGuard {
    state: AppState,
    key: (String, String),
}

impl Drop for InstallingGuard {
    fn drop(&mut self) {
        self.state
            .installing
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.key);
    }
}

/// Installs an upload: the one path for the API (raw and multipart) and the page.
pub(crate) async fn install(
    state: &AppState,
    user: &str,
    filename: String,
    data: Bytes,
    replace: bool,
) -> ApiResult<PluginManifest> {
    check_filename(&filename)?;
    let peeked = peek_manifest(&data, &filename);
    let _guard = match &peeked {
        Some(m) => {
            let key = (m.name.clone(), m.version.clone());
            let fresh = state
                .installing
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(key.clone());
            if !fresh {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    format!(
                        "plugin {} {} is being installed right now; try again when that is done",
                        m.name, m.version
                    ),
                ));
            }
            Some(InstallingGuard {
                state: state.clone(),
                key,
            })
        }
        None => None,
    };
    let shared = state.clone();
    let user = user.to_string();
    blocking(move || {
        let result = shared.engine.upload_plugin(&filename, &data, replace);
        let (name, version) = match (&result, &peeked) {
            (Ok(m), _) | (Err(_), Some(m)) => (m.name.as_str(), m.version.as_str()),
            (Err(_), None) => (filename.as_str(), ""),
        };
        let error = result.as_ref().err().map(|e| e.report());
        shared
            .audit
            .record(&user, Action::Install, name, version, error.as_deref());
        result.map_err(ApiError::from)
    })
    .await?
}

/// Deletes one version, or every version when `version` is `None`.
pub(crate) async fn delete_plugin(
    state: &AppState,
    user: &str,
    name: String,
    version: Option<String>,
) -> ApiResult<()> {
    let shared = state.clone();
    let user = user.to_string();
    blocking(move || {
        let result = shared
            .engine
            .delete_plugin(&name, version.as_deref(), false);
        match &result {
            Ok(removed) => {
                for plugin in removed {
                    shared
                        .audit
                        .record(&user, Action::Delete, &plugin.name, &plugin.version, None);
                }
            }
            Err(e) => shared.audit.record(
                &user,
                Action::Delete,
                &name,
                version.as_deref().unwrap_or(""),
                Some(&e.report()),
            ),
        }
        result.map(|_| ()).map_err(ApiError::from)
    })
    .await?
}

/// Writes a plugin's config.
pub(crate) async fn save_config(
    state: &AppState,
    user: &str,
    name: String,
    version: String,
    text: String,
) -> ApiResult<()> {
    let shared = state.clone();
    let user = user.to_string();
    blocking(move || {
        let result = shared.engine.write_plugin_config(&name, &version, &text);
        let error = result.as_ref().err().map(|e| e.report());
        shared
            .audit
            .record(&user, Action::Config, &name, &version, error.as_deref());
        result.map_err(ApiError::from)
    })
    .await?
}

/// Reads a plugin's config; `None` when it has no config file yet.
pub(crate) async fn load_config(
    state: &AppState,
    name: String,
    version: String,
) -> ApiResult<Option<String>> {
    let shared = state.clone();
    blocking(move || {
        if find(&shared.engine.plugins(), &name, &version).is_none() {
            return Err(not_installed(&name, &version));
        }
        match shared.engine.read_plugin_config(&name, &version) {
            Ok(text) => Ok(Some(text)),
            Err(EngineError::Io { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                Ok(None)
            }
            Err(e) => Err(ApiError::from(e)),
        }
    })
    .await?
}

pub(crate) async fn list(state: &AppState) -> ApiResult<Vec<PluginInfo>> {
    let shared = state.clone();
    blocking(move || shared.engine.plugins()).await
}

/// A plugin's docs: 404 when not installed, `None` when it has none.
pub(crate) async fn plugin_docs(state: &AppState, name: String) -> ApiResult<Option<String>> {
    let shared = state.clone();
    blocking(move || {
        if !shared.engine.plugins().iter().any(|p| p.name == name) {
            return Err(ApiError::not_found(format!(
                "no installed plugin named {name}"
            )));
        }
        // A plugin failing in its own hook is the plugin's fault, not a server bug.
        shared
            .engine
            .markdown_docs(&name)
            .map_err(|e| ApiError::new(StatusCode::BAD_GATEWAY, e.to_string()))
    })
    .await?
}

fn find<'a>(plugins: &'a [PluginInfo], name: &str, version: &str) -> Option<&'a PluginInfo> {
    plugins
        .iter()
        .find(|p| p.name == name && p.version == version)
}

fn not_installed(name: &str, version: &str) -> ApiError {
    ApiError::not_found(format!(
        "no installed plugin named {name} with version {version}"
    ))
}

/// A manifest as Racetrack's API shows it, plus this engine's status and error.
pub(crate) fn manifest_json(p: &PluginInfo) -> Value {
    json!({
        "name": p.name,
        "version": p.version,
        "url": p.url,
        "priority": p.priority,
        "category": p.category,
        "components": p.components,
        "build_date": p.manifest.as_ref().and_then(|m| m.build_date.clone()),
        "status": p.status.to_string(),
        "error": p.error.as_ref().map(|e| e.report()),
    })
}

fn uploaded_json(m: &PluginManifest) -> Value {
    json!({
        "name": m.name,
        "version": m.version,
        "url": m.url,
        "priority": m.priority,
        "category": m.category,
        "components": m.components,
        "build_date": m.build_date,
    })
}

async fn info(State(state): State<AppState>) -> Json<Value> {
    Json(json!({
        "service": "lifecycle",
        "git_version": env!("CARGO_PKG_VERSION"),
        "docker_tag": "",
        "auth_required": state.users.is_some(),
    }))
}

async fn validate_user_auth(ApiUser(user): ApiUser) -> Json<Value> {
    Json(json!({ "username": user.name, "staff": user.staff }))
}

async fn list_plugins(State(state): State<AppState>, _user: ApiUser) -> ApiResult<Json<Value>> {
    let plugins = list(&state).await?;
    Ok(Json(Value::Array(
        plugins.iter().map(manifest_json).collect(),
    )))
}

#[derive(Deserialize)]
struct ReplaceQuery {
    replace: Option<String>,
}

fn truthy(v: Option<&str>) -> ApiResult<bool> {
    match v.map(|s| s.trim().to_ascii_lowercase()).as_deref() {
        None | Some("") | Some("0") | Some("false") | Some("no") | Some("off") => Ok(false),
        Some("1") | Some("true") | Some("yes") | Some("on") => Ok(true),
        Some(other) => Err(ApiError::bad_request(format!(
            "replace={other}: expected 0 or 1"
        ))),
    }
}

async fn upload_raw(
    State(state): State<AppState>,
    StaffUser(user): StaffUser,
    Path(filename): Path<String>,
    Query(query): Query<ReplaceQuery>,
    request: Request,
) -> ApiResult<Json<Value>> {
    check_filename(&filename)?;
    let replace = truthy(query.replace.as_deref())?;
    // Any Content-Type: Racetrack's client sends a form-urlencoded one with the zip.
    let data = read_limited(request.into_body(), state.config.max_upload_bytes).await?;
    let manifest = install(&state, &user.name, filename, data, replace).await?;
    Ok(Json(uploaded_json(&manifest)))
}

/// The fields of a multipart upload (API and page share them).
pub(crate) struct MultipartUpload {
    pub filename: Option<String>,
    pub data: Option<Bytes>,
    pub replace: Option<String>,
    pub csrf: Option<String>,
}

/// Reads a multipart body within the upload limit.
pub(crate) async fn read_multipart(
    state: &AppState,
    request: Request,
) -> ApiResult<MultipartUpload> {
    let (parts, body) = request.into_parts();
    // The multipart framing adds a little to the file itself.
    let limit = state.config.max_upload_bytes.saturating_add(64 * 1024);
    let data = read_limited(body, limit).await?;
    let request = Request::from_parts(parts, Body::from(data));
    let mut multipart = Multipart::from_request(request, &())
        .await
        .map_err(|e| ApiError::bad_request(format!("not a multipart upload: {e}")))?;
    let mut upload = MultipartUpload {
        filename: None,
        data: None,
        replace: None,
        csrf: None,
    };
    let bad = |e: axum::extract::multipart::MultipartError| {
        ApiError::bad_request(format!("reading the multipart upload: {e}"))
    };
    while let Some(field) = multipart.next_field().await.map_err(bad)? {
        match field.name().unwrap_or("") {
            "file" => {
                upload.filename = field.file_name().map(str::to_string);
                upload.data = Some(field.bytes().await.map_err(bad)?);
            }
            "replace" => upload.replace = Some(field.text().await.map_err(bad)?),
            "csrf" => upload.csrf = Some(field.text().await.map_err(bad)?),
            _ => {}
        }
    }
    if let Some(data) = &upload.data {
        if data.len() > state.config.max_upload_bytes {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "upload larger than the limit (serve --max-upload-mb)",
            ));
        }
    }
    Ok(upload)
}

async fn upload_multipart(
    State(state): State<AppState>,
    StaffUser(user): StaffUser,
    Query(query): Query<ReplaceQuery>,
    request: Request,
) -> ApiResult<Json<Value>> {
    let upload = read_multipart(&state, request).await?;
    let (Some(filename), Some(data)) = (upload.filename, upload.data) else {
        return Err(ApiError::bad_request(
            "multipart upload without a file field named \"file\" (with a file name)",
        ));
    };
    let replace = truthy(upload.replace.as_deref().or(query.replace.as_deref()))?;
    let manifest = install(&state, &user.name, filename, data, replace).await?;
    Ok(Json(uploaded_json(&manifest)))
}

async fn delete_version(
    State(state): State<AppState>,
    StaffUser(user): StaffUser,
    Path((name, version)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    check_part("plugin name", &name)?;
    check_part("plugin version", &version)?;
    delete_plugin(&state, &user.name, name, Some(version)).await?;
    Ok(Json(Value::Null))
}

async fn delete_all(
    State(state): State<AppState>,
    StaffUser(user): StaffUser,
) -> ApiResult<Json<Value>> {
    let plugins = list(&state).await?;
    let mut names: Vec<String> = plugins.into_iter().map(|p| p.name).collect();
    names.sort();
    names.dedup();
    for name in names {
        match delete_plugin(&state, &user.name, name, None).await {
            // Deleted meanwhile by someone else: that is what was asked.
            Err(e) if e.status == StatusCode::NOT_FOUND => {}
            other => other?,
        }
    }
    Ok(Json(Value::Null))
}

async fn download(
    State(state): State<AppState>,
    StaffUser(_user): StaffUser,
    Path((name, version)): Path<(String, String)>,
) -> ApiResult<Response> {
    check_part("plugin name", &name)?;
    check_part("plugin version", &version)?;
    let plugins = list(&state).await?;
    let zip = find(&plugins, &name, &version)
        .map(|p| p.zip_path.clone())
        .ok_or_else(|| not_installed(&name, &version))?;
    let data = blocking(move || std::fs::read(&zip))
        .await?
        .map_err(|e| ApiError::not_found(format!("{name} {version}: its zip is gone: {e}")))?;
    let disposition = format!("attachment; filename=\"{name}-{version}.zip\"");
    let mut response = (StatusCode::OK, data).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/zip"),
    );
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(response)
}

async fn read_config(
    State(state): State<AppState>,
    StaffUser(_user): StaffUser,
    Path((name, version)): Path<(String, String)>,
) -> ApiResult<Json<Option<String>>> {
    check_part("plugin name", &name)?;
    check_part("plugin version", &version)?;
    Ok(Json(load_config(&state, name, version).await?))
}

#[derive(Deserialize)]
struct ConfigUpdate {
    config_data: String,
}

async fn write_config(
    State(state): State<AppState>,
    StaffUser(user): StaffUser,
    Path((name, version)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    check_part("plugin name", &name)?;
    check_part("plugin version", &version)?;
    let update: ConfigUpdate = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(format!(
            "expected a JSON body {{\"config_data\": \"...\"}}: {e}"
        ))
    })?;
    save_config(&state, &user.name, name, version, update.config_data).await?;
    Ok(Json(Value::Null))
}

async fn docs(
    State(state): State<AppState>,
    _user: ApiUser,
    Path(name): Path<String>,
) -> ApiResult<Json<Option<String>>> {
    check_part("plugin name", &name)?;
    Ok(Json(plugin_docs(&state, name).await?))
}

async fn job_type_versions(
    State(state): State<AppState>,
    _user: ApiUser,
) -> ApiResult<Json<Vec<String>>> {
    let shared = state.clone();
    let types = blocking(move || {
        shared
            .engine
            .fatman_job_types(&shared.config.docker_registry_prefix)
    })
    .await?
    .map_err(|e| ApiError::new(StatusCode::BAD_GATEWAY, e.to_string()))?;
    Ok(Json(types.into_keys().collect()))
}

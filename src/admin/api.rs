//! Racetrack's plugin API, same paths and shapes as Racetrack's lifecycle, so its own
//! `racetrack` client works unchanged: the routes, their extractors and their JSON.
//! Errors are JSON `{"error": "..."}`; routes that answer nothing answer JSON `null`
//! (the client fails on a body without a type). What a route does to the plugins
//! lives in `operations`, shared with the pages; this module may not call
//! the engine itself.

use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::{ApiUser, StaffUser};
use super::error::ApiResult;
use super::input::{
    check_filename, check_part, check_plugin_version, read_limited, read_multipart,
};
use super::operations;
use super::AppState;
use crate::engine::PluginInfo;
use crate::manifest::PluginManifest;

// Where the error type lived before the split; kept for Rust hosts that name it here.
pub use super::error::ApiError;

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

/// A manifest as Racetrack's API shows it, plus this engine's status and error.
fn manifest_json(p: &PluginInfo) -> Value {
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
    let plugins = operations::list(&state).await?;
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
    let manifest = operations::install(&state, &user.name, filename, data, replace).await?;
    Ok(Json(uploaded_json(&manifest)))
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
    let manifest = operations::install(&state, &user.name, filename, data, replace).await?;
    Ok(Json(uploaded_json(&manifest)))
}

async fn delete_version(
    State(state): State<AppState>,
    StaffUser(user): StaffUser,
    Path((name, version)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    check_plugin_version(&name, &version)?;
    operations::delete_plugin(&state, &user.name, name, Some(version)).await?;
    Ok(Json(Value::Null))
}

async fn delete_all(
    State(state): State<AppState>,
    StaffUser(user): StaffUser,
) -> ApiResult<Json<Value>> {
    operations::delete_all(&state, &user.name).await?;
    Ok(Json(Value::Null))
}

async fn download(
    State(state): State<AppState>,
    StaffUser(_user): StaffUser,
    Path((name, version)): Path<(String, String)>,
) -> ApiResult<Response> {
    check_plugin_version(&name, &version)?;
    let data = operations::read_zip(&state, &name, &version).await?;
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
    check_plugin_version(&name, &version)?;
    Ok(Json(operations::load_config(&state, name, version).await?))
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
    check_plugin_version(&name, &version)?;
    let update: ConfigUpdate = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(format!(
            "expected a JSON body {{\"config_data\": \"...\"}}: {e}"
        ))
    })?;
    operations::save_config(&state, &user.name, name, version, update.config_data).await?;
    Ok(Json(Value::Null))
}

async fn docs(
    State(state): State<AppState>,
    _user: ApiUser,
    Path(name): Path<String>,
) -> ApiResult<Json<Option<String>>> {
    check_part("plugin name", &name)?;
    Ok(Json(operations::plugin_docs(&state, name).await?))
}

async fn job_type_versions(
    State(state): State<AppState>,
    _user: ApiUser,
) -> ApiResult<Json<Vec<String>>> {
    Ok(Json(operations::job_types(&state).await?))
}

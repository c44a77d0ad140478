//! What a request may carry, checked before anything reaches the engine: plugin
//! names and versions from a path (one plain name each), upload file names (a plain
//! `.zip` name), and bodies read within the upload limit (raw or multipart). Shared by
//! the API and the pages; it may not call the engine or decide who is calling.

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::StatusCode;
use http_body_util::BodyExt;

use super::error::{ApiError, ApiResult};
use super::AppState;

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

/// The `{name}/{version}` of a plugin route: both plain names.
pub(crate) fn check_plugin_version(name: &str, version: &str) -> ApiResult<()> {
    check_part("plugin name", name)?;
    check_part("plugin version", version)
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

/// The fields of a multipart upload (API and page share them).
#[derive(Default)]
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
    let mut upload = MultipartUpload::default();
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

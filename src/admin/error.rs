//! `ApiError`, the one error answer of the server: a status and a message for the
//! operator, sent as JSON `{"error": "..."}` by the API (the pages show the same
//! message in HTML). Owns the mapping of engine errors to statuses; it may not decide
//! who is calling or touch the engine.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::error::EngineError;
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
    /// A server bug: logged here, so every 500 leaves a trace for the operator.
    pub(crate) fn internal(message: impl Into<String>) -> Self {
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

pub(crate) type ApiResult<T> = Result<T, ApiError>;

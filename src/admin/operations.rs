//! What the API and the pages both do to the plugins directory: list, install (with
//! the in-progress set that answers 409 to a second upload of one plugin version),
//! delete, read and write configs, docs, zips, job types. Every change is audited
//! here, once for both front ends, and engine calls run on tokio's blocking pool so
//! listing keeps answering while pip runs for an upload. It may not read requests or
//! build responses: callers pass checked values and render the outcome.

use std::io::Read;

use axum::body::Bytes;
use axum::http::StatusCode;

use super::audit::Action;
use super::error::{ApiError, ApiResult};
use super::input::check_filename;
use super::AppState;
use crate::engine::PluginInfo;
use crate::error::EngineError;
use crate::manifest::PluginManifest;

/// Runs blocking engine work on tokio's blocking pool.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> ApiResult<T> {
    // The request's span follows the work onto the blocking thread.
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || span.in_scope(f))
        .await
        .map_err(|e| ApiError::internal(format!("engine task failed: {e}")))
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

/// An upload's (name, version) in the running set; removed when the upload ends,
/// however it ends.
struct InstallingGuard {
    state: AppState,
    key: (String, String),
}

impl InstallingGuard {
    /// Marks `manifest`'s plugin version as being installed, or 409 when it already is.
    fn claim(state: &AppState, manifest: &PluginManifest) -> ApiResult<Self> {
        let key = (manifest.name.clone(), manifest.version.clone());
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
                    manifest.name, manifest.version
                ),
            ));
        }
        Ok(InstallingGuard {
            state: state.clone(),
            key,
        })
    }
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
        Some(m) => Some(InstallingGuard::claim(state, m)?),
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

/// Deletes every installed plugin, name by name.
pub(crate) async fn delete_all(state: &AppState, user: &str) -> ApiResult<()> {
    let mut names: Vec<String> = list(state).await?.into_iter().map(|p| p.name).collect();
    names.sort();
    names.dedup();
    for name in names {
        match delete_plugin(state, user, name, None).await {
            // Deleted meanwhile by someone else: that is what was asked.
            Err(e) if e.status == StatusCode::NOT_FOUND => {}
            other => other?,
        }
    }
    Ok(())
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

/// The bytes of an installed plugin version's zip.
pub(crate) async fn read_zip(state: &AppState, name: &str, version: &str) -> ApiResult<Vec<u8>> {
    let plugins = list(state).await?;
    let zip = find(&plugins, name, version)
        .map(|p| p.zip_path.clone())
        .ok_or_else(|| not_installed(name, version))?;
    blocking(move || std::fs::read(&zip))
        .await?
        .map_err(|e| ApiError::not_found(format!("{name} {version}: its zip is gone: {e}")))
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

/// The job types the plugins offer, for the configured Docker registry prefix.
pub(crate) async fn job_types(state: &AppState) -> ApiResult<Vec<String>> {
    let shared = state.clone();
    let types = blocking(move || {
        shared
            .engine
            .fatman_job_types(&shared.config.docker_registry_prefix)
    })
    .await?
    // As for docs: a failing hook is the plugin's fault.
    .map_err(|e| ApiError::new(StatusCode::BAD_GATEWAY, e.to_string()))?;
    Ok(types.into_keys().collect())
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

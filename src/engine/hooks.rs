//! The seed's hooks, typed for Rust hosts.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::invoke::{CallMode, HookError, HookOutput};
use super::plugin::PluginRef;
use super::PluginEngine;
use crate::python::{HookArgs, PyValue};
use crate::types::{FatmanDto, Manifest};

/// A job type offered by a plugin (`fatman_job_types`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobType {
    pub plugin: PluginRef,
    pub base_image: String,
    /// Dockerfile template, resolved inside the plugin's folder.
    pub template_path: PathBuf,
}

/// A live Python object a plugin provides (deployer, monitor, logs streamer); call
/// its methods with [`PyValue::call_method`].
#[derive(Debug, Clone)]
pub struct PluginObject {
    pub plugin: PluginRef,
    pub object: PyValue,
}

fn bad_result(output: &HookOutput, hook: &str, problem: impl Into<String>) -> HookError {
    HookError::BadResult {
        plugin: PluginRef::clone(&output.plugin),
        hook: hook.to_string(),
        problem: problem.into(),
    }
}

impl PluginEngine {
    /// Supplementary actions after a fatman is deployed.
    pub fn post_fatman_deploy(
        &self,
        manifest: &Manifest,
        fatman: &FatmanDto,
        image_name: &str,
        deployer_username: Option<&str>,
    ) -> Result<(), HookError> {
        let args = HookArgs::new()
            .arg(manifest.clone())
            .arg(fatman.clone())
            .arg(image_name.to_string())
            .kwarg("deployer_username", deployer_username.map(String::from));
        self.invoke("post_fatman_deploy", &args).map(|_| ())
    }

    /// Supplementary actions after a fatman is deleted.
    pub fn post_fatman_delete(
        &self,
        fatman: &FatmanDto,
        username_executor: Option<&str>,
    ) -> Result<(), HookError> {
        let args = HookArgs::new()
            .arg(fatman.clone())
            .kwarg("username_executor", username_executor.map(String::from));
        self.invoke("post_fatman_delete", &args).map(|_| ())
    }

    /// Env vars every plugin adds to a fatman's runtime, merged; a later plugin in the
    /// call order overrides an earlier one's variable.
    pub fn fatman_runtime_env_vars(&self) -> Result<BTreeMap<String, String>, HookError> {
        const HOOK: &str = "fatman_runtime_env_vars";
        let set = self.current();
        let mut merged = BTreeMap::new();
        let mut failure = None;
        let mut bad = None;
        self.invoke_each_on(
            &set,
            HOOK,
            None,
            &HookArgs::new(),
            CallMode::FailFast,
            |plugin, result| match result {
                // A raising plugin wins over a bad result of an earlier one, as with invoke.
                Err(e) => failure = Some(e),
                Ok(_) if bad.is_some() => {}
                Ok(value) => {
                    // The outcomes arrive while the runtime holds the interpreter, so
                    // the common plain dict of str merges without a round trip.
                    if value.is_none() || value.merge_str_dict_into(&mut merged) {
                        return;
                    }
                    // Anything else: through the JSON view.
                    let output = HookOutput {
                        plugin: plugin.origin().clone(),
                        value,
                    };
                    match output.value.deserialize::<BTreeMap<String, String>>() {
                        Ok(vars) => merged.extend(vars),
                        Err(e) => {
                            bad = Some(bad_result(
                                &output,
                                HOOK,
                                format!("expected a dict of str to str: {e}"),
                            ))
                        }
                    }
                }
            },
        )?;
        match failure.or(bad) {
            Some(e) => Err(e),
            None => Ok(merged),
        }
    }

    /// Job types: job name → (base image, Dockerfile template inside the plugin).
    pub fn fatman_job_types(
        &self,
        docker_registry_prefix: &str,
    ) -> Result<BTreeMap<String, JobType>, HookError> {
        const HOOK: &str = "fatman_job_types";
        let args = HookArgs::new().arg(docker_registry_prefix.to_string());
        let mut types = BTreeMap::new();
        for output in self.invoke(HOOK, &args)? {
            if output.value.is_none() {
                continue;
            }
            let entries: BTreeMap<String, (String, String)> =
                output.value.deserialize().map_err(|e| {
                    bad_result(
                        &output,
                        HOOK,
                        format!("expected a dict of name to (base image, template path): {e}"),
                    )
                })?;
            // Derived, not looked up: a reload meanwhile must not lose the folder.
            let plugin_dir = self.inner.dir.extracted_dir(&output.plugin.id());
            for (name, (base_image, template)) in entries {
                let template_path = resolve_inside(&plugin_dir, &template).map_err(|problem| {
                    bad_result(&output, HOOK, format!("job type {name}: {problem}"))
                })?;
                types.insert(
                    name,
                    JobType {
                        plugin: PluginRef::clone(&output.plugin),
                        base_image,
                        template_path,
                    },
                );
            }
        }
        Ok(types)
    }

    /// Fatman deployers: name → live deployer object.
    pub fn fatman_deployers(&self) -> Result<BTreeMap<String, PluginObject>, HookError> {
        self.named_objects("fatman_deployers")
    }

    /// Fatman monitors: name → live monitor object.
    pub fn fatman_monitors(&self) -> Result<BTreeMap<String, PluginObject>, HookError> {
        self.named_objects("fatman_monitors")
    }

    /// Fatman logs streamers: name → live streamer object.
    pub fn fatman_logs_streamers(&self) -> Result<BTreeMap<String, PluginObject>, HookError> {
        self.named_objects("fatman_logs_streamers")
    }

    /// A plugin's documentation in Markdown, if it has any.
    pub fn markdown_docs(&self, plugin_name: &str) -> Result<Option<String>, HookError> {
        const HOOK: &str = "markdown_docs";
        let Some(output) = self.invoke_one(plugin_name, HOOK, &HookArgs::new())? else {
            return Ok(None);
        };
        if output.value.is_none() {
            return Ok(None);
        }
        output
            .value
            .deserialize::<String>()
            .map(Some)
            .map_err(|e| bad_result(&output, HOOK, format!("expected a str: {e}")))
    }

    fn named_objects(&self, hook: &str) -> Result<BTreeMap<String, PluginObject>, HookError> {
        let mut objects = BTreeMap::new();
        for output in self.invoke(hook, &HookArgs::new())? {
            if output.value.is_none() {
                continue;
            }
            let entries = output
                .value
                .dict_items()
                .map_err(|problem| bad_result(&output, hook, problem))?;
            for (name, object) in entries {
                if let Some(previous) = objects.get(&name).map(|o: &PluginObject| o.plugin.clone())
                {
                    tracing::warn!(
                        hook,
                        name,
                        "{} overrides the one of {previous}",
                        output.plugin
                    );
                }
                objects.insert(
                    name,
                    PluginObject {
                        plugin: PluginRef::clone(&output.plugin),
                        object,
                    },
                );
            }
        }
        Ok(objects)
    }
}

/// Resolves a path a plugin returned against its folder, refusing anything outside.
fn resolve_inside(plugin_dir: &std::path::Path, path: &str) -> Result<PathBuf, String> {
    // Lexically first: a path that climbs out is refused whether or not it exists.
    let mut depth: usize = 0;
    for component in std::path::Path::new(path).components() {
        match component {
            std::path::Component::Normal(_) => depth += 1,
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir if depth > 0 => depth -= 1,
            _ if std::path::Path::new(path).starts_with(plugin_dir) => {}
            _ => {
                return Err(format!(
                    "template {path:?} lies outside the plugin's folder"
                ))
            }
        }
    }
    let joined = plugin_dir.join(path);
    let resolved = joined
        .canonicalize()
        .map_err(|e| format!("template {path:?} cannot be opened: {e}"))?;
    let root = plugin_dir
        .canonicalize()
        .map_err(|e| format!("plugin folder {}: {e}", plugin_dir.display()))?;
    if resolved.starts_with(&root) {
        Ok(resolved)
    } else {
        Err(format!(
            "template {path:?} lies outside the plugin's folder"
        ))
    }
}

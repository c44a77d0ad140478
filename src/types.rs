//! The host's data passed to seed hooks: the fatman (job) manifest and the fatman
//! record. Both keep fields they do not name, so newer hosts lose nothing, and reach
//! Python as objects with attribute access (`manifest.git.remote`).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Where a fatman's source lives.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GitDefinition {
    pub remote: String,
    #[serde(default)]
    pub branch: Option<String>,
    #[serde(default)]
    pub directory: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A fatman's manifest (`fatman.yaml`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub name: String,
    pub owner_email: String,
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub lang: Option<String>,
    #[serde(default)]
    pub git: GitDefinition,
    #[serde(default)]
    pub labels: Option<Map<String, Value>>,
    #[serde(default)]
    pub runtime_env: Option<Map<String, Value>>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A deployed fatman, as Racetrack records it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FatmanDto {
    pub name: String,
    pub version: String,
    pub status: String,
    /// Unix timestamps in seconds.
    pub create_time: i64,
    pub update_time: i64,
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub manifest: Option<Manifest>,
    #[serde(default)]
    pub internal_name: Option<String>,
    #[serde(default)]
    pub pub_url: Option<String>,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub image_tag: Option<String>,
    #[serde(default)]
    pub deployed_by: Option<String>,
    #[serde(default)]
    pub last_call_time: Option<i64>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

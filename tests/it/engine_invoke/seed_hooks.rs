//! The typed seed hooks, and results of the wrong shape.

use super::*;

fn fatman_fixture() -> (Manifest, FatmanDto) {
    let manifest = Manifest {
        name: "adder".into(),
        owner_email: "me@example.com".into(),
        lang: Some("python3".into()),
        git: GitDefinition {
            remote: "https://git.example.com/adder".into(),
            branch: Some("main".into()),
            directory: Some("sub".into()),
            ..Default::default()
        },
        extra: [("replicas".to_string(), serde_json::json!(2))]
            .into_iter()
            .collect(),
        ..Default::default()
    };
    let fatman = FatmanDto {
        name: "adder".into(),
        version: "0.0.1".into(),
        status: "running".into(),
        create_time: 1,
        update_time: 2,
        manifest: Some(manifest.clone()),
        deployed_by: Some("alice".into()),
        ..Default::default()
    };
    (manifest, fatman)
}

#[test]
fn seed_hooks_typed() {
    let tmp = tempfile::tempdir().unwrap();
    PluginSrc::new("recorder", "1")
        .file("templates/job.Dockerfile", "FROM {{ base_image }}\n")
        .plugin_py(
            r##"
import json, pathlib
class Deployer:
    def __init__(self, tag):
        self.tag = tag
    def deploy(self, name):
        return f"{self.tag} deployed {name}"
class Plugin:
    def __init__(self):
        self.log = pathlib.Path(str(self.config_path)).with_name("calls.jsonl")
    def _record(self, **data):
        with self.log.open("a") as f:
            f.write(json.dumps(data) + "\n")
    def post_fatman_deploy(self, manifest, fatman, image_name, deployer_username=None):
        self._record(hook="deploy", manifest_name=manifest.name, remote=manifest.git.remote,
                     branch=manifest["git"]["branch"], replicas=manifest.replicas,
                     fatman=fatman.name, fatman_manifest_owner=fatman.manifest.owner_email,
                     image=image_name, user=deployer_username, deployed_by=fatman.deployed_by)
    def post_fatman_delete(self, fatman, username_executor=None):
        self._record(hook="delete", fatman=fatman.name, user=username_executor)
    def fatman_runtime_env_vars(self):
        return {"SHARED": "recorder", "ONLY_RECORDER": "1"}
    def fatman_job_types(self, docker_registry_prefix):
        return {"python3": (f"{docker_registry_prefix}/python3:latest",
                            pathlib.Path("templates/job.Dockerfile"))}
    def fatman_deployers(self):
        return {"docker": Deployer("docker")}
    def fatman_monitors(self):
        return {"docker": Deployer("monitor")}
    def fatman_logs_streamers(self):
        return None
    def markdown_docs(self):
        return "# Recorder"
"##,
        )
        .write_into(tmp.path());
    simple_plugin(
        "later",
        "1",
        "    def fatman_runtime_env_vars(self):\n        return {'SHARED': 'later'}\n    def fatman_job_types(self, prefix):\n        return {'escape': ('img', '../../../etc/passwd')}",
    )
    .priority(5)
    .write_into(tmp.path());
    let engine = engine(tmp.path());
    let (manifest, fatman) = fatman_fixture();

    engine
        .post_fatman_deploy(&manifest, &fatman, "registry/adder:1", Some("bob"))
        .unwrap();
    engine.post_fatman_delete(&fatman, None).unwrap();
    let log = std::fs::read_to_string(tmp.path().join("config/recorder-1/calls.jsonl")).unwrap();
    let calls: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        calls[0],
        serde_json::json!({"hook": "deploy", "manifest_name": "adder", "remote": "https://git.example.com/adder",
            "branch": "main", "replicas": 2, "fatman": "adder", "fatman_manifest_owner": "me@example.com",
            "image": "registry/adder:1", "user": "bob", "deployed_by": "alice"})
    );
    assert_eq!(
        calls[1],
        serde_json::json!({"hook": "delete", "fatman": "adder", "user": null})
    );

    let env = engine.fatman_runtime_env_vars().unwrap();
    assert_eq!(
        env["SHARED"], "later",
        "later plugins override earlier ones"
    );
    assert_eq!(env["ONLY_RECORDER"], "1");

    let err = engine.fatman_job_types("reg.example.com/ns").unwrap_err();
    assert!(
        err.to_string().contains("later 1") && err.to_string().contains("outside"),
        "{err}"
    );
    engine.delete_plugin("later", None, false).unwrap();
    let types = engine.fatman_job_types("reg.example.com/ns").unwrap();
    let job = &types["python3"];
    assert_eq!(job.base_image, "reg.example.com/ns/python3:latest");
    assert!(job
        .template_path
        .ends_with("extracted/recorder-1/templates/job.Dockerfile"));
    assert!(job.template_path.is_file());

    let deployers = engine.fatman_deployers().unwrap();
    let deployed = deployers["docker"]
        .object
        .call_method("deploy", &HookArgs::new().arg("adder"))
        .unwrap();
    assert_eq!(deployed.to_json().unwrap(), "docker deployed adder");
    assert_eq!(deployers["docker"].plugin.name, "recorder");
    let monitors = engine.fatman_monitors().unwrap();
    assert_eq!(
        monitors["docker"]
            .object
            .getattr("tag")
            .unwrap()
            .to_json()
            .unwrap(),
        "monitor"
    );
    assert!(engine.fatman_logs_streamers().unwrap().is_empty());
    assert_eq!(
        engine.markdown_docs("recorder").unwrap().as_deref(),
        Some("# Recorder")
    );
}

#[test]
fn wrong_result_shapes_are_reported() {
    let tmp = tempfile::tempdir().unwrap();
    simple_plugin("shapeless", "2", "    def fatman_runtime_env_vars(self):\n        return ['not', 'a', 'dict']\n    def fatman_deployers(self):\n        return 'nope'")
        .write_into(tmp.path());
    let engine = engine(tmp.path());
    let err = engine.fatman_runtime_env_vars().unwrap_err();
    assert!(matches!(err, HookError::BadResult { .. }));
    assert!(err.to_string().contains("shapeless 2"), "{err}");
    let err = engine.fatman_deployers().unwrap_err();
    assert!(err.to_string().contains("expected a dict"), "{err}");
}

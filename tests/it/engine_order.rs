//! Call order: priority, then install order (persisted), then name.

use crate::common::*;
use racetrack_plugins::HookArgs;

fn who(name: &str) -> String {
    format!("    def who(self):\n        return '{name}'")
}

fn order(engine: &racetrack_plugins::PluginEngine) -> Vec<String> {
    call_json(engine, "who", &HookArgs::new())
        .into_iter()
        .map(|(_, v)| v.as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn lowest_priority_first() {
    let tmp = tempfile::tempdir().unwrap();
    for (name, priority) in [("a", 5), ("b", -2), ("c", 0), ("d", 10)] {
        simple_plugin(name, "1", &who(name))
            .priority(priority)
            .write_into(tmp.path());
    }
    assert_eq!(order(&engine(tmp.path())), vec!["b", "c", "a", "d"]);
}

#[test]
fn equal_priorities_keep_install_order_across_restarts() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let first = engine(dir);
    // Installed in the order zeta, alpha, mid: not alphabetical on purpose.
    for name in ["zeta", "alpha", "mid"] {
        let src = simple_plugin(name, "1", &who(name));
        first
            .upload_plugin(&src.file_name(), &src.zip_bytes(), false)
            .unwrap();
    }
    let urgent = simple_plugin("urgent", "1", &who("urgent")).priority(-1);
    first
        .upload_plugin(&urgent.file_name(), &urgent.zip_bytes(), false)
        .unwrap();
    assert_eq!(order(&first), vec!["urgent", "zeta", "alpha", "mid"]);
    drop(first);

    let restarted = engine(dir);
    assert_eq!(order(&restarted), vec!["urgent", "zeta", "alpha", "mid"]);

    // Reinstalling keeps the first position.
    let again = simple_plugin("alpha", "1", &who("alpha"));
    restarted
        .upload_plugin(&again.file_name(), &again.zip_bytes(), false)
        .unwrap();
    assert_eq!(order(&restarted), vec!["urgent", "zeta", "alpha", "mid"]);
    // An upgrade keeps the plugin's place among equal priorities.
    let zeta2 = simple_plugin("zeta", "2", &who("zeta2"));
    restarted
        .upload_plugin(&zeta2.file_name(), &zeta2.zip_bytes(), true)
        .unwrap();
    assert_eq!(order(&restarted), vec!["urgent", "zeta2", "alpha", "mid"]);
    assert_eq!(order(&engine(dir)), vec!["urgent", "zeta2", "alpha", "mid"]);
    // A new plugin goes last, whatever its name.
    let late = simple_plugin("aaa-late", "1", &who("late"));
    restarted
        .upload_plugin(&late.file_name(), &late.zip_bytes(), false)
        .unwrap();
    assert_eq!(
        order(&restarted),
        vec!["urgent", "zeta2", "alpha", "mid", "late"]
    );
}

#[test]
fn zips_copied_by_hand_are_ordered_by_name_on_first_sight() {
    let tmp = tempfile::tempdir().unwrap();
    for name in ["c", "a", "b"] {
        simple_plugin(name, "1", &who(name)).write_into(tmp.path());
    }
    assert_eq!(order(&engine(tmp.path())), vec!["a", "b", "c"]);
}

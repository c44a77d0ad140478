//! Sharing one engine across threads, and reloading under load.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::*;
use racetrack_plugins::{HookArgs, PluginEngine};

fn assert_send_sync<T: Send + Sync>() {}

#[test]
fn engine_is_send_and_sync() {
    assert_send_sync::<PluginEngine>();
}

#[test]
fn calls_during_reloads_always_see_a_whole_set() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // Each plugin reports the generation it belongs to; a set is whole when all
    // plugins of one call report the same generation and all of them answer.
    let write_generation = |generation: u32| {
        for i in 0..5 {
            simple_plugin(
                &format!("p{i}"),
                "1",
                &format!("    def generation(self):\n        return {generation}"),
            )
            .write_into(dir);
        }
    };
    write_generation(0);
    let engine = Arc::new(engine(dir));
    let stop = Arc::new(AtomicBool::new(false));
    let mut callers = Vec::new();
    for _ in 0..4 {
        let engine = engine.clone();
        let stop = stop.clone();
        callers.push(std::thread::spawn(move || {
            let mut calls = 0u32;
            while !stop.load(Ordering::Relaxed) || calls == 0 {
                let results = engine
                    .invoke("generation", &HookArgs::new())
                    .expect("no errors");
                let generations: Vec<i64> = results
                    .iter()
                    .map(|r| r.value.to_json().unwrap().as_i64().unwrap())
                    .collect();
                assert_eq!(
                    generations.len(),
                    5,
                    "a call saw a partial set: {generations:?}"
                );
                assert!(
                    generations.iter().all(|g| *g == generations[0]),
                    "mixed sets: {generations:?}"
                );
                calls += 1;
            }
            calls
        }));
    }
    for generation in 1..=4 {
        write_generation(generation);
        engine.reload();
        std::thread::sleep(Duration::from_millis(5));
    }
    stop.store(true, Ordering::Relaxed);
    let total: u32 = callers
        .into_iter()
        .map(|c| c.join().expect("caller thread"))
        .sum();
    assert!(total > 0);
    let last = engine.invoke("generation", &HookArgs::new()).unwrap();
    assert_eq!(last[0].value.to_json().unwrap(), 4);
}

#[test]
fn another_process_change_is_picked_up_through_the_marker() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    simple_plugin("base", "1", "    def who(self):\n        return 'base'").write_into(dir);
    let watcher = PluginEngine::builder(dir)
        .watch_interval(Some(Duration::from_millis(0)))
        .build()
        .unwrap();
    assert_eq!(names(&watcher), vec!["base"]);

    // A second engine on the same dir stands for another process (it only shares files).
    let other = engine(dir);
    let src = simple_plugin("added", "1", "    def who(self):\n        return 'added'");
    other
        .upload_plugin(&src.file_name(), &src.zip_bytes(), false)
        .unwrap();

    // Calls notice the change and reload in the background, serving the current set
    // meanwhile: the new plugin shows up within a few calls.
    let deadline = Instant::now() + Duration::from_secs(60);
    let results = loop {
        let results = call_json(&watcher, "who", &HookArgs::new());
        if results.len() == 2 || Instant::now() >= deadline {
            break results;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    assert_eq!(
        results.len(),
        2,
        "the watcher reloaded after last-change.txt changed"
    );

    // A watcher with no interval keeps its set until told.
    let frozen = engine(dir);
    other.delete_plugin("added", None, false).unwrap();
    assert_eq!(names(&frozen).len(), 2);
    assert!(frozen.reload_if_changed());
    assert_eq!(names(&frozen), vec!["base"]);
    assert!(!frozen.reload_if_changed());
}

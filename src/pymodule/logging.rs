//! Engine logs (`tracing`) forwarded to Python's `logging`, so a Python host sees them
//! with its own handlers: logger names follow the Rust modules
//! (`racetrack_plugins.engine.load`, ...). The threshold is the effective level of the
//! `racetrack_plugins` logger, checked at every engine call (read again only after
//! some level changed).

use std::fmt::{self, Write as _};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::OnceLock;

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyDict;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::subscriber::Interest;
use tracing::{Dispatch, Event, Level, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

const ROOT_LOGGER: &str = "racetrack_plugins";

/// Python level below which events are dropped (`logging.WARNING` until read).
static THRESHOLD: AtomicI32 = AtomicI32::new(30);

fn python_level(level: &Level) -> i32 {
    match *level {
        Level::ERROR => 40,
        Level::WARN => 30,
        Level::INFO => 20,
        Level::DEBUG => 10,
        Level::TRACE => 5,
    }
}

fn dispatch() -> &'static Dispatch {
    static DISPATCH: OnceLock<Dispatch> = OnceLock::new();
    DISPATCH.get_or_init(|| Dispatch::new(tracing_subscriber::registry().with(PyLogLayer)))
}

/// Runs `f` with the engine's logs going to Python's `logging` (on this thread).
pub(crate) fn with_python_logging<T>(py: Python<'_>, f: impl FnOnce() -> T) -> T {
    static CACHE: PyOnceLock<Option<Py<PyDict>>> = PyOnceLock::new();
    static LOGGER: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let logger = LOGGER.get_or_try_init(py, || {
        py.import("logging")?
            .call_method1("getLogger", (ROOT_LOGGER,))
            .map(Bound::unbind)
    });
    if let Ok(logger) = logger {
        let logger = logger.bind(py);
        let cache = CACHE.get_or_init(py, || level_cache(logger).map(Bound::unbind));
        refresh_threshold(logger, cache.as_ref().map(|c| c.bind(py)));
    }
    // Scoped to this call, not a global default: a process may also run the CLI
    // (`run_cli`), whose logs go to stderr through a global subscriber of its own.
    tracing::dispatcher::with_default(dispatch(), f)
}

/// The logger's level cache, a dict `logging` empties (never replaces) on every level
/// change; `None` for a `logging` without one.
fn level_cache<'py>(logger: &Bound<'py, PyAny>) -> Option<Bound<'py, PyDict>> {
    let cache = logger.getattr(intern!(logger.py(), "_cache")).ok()?;
    cache.cast_into::<PyDict>().ok()
}

/// A key of the logger's own level cache that `logging` never uses (it keys by level
/// number): while it is there, no level has changed since the threshold was read.
const VALID_MARK: &str = "racetrack_plugins threshold";

/// Reads the logger's effective level when it may have changed. `logging` clears
/// every logger's `_cache` dict whenever any level changes (`setLevel`, `disable`),
/// so a mark left in it says the last reading still holds; walking the logger
/// hierarchy on every call would cost more than a small hook call. Without that cache
/// (another `logging`), the level is read every time.
fn refresh_threshold(logger: &Bound<'_, PyAny>, cache: Option<&Bound<'_, PyDict>>) {
    let py = logger.py();
    let mark = intern!(py, VALID_MARK);
    if let Some(cache) = cache {
        if cache.contains(mark).unwrap_or(false) {
            return;
        }
    }
    let level = logger
        .call_method0(intern!(py, "getEffectiveLevel"))
        .and_then(|level| level.extract::<i32>());
    if let Ok(level) = level {
        THRESHOLD.store(level, Ordering::Relaxed);
        if let Some(cache) = cache {
            let _ = cache.set_item(mark, true);
        }
    }
}

/// An event's or span's fields as text: the message, then ` key=value` pairs.
#[derive(Default)]
struct FieldText {
    message: String,
    rest: String,
}

impl Visit for FieldText {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            let _ = write!(self.rest, " {}={}", field.name(), value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            let _ = write!(self.rest, " {}={:?}", field.name(), value);
        }
    }
}

/// A span's text, kept in its extensions: `name{fields}`.
struct SpanText(String);

struct PyLogLayer;

impl<S> Layer<S> for PyLogLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn register_callsite(&self, _metadata: &'static Metadata<'static>) -> Interest {
        // The threshold follows Python's logging configuration, so ask every time.
        Interest::sometimes()
    }

    fn enabled(&self, metadata: &Metadata<'_>, _ctx: Context<'_, S>) -> bool {
        python_level(metadata.level()) >= THRESHOLD.load(Ordering::Relaxed)
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut fields = FieldText::default();
        attrs.record(&mut fields);
        if let Some(span) = ctx.span(id) {
            let text = format!("{}{{{}}}", span.name(), fields.rest.trim_start());
            span.extensions_mut().insert(SpanText(text));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let metadata = event.metadata();
        let mut fields = FieldText::default();
        event.record(&mut fields);
        let mut text = String::new();
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope.from_root() {
                if let Some(span_text) = span.extensions().get::<SpanText>() {
                    text.push_str(&span_text.0);
                    text.push_str(": ");
                }
            }
        }
        text.push_str(&fields.message);
        text.push_str(&fields.rest);
        let logger = metadata.target().replace("::", ".");
        let level = python_level(metadata.level());
        Python::attach(|py| {
            let logged = py
                .import("logging")
                .and_then(|logging| logging.call_method1("getLogger", (logger,)))
                .and_then(|logger| logger.call_method1("log", (level, "%s", text)));
            // Logging must never turn into an error of the engine call.
            drop(logged);
        });
    }
}

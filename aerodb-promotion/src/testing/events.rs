//! A `tracing` subscriber that records promotion events, for tests and for printing them.
//!
//! ```
//! use aerodb_promotion::testing::events::Capture;
//! let capture = Capture::default();
//! tracing::subscriber::with_default(capture.clone(), || {
//!     // drive a promotion here
//! });
//! assert!(capture.take().is_empty());
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use crate::telemetry::EVENT_TARGET as TARGET;

/// One captured event: its name and fields rendered as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Captured {
    /// The event name, e.g. `replication.promotion.requested`.
    pub name: String,
    /// Field name → value as text.
    pub fields: BTreeMap<String, String>,
}

impl Captured {
    /// The value of field `key`; panics naming the event if it has none (a test failure).
    pub fn field(&self, key: &str) -> &str {
        self.fields
            .get(key)
            .map(String::as_str)
            .unwrap_or_else(|| panic!("{} has no field {key}: {self:?}", self.name))
    }
}

impl fmt::Display for Captured {
    /// `name key=value …`, skipping the `event` field that repeats the name.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        for (key, value) in self.fields.iter().filter(|(k, _)| k.as_str() != "event") {
            write!(f, " {key}={value}")?;
        }
        Ok(())
    }
}

/// Records every `aerodb::promotion` event, or with `reject_all` takes none.
#[derive(Debug, Clone, Default)]
pub struct Capture {
    /// The events recorded so far.
    pub events: Arc<Mutex<Vec<Captured>>>,
    /// Filter every event out (a subscriber that wants nothing).
    pub reject_all: bool,
}

impl Capture {
    /// The names of the events recorded so far.
    pub fn names(&self) -> Vec<String> {
        self.events.lock().unwrap_or_else(PoisonError::into_inner).iter().map(|e| e.name.clone()).collect()
    }
    /// Removes and returns the events recorded so far.
    pub fn take(&self) -> Vec<Captured> {
        std::mem::take(&mut *self.events.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl tracing::field::Visit for Fields<'_> {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
}

impl tracing::Subscriber for Capture {
    fn register_callsite(&self, _: &'static tracing::Metadata<'static>) -> tracing::subscriber::Interest {
        tracing::subscriber::Interest::sometimes()
    }
    fn enabled(&self, metadata: &tracing::Metadata<'_>) -> bool {
        !self.reject_all && metadata.target() == TARGET
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut fields = BTreeMap::new();
        event.record(&mut Fields(&mut fields));
        let name = event.metadata().name().to_owned();
        self.events.lock().unwrap_or_else(PoisonError::into_inner).push(Captured { name, fields });
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

//! One home for the small renderings that text, events and errors share.

use std::fmt;

use aerodb_core::{Epoch, EpochHistory};

use crate::invariant::Invariant;

/// A value, or `unknown`.
pub(crate) struct OrUnknown<T>(pub Option<T>);

impl<T: fmt::Display> fmt::Display for OrUnknown<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Some(value) => value.fmt(f),
            None => f.write_str("unknown"),
        }
    }
}

/// `epoch N`, or `no record`.
pub(crate) struct EpochOrNone(pub Option<Epoch>);

impl fmt::Display for EpochOrNone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(epoch) => write!(f, "epoch {epoch}"),
            None => f.write_str("no record"),
        }
    }
}

/// Invariant ids joined by `separator`, or `none`.
pub(crate) struct Ids<'a>(pub &'a [Invariant], pub &'static str);

impl fmt::Display for Ids<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("none");
        }
        for (i, id) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(self.1)?;
            }
            f.write_str(id.id())?;
        }
        Ok(())
    }
}

/// Values joined by `, `; nothing when there are none.
pub(crate) struct Joined<'a, T>(pub &'a [T]);

impl<T: fmt::Display> fmt::Display for Joined<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, value) in self.0.iter().enumerate() {
            write!(f, "{}{value}", if i == 0 { "" } else { ", " })?;
        }
        Ok(())
    }
}

/// An epoch history as `[1@0, 2@100]`.
pub(crate) struct HistoryText<'a>(pub &'a EpochHistory);

impl fmt::Display for HistoryText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        for (i, e) in self.0.entries().iter().enumerate() {
            write!(f, "{}{}@{}", if i == 0 { "" } else { ", " }, e.epoch, e.start)?;
        }
        f.write_str("]")
    }
}

/// Bytes as lowercase hex, no separators.
pub(crate) struct Hex<'a>(pub &'a [u8]);

impl fmt::Display for Hex<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

//! Node identifiers: fixed-size, validated at construction, one stable text form.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Longest node id, in bytes.
pub const NODE_ID_MAX_LEN: usize = 32;

/// A node's identity: 1 to 32 ASCII bytes from `[A-Za-z0-9._-]`, starting with a letter or digit.
///
/// Fixed-size and `Copy`: it lives inline in records, events and role tables.
/// The text form (`Display`) is the only rendering and `FromStr` reads it back exactly.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId {
    len: u8,
    bytes: [u8; NODE_ID_MAX_LEN],
}

/// Why a node id was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NodeIdError {
    /// The text was empty.
    #[error("node id is empty")]
    Empty,
    /// The raw bytes were all zero: the nil id names no node.
    #[error("node id is nil (all zero bytes)")]
    Nil,
    /// Longer than [`NODE_ID_MAX_LEN`].
    #[error("node id is {len} bytes long; at most {NODE_ID_MAX_LEN} are allowed")]
    TooLong {
        /// Length that was given.
        len: usize,
    },
    /// A byte outside `[A-Za-z0-9._-]`, or a first byte that is not a letter or digit.
    #[error(
        "node id has an invalid character {found:?} at byte {index}; use A-Z, a-z, 0-9, '.', '_' or '-', starting with a letter or digit"
    )]
    InvalidChar {
        /// Byte offset of the offending character.
        index: usize,
        /// The character found there.
        found: char,
    },
}

impl NodeId {
    /// Validates `text` as a node id.
    pub fn new(text: &str) -> Result<Self, NodeIdError> {
        let raw = text.as_bytes();
        if raw.is_empty() {
            return Err(NodeIdError::Empty);
        }
        if raw.len() > NODE_ID_MAX_LEN {
            return Err(NodeIdError::TooLong { len: raw.len() });
        }
        for (index, ch) in text.char_indices() {
            let allowed = ch.is_ascii_alphanumeric() || (index > 0 && matches!(ch, '.' | '_' | '-'));
            if !allowed {
                return Err(NodeIdError::InvalidChar { index, found: ch });
            }
        }
        let mut bytes = [0u8; NODE_ID_MAX_LEN];
        bytes[..raw.len()].copy_from_slice(raw);
        // Length is at most 32, checked above.
        Ok(NodeId { len: raw.len() as u8, bytes })
    }

    /// Rebuilds an id from its fixed-size, zero-padded byte form (see [`NodeId::to_bytes`]).
    pub fn from_bytes(bytes: [u8; NODE_ID_MAX_LEN]) -> Result<Self, NodeIdError> {
        if bytes.iter().all(|b| *b == 0) {
            return Err(NodeIdError::Nil);
        }
        let len = bytes.iter().position(|b| *b == 0).unwrap_or(NODE_ID_MAX_LEN);
        if let Some(index) = bytes[len..].iter().position(|b| *b != 0) {
            return Err(NodeIdError::InvalidChar {
                index: len + index,
                found: char::from(bytes[len + index]),
            });
        }
        match std::str::from_utf8(&bytes[..len]) {
            Ok(text) => NodeId::new(text),
            Err(e) => {
                Err(NodeIdError::InvalidChar { index: e.valid_up_to(), found: char::REPLACEMENT_CHARACTER })
            }
        }
    }

    /// The fixed-size, zero-padded byte form.
    pub fn to_bytes(&self) -> [u8; NODE_ID_MAX_LEN] {
        self.bytes
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        // Only validated ASCII is ever stored, so this never falls back.
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or_default()
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NodeId({})", self.as_str())
    }
}

impl FromStr for NodeId {
    type Err = NodeIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        NodeId::new(s)
    }
}

impl Serialize for NodeId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for NodeId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        NodeId::new(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_round_trips() {
        for text in ["a", "node-1", "db.eu-west_3", "N0123456789012345678901234567890"] {
            let id: NodeId = text.parse().unwrap();
            assert_eq!(id.to_string(), text);
            assert_eq!(NodeId::from_bytes(id.to_bytes()).unwrap(), id);
        }
    }

    #[test]
    fn invalid_text_is_refused_with_its_reason() {
        assert_eq!(NodeId::new(""), Err(NodeIdError::Empty));
        assert_eq!(NodeId::new(&"x".repeat(33)), Err(NodeIdError::TooLong { len: 33 }));
        assert_eq!(NodeId::new("-a"), Err(NodeIdError::InvalidChar { index: 0, found: '-' }));
        assert_eq!(NodeId::new("a b"), Err(NodeIdError::InvalidChar { index: 1, found: ' ' }));
        assert_eq!(NodeId::new("nodé"), Err(NodeIdError::InvalidChar { index: 3, found: 'é' }));
        assert_eq!(NodeId::new("a\0"), Err(NodeIdError::InvalidChar { index: 1, found: '\0' }));
    }

    #[test]
    fn nil_and_malformed_bytes_are_refused() {
        assert_eq!(NodeId::from_bytes([0; 32]), Err(NodeIdError::Nil));
        let mut gap = [0u8; 32];
        gap[0] = b'a';
        gap[5] = b'b';
        assert_eq!(NodeId::from_bytes(gap), Err(NodeIdError::InvalidChar { index: 5, found: 'b' }));
        let mut bad = [0u8; 32];
        bad[0] = 0xff;
        assert!(NodeId::from_bytes(bad).is_err());
    }

    #[test]
    fn messages_name_the_problem() {
        assert_eq!(NodeId::new("").unwrap_err().to_string(), "node id is empty");
    }

    /// Debug output names the id in text, as logs and assertion messages show it.
    #[test]
    fn debug_shows_the_text_form() {
        assert_eq!(format!("{:?}", NodeId::new("node-1").unwrap()), "NodeId(node-1)");
    }
}

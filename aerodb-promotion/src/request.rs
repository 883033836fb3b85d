//! Promotion requests (stage 6.2): explicit, validated at construction, never retried (P6-F3).

use std::fmt;

use aerodb_core::{Epoch, NodeId, NodeIdError};
use serde::{Deserialize, Serialize};

use crate::display::Joined;
use crate::invariant::Invariant;

/// Longest operator reason, in bytes.
pub const MAX_REASON_LEN: usize = 256;
/// Longest caller-chosen request id, in bytes.
pub const MAX_REQUEST_ID_LEN: usize = 64;

/// Whether this deployment allows promotion at all (§7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PromotionPolicy {
    /// Requests are screened and validated.
    Enabled,
    /// Every request is refused at once; nothing is validated, written or kept.
    Disabled,
}

/// An explicit request to promote one replica. Only [`PromotionRequestBuilder::build`] makes one.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct PromotionRequest {
    candidate: NodeId,
    reason: Option<String>,
    force: bool,
    request_id: Option<String>,
}

/// A request field that was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// `candidate` is not a valid node id.
    #[error("request field `candidate` is invalid: {0}")]
    Candidate(NodeIdError),
    /// `reason` is empty, too long or not printable.
    #[error("request field `reason` is invalid: {0}")]
    Reason(TextProblem),
    /// `request_id` is empty, too long or has characters outside `[A-Za-z0-9._:-]`.
    #[error("request field `request_id` is invalid: {0}")]
    RequestId(TextProblem),
}

impl From<NodeIdError> for RequestError {
    fn from(error: NodeIdError) -> Self {
        RequestError::Candidate(error)
    }
}

/// What is wrong with a text field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TextProblem {
    /// Given but empty.
    #[error("it is empty")]
    Empty,
    /// Over the limit.
    #[error("it is {len} bytes long; at most {max} are allowed")]
    TooLong {
        /// Length given.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A character that is not allowed.
    #[error("character {found:?} at byte {index} is not allowed")]
    Character {
        /// Byte offset.
        index: usize,
        /// The character.
        found: char,
    },
}

fn check_text(text: &str, max: usize, allowed: impl Fn(char) -> bool) -> Result<(), TextProblem> {
    if text.is_empty() {
        return Err(TextProblem::Empty);
    }
    if text.len() > max {
        return Err(TextProblem::TooLong { len: text.len(), max });
    }
    match text.char_indices().find(|&(_, c)| !allowed(c)) {
        Some((index, found)) => Err(TextProblem::Character { index, found }),
        None => Ok(()),
    }
}

/// Builds a [`PromotionRequest`]; [`build`](Self::build) validates every field.
#[derive(Debug, Clone)]
#[must_use]
pub struct PromotionRequestBuilder {
    candidate: String,
    reason: Option<String>,
    force: bool,
    request_id: Option<String>,
}

impl PromotionRequest {
    /// Starts a request to promote `candidate`.
    ///
    /// ```
    /// use aerodb_promotion::PromotionRequest;
    /// let request = PromotionRequest::builder("replica-2").reason("primary host lost").build().unwrap();
    /// assert_eq!(request.candidate().as_str(), "replica-2");
    /// assert!(!request.force());
    /// ```
    pub fn builder(candidate: &str) -> PromotionRequestBuilder {
        PromotionRequestBuilder {
            candidate: candidate.to_owned(),
            reason: None,
            force: false,
            request_id: None,
        }
    }

    /// A request for `candidate` with nothing else given (no reason, no force): what a dry
    /// run over every node asks.
    pub(crate) fn of(candidate: NodeId) -> Self {
        PromotionRequest { candidate, reason: None, force: false, request_id: None }
    }

    /// The replica to promote.
    pub fn candidate(&self) -> NodeId {
        self.candidate
    }

    /// The operator's reason, if given.
    pub fn reason(&self) -> Option<&str> {
        self.reason.as_deref()
    }

    /// Whether the operator asserts the old primary is down when that cannot be observed (P6-A1a).
    pub fn force(&self) -> bool {
        self.force
    }

    /// The caller's id for this request, if given.
    pub fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }
}

impl PromotionRequestBuilder {
    /// Operator's reason: printable text, at most [`MAX_REASON_LEN`] bytes.
    pub fn reason(mut self, reason: &str) -> Self {
        self.reason = Some(reason.to_owned());
        self
    }

    /// Operator asserts the old primary is down (P6-A1a). Never overrides a primary known to be active.
    pub fn force(mut self, force: bool) -> Self {
        self.force = force;
        self
    }

    /// Caller-chosen id: `[A-Za-z0-9._:-]`, at most [`MAX_REQUEST_ID_LEN`] bytes.
    pub fn request_id(mut self, id: &str) -> Self {
        self.request_id = Some(id.to_owned());
        self
    }

    /// Validates every field.
    pub fn build(self) -> Result<PromotionRequest, RequestError> {
        let candidate = NodeId::new(&self.candidate)?;
        if let Some(reason) = &self.reason {
            check_text(reason, MAX_REASON_LEN, |c| !c.is_control()).map_err(RequestError::Reason)?;
        }
        if let Some(id) = &self.request_id {
            check_text(id, MAX_REQUEST_ID_LEN, |c| {
                c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-')
            })
            .map_err(RequestError::RequestId)?;
        }
        Ok(PromotionRequest {
            candidate,
            reason: self.reason,
            force: self.force,
            request_id: self.request_id,
        })
    }
}

/// Why a request was refused before validation (`PromotionRequested → Steady`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    /// Promotion is disabled by policy (§7).
    #[error("promotion is disabled by policy")]
    Disabled,
    /// Another attempt for this authority is in flight (P6-A1).
    #[error("another promotion for this authority is already in progress")]
    AlreadyInProgress,
    /// The inputs describe no node with the candidate's id (P6-F1).
    #[error("candidate {candidate} is not among the nodes described by the inputs ([{}])", Joined(described))]
    UnknownCandidate {
        /// The requested candidate.
        candidate: NodeId,
        /// The nodes the inputs describe, sorted.
        described: Vec<NodeId>,
    },
    /// The candidate already holds write authority.
    #[error("candidate {candidate} is already the primary at epoch {epoch}")]
    AlreadyPrimary {
        /// The requested candidate.
        candidate: NodeId,
        /// The current epoch.
        epoch: Epoch,
    },
}

impl Rejection {
    /// The values screening compared, as explanations show them (P6-O2).
    pub fn compared(&self) -> String {
        match self {
            Rejection::Disabled => "promotion policy disabled; required enabled".to_owned(),
            Rejection::AlreadyInProgress => {
                "this authority's promotion slot is held by another attempt; required free".to_owned()
            }
            Rejection::UnknownCandidate { candidate, described } => format!(
                "candidate {candidate}; nodes described: [{}]; required among them",
                Joined(described)
            ),
            Rejection::AlreadyPrimary { candidate, epoch } => format!(
                "candidate {candidate}; recorded primary {candidate} at epoch {epoch}; required another node"
            ),
        }
    }

    /// The invariant the rejection upholds: fail closed when promotion is off or the candidate
    /// is unknown (P6-F1); one authority, one attempt (P6-A1).
    pub const fn invariant(&self) -> Invariant {
        match self {
            Rejection::Disabled | Rejection::UnknownCandidate { .. } => Invariant::P6F1,
            Rejection::AlreadyInProgress | Rejection::AlreadyPrimary { .. } => Invariant::P6A1,
        }
    }
}

impl fmt::Display for PromotionPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PromotionPolicy::Enabled => "enabled",
            PromotionPolicy::Disabled => "disabled",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_request_builds() {
        let r = PromotionRequest::builder("r-1")
            .reason("disk died")
            .force(true)
            .request_id("op:42")
            .build()
            .unwrap();
        assert_eq!(
            (r.candidate().as_str(), r.reason(), r.force(), r.request_id()),
            ("r-1", Some("disk died"), true, Some("op:42"))
        );
    }

    #[test]
    fn each_bad_field_is_named() {
        let bad_candidate = PromotionRequest::builder("").build().unwrap_err();
        assert_eq!(bad_candidate, RequestError::Candidate(NodeIdError::Empty));
        assert!(bad_candidate.to_string().contains("`candidate`"));

        let long = "x".repeat(MAX_REASON_LEN + 1);
        let err = PromotionRequest::builder("r").reason(&long).build().unwrap_err();
        assert_eq!(
            err,
            RequestError::Reason(TextProblem::TooLong { len: MAX_REASON_LEN + 1, max: MAX_REASON_LEN })
        );
        assert!(err.to_string().contains("`reason`"));
        assert_eq!(
            PromotionRequest::builder("r").reason("a\nb").build(),
            Err(RequestError::Reason(TextProblem::Character { index: 1, found: '\n' }))
        );
        assert_eq!(
            PromotionRequest::builder("r").reason("").build(),
            Err(RequestError::Reason(TextProblem::Empty))
        );

        let err = PromotionRequest::builder("r").request_id("a b").build().unwrap_err();
        assert_eq!(err, RequestError::RequestId(TextProblem::Character { index: 1, found: ' ' }));
        assert!(err.to_string().contains("`request_id`"));
        let long_id = "i".repeat(MAX_REQUEST_ID_LEN + 1);
        assert!(matches!(
            PromotionRequest::builder("r").request_id(&long_id).build(),
            Err(RequestError::RequestId(TextProblem::TooLong { .. }))
        ));
    }

    #[test]
    fn limits_are_inclusive() {
        let reason = "é".repeat(MAX_REASON_LEN / 2);
        let id = "i".repeat(MAX_REQUEST_ID_LEN);
        assert!(PromotionRequest::builder("r").reason(&reason).request_id(&id).build().is_ok());
    }

    #[test]
    fn policies_read_as_words() {
        assert_eq!(PromotionPolicy::Enabled.to_string(), "enabled");
        assert_eq!(PromotionPolicy::Disabled.to_string(), "disabled");
    }
}

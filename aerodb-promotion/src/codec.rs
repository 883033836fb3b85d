//! The on-disk frames of the authority record and of the primary's report; the only code that
//! knows their bytes.
//!
//! ```text
//! magic (8) | version u16 LE | payload length u32 LE | bincode payload | CRC32 u32 LE
//! ```
//! The record's magic is "AERODBAR"; the report's "AERODBPR" (its own format, version
//! [`REPORT_FORMAT_VERSION`]), so neither is ever read as the other.
//! The CRC covers every byte before it. Decoding checks magic, version, length bounds (before
//! allocating anything), CRC, then the payload — each failure its own [`DecodeError`].
//!
//! Version 3 keeps, with each request, the evidence its approval rested on (the acknowledged
//! bound and the old primary's state, each with its source). Version 2 kept, per history entry,
//! the request that made it (force and reason included, P6-A1a); its records still decode, with
//! no evidence. Version 1 records still decode: their entries carry no request, and their force
//! flag, which recorded only that force was requested, reads as [`Force::RequestedUnrecorded`].

use aerodb_core::{Epoch, NodeId, WalPosition};
use bincode::config::{Configuration, Fixint, Limit, LittleEndian};
use serde::Deserialize;

use crate::display::Hex;
use crate::evidence::PrimaryReport;
use crate::record::{AuthorityRecord, Force, PastAuthority, RecordBody, RecordError, RequestSummary};

/// First bytes of every record file.
pub const MAGIC: [u8; 8] = *b"AERODBAR";
/// First bytes of every primary report.
pub const REPORT_MAGIC: [u8; 8] = *b"AERODBPR";
/// The report frame format this code writes and reads.
pub const REPORT_FORMAT_VERSION: u16 = 1;
/// The frame format this code writes.
pub const FORMAT_VERSION: u16 = 3;
/// The earliest frame format this code still reads.
pub const OLDEST_READABLE_VERSION: u16 = 1;
/// Largest payload accepted, in bytes: the largest valid record (64 history entries, every
/// text at its limit) fits, with room to spare.
pub const MAX_PAYLOAD: usize = 48 * 1024;
/// Bytes before the payload.
pub const HEADER_LEN: usize = MAGIC.len() + 2 + 4;
/// Bytes after the payload.
pub const TRAILER_LEN: usize = 4;
/// Largest whole frame accepted.
pub const MAX_FRAME: usize = HEADER_LEN + MAX_PAYLOAD + TRAILER_LEN;

fn config() -> Configuration<LittleEndian, Fixint, Limit<MAX_PAYLOAD>> {
    bincode::config::standard().with_little_endian().with_fixed_int_encoding().with_limit::<MAX_PAYLOAD>()
}

/// Why bytes are not a valid authority record. Never read as "old" or "new": fail closed (§9).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// Shorter than the fixed header and trailer, or than the length it declares.
    #[error("truncated: {actual} bytes, expected {expected}")]
    Truncated {
        /// Bytes present.
        actual: usize,
        /// Bytes needed.
        expected: usize,
    },
    /// Not the kind of frame expected (an authority record, or a primary report).
    #[error("bad magic bytes {} (expected {:?})", Hex(found), String::from_utf8_lossy(expected))]
    BadMagic {
        /// The first eight bytes found.
        found: [u8; 8],
        /// The magic expected.
        expected: [u8; 8],
    },
    /// Written by an unknown format version.
    #[error("unsupported format version {found} (this build reads {oldest} to {newest})")]
    UnsupportedVersion {
        /// The version found.
        found: u16,
        /// The oldest version this build reads.
        oldest: u16,
        /// The newest.
        newest: u16,
    },
    /// Declares a payload larger than any valid record.
    #[error("declares a {declared}-byte payload; at most {MAX_PAYLOAD} are allowed")]
    LengthOutOfBounds {
        /// The declared length.
        declared: u64,
    },
    /// Bytes follow the declared frame.
    #[error("{extra} bytes after the checksum")]
    TrailingBytes {
        /// How many.
        extra: usize,
    },
    /// The checksum does not match.
    #[error("checksum mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    ChecksumMismatch {
        /// CRC32 in the file.
        stored: u32,
        /// CRC32 of the bytes.
        computed: u32,
    },
    /// The payload is not a well-formed record body.
    #[error("payload does not decode: {0}")]
    Payload(String),
    /// The payload decodes but breaks a record rule.
    #[error("breaks a record rule: {0}")]
    Invalid(RecordError),
}

impl From<RecordError> for DecodeError {
    fn from(error: RecordError) -> Self {
        DecodeError::Invalid(error)
    }
}

/// Why a record could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("authority record does not encode: {0}")]
pub struct EncodeError(String);

/// Bytes reserved up front for a frame (header, 512 payload bytes, trailer): a typical record
/// fits, so encoding allocates once. Speed only: any capacity gives the same bytes.
const TYPICAL_FRAME: usize = 530;
const _: () = assert!(TYPICAL_FRAME == HEADER_LEN + 512 + TRAILER_LEN);

impl AuthorityRecord {
    /// The record's framed bytes, as the file store writes them:
    /// `magic "AERODBAR" | version u16 LE | payload length u32 LE | bincode payload | CRC32 u32 LE`,
    /// the CRC over everything before it. Identical records give identical bytes (P6-D1).
    pub fn to_bytes(&self) -> Result<Vec<u8>, EncodeError> {
        encode(self)
    }

    /// The record in `bytes` after every check (magic, version, length before allocating,
    /// CRC, payload, record rules), each failure its own [`DecodeError`]: never read as "old"
    /// or "new" (P6-F1). Format 1 records still decode.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        decode(bytes)
    }
}

impl PrimaryReport {
    /// The report's framed bytes (magic "AERODBPR"), as stores keep it.
    pub fn to_bytes(&self) -> Result<Vec<u8>, EncodeError> {
        encode_report(self)
    }

    /// The report in `bytes` after every check, each failure its own [`DecodeError`] (P6-F1).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        decode_report(bytes)
    }
}

/// The framed bytes of `record`, serialized straight into the frame.
pub fn encode(record: &AuthorityRecord) -> Result<Vec<u8>, EncodeError> {
    frame(MAGIC, FORMAT_VERSION, record.body())
}

/// The framed bytes of a primary report.
pub fn encode_report(report: &PrimaryReport) -> Result<Vec<u8>, EncodeError> {
    frame(REPORT_MAGIC, REPORT_FORMAT_VERSION, report)
}

/// The report in `bytes`, after every check (as for a record).
pub fn decode_report(bytes: &[u8]) -> Result<PrimaryReport, DecodeError> {
    let (_, payload) = unframe(REPORT_MAGIC, REPORT_FORMAT_VERSION..=REPORT_FORMAT_VERSION, bytes)?;
    payload_of(payload)
}

fn frame<T: serde::Serialize>(magic: [u8; 8], version: u16, body: &T) -> Result<Vec<u8>, EncodeError> {
    let mut frame = Vec::with_capacity(TYPICAL_FRAME);
    frame.extend_from_slice(&magic);
    frame.extend_from_slice(&version.to_le_bytes());
    frame.extend_from_slice(&[0; 4]); // payload length, filled in below
    bincode::serde::encode_into_std_write(body, &mut frame, config())
        .map_err(|e| EncodeError(e.to_string()))?;
    let payload = frame.len() - HEADER_LEN;
    let len = u32::try_from(payload)
        .ok()
        .filter(|l| (*l as usize) <= MAX_PAYLOAD)
        .ok_or_else(|| EncodeError(format!("payload of {payload} bytes exceeds {MAX_PAYLOAD}")))?;
    frame[HEADER_LEN - 4..HEADER_LEN].copy_from_slice(&len.to_le_bytes());
    let crc = crc32fast::hash(&frame);
    frame.extend_from_slice(&crc.to_le_bytes());
    Ok(frame)
}

/// The record in `bytes`, after every check.
pub fn decode(bytes: &[u8]) -> Result<AuthorityRecord, DecodeError> {
    let (version, payload) = unframe(MAGIC, OLDEST_READABLE_VERSION..=FORMAT_VERSION, bytes)?;
    let body = match version {
        1 => RecordBody::from(payload_of::<BodyV1>(payload)?),
        2 => RecordBody::from(payload_of::<BodyV2>(payload)?),
        _ => payload_of::<RecordBody>(payload)?,
    };
    Ok(AuthorityRecord::try_from(body)?)
}

/// The version and payload of a frame with `magic`, after checking magic, version, length
/// bounds (before allocating anything) and CRC.
fn unframe(
    magic: [u8; 8],
    readable: std::ops::RangeInclusive<u16>,
    bytes: &[u8],
) -> Result<(u16, &[u8]), DecodeError> {
    let minimum = HEADER_LEN + TRAILER_LEN;
    // Not a frame at all is told apart from a frame cut short: the magic is checked first.
    let prefix = &bytes[..bytes.len().min(magic.len())];
    if prefix != &magic[..prefix.len()] {
        let mut found = [0u8; 8];
        found[..prefix.len()].copy_from_slice(prefix);
        return Err(DecodeError::BadMagic { found, expected: magic });
    }
    let (Some(version), Some(declared)) = (bytes.get(8..10), bytes.get(10..14)) else {
        return Err(DecodeError::Truncated { actual: bytes.len(), expected: minimum });
    };
    let version = u16::from_le_bytes([version[0], version[1]]);
    if !readable.contains(&version) {
        return Err(DecodeError::UnsupportedVersion {
            found: version,
            oldest: *readable.start(),
            newest: *readable.end(),
        });
    }
    let declared = u32::from_le_bytes([declared[0], declared[1], declared[2], declared[3]]) as usize;
    if declared > MAX_PAYLOAD {
        return Err(DecodeError::LengthOutOfBounds { declared: declared as u64 });
    }
    let expected = HEADER_LEN + declared + TRAILER_LEN;
    if bytes.len() < expected {
        return Err(DecodeError::Truncated { actual: bytes.len(), expected });
    }
    if bytes.len() > expected {
        return Err(DecodeError::TrailingBytes { extra: bytes.len() - expected });
    }
    let body_end = HEADER_LEN + declared;
    let stored =
        u32::from_le_bytes([bytes[body_end], bytes[body_end + 1], bytes[body_end + 2], bytes[body_end + 3]]);
    let computed = crc32fast::hash(&bytes[..body_end]);
    if stored != computed {
        return Err(DecodeError::ChecksumMismatch { stored, computed });
    }
    Ok((version, &bytes[HEADER_LEN..body_end]))
}

/// The whole payload as one `T`, every byte read.
fn payload_of<T: serde::de::DeserializeOwned>(payload: &[u8]) -> Result<T, DecodeError> {
    let (body, read): (T, usize) = bincode::serde::decode_from_slice(payload, config())
        .map_err(|e| DecodeError::Payload(e.to_string()))?;
    if read != payload.len() {
        return Err(DecodeError::Payload(format!("{} unread payload bytes", payload.len() - read)));
    }
    Ok(body)
}

/// Format 1's body: history entries without their request; force as one "requested" flag.
#[derive(Deserialize)]
struct BodyV1 {
    epoch: Epoch,
    primary: NodeId,
    previous_primary: Option<NodeId>,
    start: WalPosition,
    history: Vec<PastV1>,
    request: Option<SummaryV1>,
}

#[derive(Deserialize)]
struct PastV1 {
    epoch: Epoch,
    primary: NodeId,
    start: WalPosition,
}

#[derive(Deserialize)]
struct SummaryV1 {
    candidate: NodeId,
    forced: bool,
    reason: Option<String>,
    request_id: Option<String>,
}

impl From<BodyV1> for RecordBody {
    fn from(v1: BodyV1) -> Self {
        RecordBody {
            epoch: v1.epoch,
            primary: v1.primary,
            previous_primary: v1.previous_primary,
            start: v1.start,
            history: v1
                .history
                .into_iter()
                .map(|p| PastAuthority { epoch: p.epoch, primary: p.primary, start: p.start, request: None })
                .collect(),
            request: v1.request.map(|r| RequestSummary {
                candidate: r.candidate,
                force: if r.forced { Force::RequestedUnrecorded } else { Force::NotRequested },
                reason: r.reason,
                request_id: r.request_id,
                evidence: None,
            }),
        }
    }
}

/// Format 2's body: requests without their evidence.
#[derive(Deserialize)]
struct BodyV2 {
    epoch: Epoch,
    primary: NodeId,
    previous_primary: Option<NodeId>,
    start: WalPosition,
    history: Vec<PastV2>,
    request: Option<SummaryV2>,
}

#[derive(Deserialize)]
struct PastV2 {
    epoch: Epoch,
    primary: NodeId,
    start: WalPosition,
    request: Option<SummaryV2>,
}

#[derive(Deserialize)]
struct SummaryV2 {
    candidate: NodeId,
    force: Force,
    reason: Option<String>,
    request_id: Option<String>,
}

impl From<SummaryV2> for RequestSummary {
    fn from(r: SummaryV2) -> Self {
        RequestSummary {
            candidate: r.candidate,
            force: r.force,
            reason: r.reason,
            request_id: r.request_id,
            evidence: None,
        }
    }
}

impl From<BodyV2> for RecordBody {
    fn from(v2: BodyV2) -> Self {
        RecordBody {
            epoch: v2.epoch,
            primary: v2.primary,
            previous_primary: v2.previous_primary,
            start: v2.start,
            history: v2
                .history
                .into_iter()
                .map(|p| PastAuthority {
                    epoch: p.epoch,
                    primary: p.primary,
                    start: p.start,
                    request: p.request.map(RequestSummary::from),
                })
                .collect(),
            request: v2.request.map(RequestSummary::from),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::{AcknowledgedSource, Evidence, OldPrimarySource, Stopped, SyncMethod, SyncRule};
    use crate::record::HISTORY_CAP;
    use crate::request::{MAX_REASON_LEN, MAX_REQUEST_ID_LEN};
    use aerodb_core::Lsn;

    fn id(s: &str) -> NodeId {
        NodeId::new(s).unwrap()
    }

    /// Epoch 3 led by `primary-0` after `replica-1`, whose epoch 2 came from a forced promotion.
    pub(crate) fn sample() -> AuthorityRecord {
        let forced = Evidence {
            acknowledged: WalPosition::new(Epoch::new(1), Lsn::new(4000)),
            acknowledged_from: AcknowledgedSource::Derived { node: id("replica-1") },
            old_primary_from: OldPrimarySource::Operator,
        };
        let stated = Evidence {
            acknowledged: WalPosition::new(Epoch::new(2), Lsn::new(8192)),
            acknowledged_from: AcknowledgedSource::CleanStop,
            old_primary_from: OldPrimarySource::Agent,
        };
        with_evidence(sample_v2(), [Some(forced), Some(stated)])
    }

    /// `record` with `evidence` on its last history entry's request and its own.
    fn with_evidence(record: AuthorityRecord, evidence: [Option<Evidence>; 2]) -> AuthorityRecord {
        let mut body = RecordBody::from(record);
        if let Some(r) = body.history.last_mut().and_then(|p| p.request.as_mut()) {
            r.evidence = evidence[0];
        }
        if let Some(r) = body.request.as_mut() {
            r.evidence = evidence[1];
        }
        AuthorityRecord::try_from(body).unwrap()
    }

    /// What the version 2 golden bytes hold, read by this build: no evidence.
    fn sample_v2() -> AuthorityRecord {
        let forced = RequestSummary {
            candidate: id("replica-1"),
            force: Force::CarriedTheDecision,
            reason: Some("primary host lost".to_owned()),
            request_id: Some("op-7".to_owned()),
            evidence: None,
        };
        AuthorityRecord::try_from(RecordBody {
            epoch: Epoch::new(3),
            primary: id("primary-0"),
            previous_primary: Some(id("replica-1")),
            start: WalPosition::new(Epoch::new(2), Lsn::new(8192)),
            history: vec![
                PastAuthority {
                    epoch: Epoch::new(1),
                    primary: id("primary-0"),
                    start: WalPosition::new(Epoch::new(1), Lsn::new(0)),
                    request: None,
                },
                PastAuthority {
                    epoch: Epoch::new(2),
                    primary: id("replica-1"),
                    start: WalPosition::new(Epoch::new(1), Lsn::new(4096)),
                    request: Some(forced),
                },
            ],
            request: Some(RequestSummary {
                candidate: id("primary-0"),
                force: Force::NotRequested,
                reason: None,
                request_id: Some("op-8".to_owned()),
                evidence: None,
            }),
        })
        .unwrap()
    }

    /// What the version 1 golden bytes hold, read by this build.
    fn sample_v1() -> AuthorityRecord {
        AuthorityRecord::try_from(RecordBody {
            epoch: Epoch::new(2),
            primary: id("replica-1"),
            previous_primary: Some(id("primary-0")),
            start: WalPosition::new(Epoch::new(1), Lsn::new(4096)),
            history: vec![PastAuthority {
                epoch: Epoch::new(1),
                primary: id("primary-0"),
                start: WalPosition::new(Epoch::new(1), Lsn::new(0)),
                request: None,
            }],
            request: Some(RequestSummary {
                candidate: id("replica-1"),
                force: Force::RequestedUnrecorded,
                reason: Some("primary host lost".to_owned()),
                request_id: Some("op-7".to_owned()),
                evidence: None,
            }),
        })
        .unwrap()
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The on-disk format, pinned. If this changes, FORMAT_VERSION must change with it.
    #[test]
    fn golden_bytes() {
        assert_eq!(hex(&sample().to_bytes().unwrap()), GOLDEN);
        assert_eq!(AuthorityRecord::from_bytes(&unhex(GOLDEN)).unwrap(), sample());
    }

    /// Records written by formats 1 and 2 still decode, pinned by their bytes (P6-F2: an
    /// upgrade never loses the authority).
    #[test]
    fn version_1_and_2_golden_bytes_still_decode() {
        assert_eq!(decode(&unhex(GOLDEN_V1)).unwrap(), sample_v1());
        assert_eq!(decode(&unhex(GOLDEN_V2)).unwrap(), sample_v2());
    }

    /// The largest valid record (every history entry and text at its limit) fits the payload bound.
    #[test]
    fn the_largest_record_fits() {
        let summary = |c: &str| RequestSummary {
            candidate: id(c),
            force: Force::CarriedTheDecision,
            reason: Some("r".repeat(MAX_REASON_LEN)),
            request_id: Some("i".repeat(MAX_REQUEST_ID_LEN)),
            evidence: Some(Evidence {
                acknowledged: WalPosition::new(Epoch::new(u64::MAX), Lsn::new(u64::MAX)),
                acknowledged_from: AcknowledgedSource::Derived { node: id(c) },
                old_primary_from: OldPrimarySource::Operator,
            }),
        };
        let long = "n".repeat(aerodb_core::NODE_ID_MAX_LEN);
        let history: Vec<PastAuthority> = (0..HISTORY_CAP as u64)
            .map(|e| PastAuthority {
                epoch: Epoch::new(e + 1),
                primary: id(&long),
                start: WalPosition::new(Epoch::new(e + 1), Lsn::new(e)),
                request: Some(summary(&long)),
            })
            .collect();
        let record = AuthorityRecord::try_from(RecordBody {
            epoch: Epoch::new(HISTORY_CAP as u64 + 1),
            primary: id(&long),
            previous_primary: Some(id(&long)),
            start: WalPosition::new(Epoch::new(HISTORY_CAP as u64), Lsn::new(HISTORY_CAP as u64)),
            history,
            request: Some(summary(&long)),
        })
        .unwrap();
        let bytes = encode(&record).unwrap();
        assert!(bytes.len() <= MAX_FRAME, "{} bytes", bytes.len());
        assert_eq!(decode(&bytes).unwrap(), record);
    }

    /// Magic, version 3, payload length 314, fixed-int little-endian body, CRC32.
    const GOLDEN: &str = concat!(
        "4145524f4442415203003a010000030000000000000009000000000000007072",
        "696d6172792d300109000000000000007265706c6963612d3102000000000000",
        "0000200000000000000200000000000000010000000000000009000000000000",
        "007072696d6172792d3001000000000000000000000000000000000200000000",
        "00000009000000000000007265706c6963612d31010000000000000000100000",
        "000000000109000000000000007265706c6963612d3102000000011100000000",
        "0000007072696d61727920686f7374206c6f73740104000000000000006f702d",
        "37010100000000000000a00f0000000000000100000009000000000000007265",
        "706c6963612d31020000000109000000000000007072696d6172792d30000000",
        "00000104000000000000006f702d380102000000000000000020000000000000",
        "020000000100000040ad35ef",
    );

    /// Magic, version 2, payload length 247, fixed-int little-endian body, CRC32.
    const GOLDEN_V2: &str = concat!(
        "4145524f444241520200f7000000030000000000000009000000000000007072",
        "696d6172792d300109000000000000007265706c6963612d3102000000000000",
        "0000200000000000000200000000000000010000000000000009000000000000",
        "007072696d6172792d3001000000000000000000000000000000000200000000",
        "00000009000000000000007265706c6963612d31010000000000000000100000",
        "000000000109000000000000007265706c6963612d3102000000011100000000",
        "0000007072696d61727920686f7374206c6f73740104000000000000006f702d",
        "370109000000000000007072696d6172792d3000000000000104000000000000",
        "006f702d3872577d10",
    );

    /// Magic, version 1, payload length 166, fixed-int little-endian body, CRC32.
    const GOLDEN_V1: &str = concat!(
        "4145524f444241520100a6000000020000000000000009000000000000007265",
        "706c6963612d310109000000000000007072696d6172792d3001000000000000",
        "0000100000000000000100000000000000010000000000000009000000000000",
        "007072696d6172792d3001000000000000000000000000000000010900000000",
        "0000007265706c6963612d31010111000000000000007072696d61727920686f",
        "7374206c6f73740104000000000000006f702d37fbc7ced0",
    );

    /// Epoch 3's report of `primary-0` during a change of rule (`FIRST 1 (replica-1, replica-2)`
    /// to `ANY 2 (replica-1, replica-2, replica-3)`), asked to stop and stopped cleanly.
    fn sample_report() -> PrimaryReport {
        let standbys = |names: &[&str]| names.iter().map(|n| id(n)).collect();
        let rules = vec![
            SyncRule::new(SyncMethod::First, 1, standbys(&["replica-1", "replica-2"])).unwrap(),
            SyncRule::new(SyncMethod::Any, 2, standbys(&["replica-1", "replica-2", "replica-3"])).unwrap(),
        ];
        let stopped = Stopped { checkpoint: WalPosition::new(Epoch::new(3), Lsn::new(0x2000)), clean: true };
        PrimaryReport::new(Epoch::new(3), id("primary-0"))
            .with_synchronous(rules)
            .unwrap()
            .with_stop_requested()
            .with_stopped(stopped)
    }

    /// The report frame, pinned. If this changes, REPORT_FORMAT_VERSION must change with it.
    #[test]
    fn report_golden_bytes() {
        assert_eq!(hex(&sample_report().to_bytes().unwrap()), GOLDEN_REPORT);
        assert_eq!(PrimaryReport::from_bytes(&unhex(GOLDEN_REPORT)).unwrap(), sample_report());
    }

    /// A record's frame is never read as a report, nor a report's as a record: each is refused
    /// by its magic, naming both; and a report frame fails every other check as a record does.
    #[test]
    fn a_record_is_not_a_report_and_a_report_is_not_a_record() {
        let record = encode(&sample()).unwrap();
        let report = encode_report(&sample_report()).unwrap();
        assert_eq!(
            decode_report(&record),
            Err(DecodeError::BadMagic { found: MAGIC, expected: REPORT_MAGIC })
        );
        assert_eq!(decode(&report), Err(DecodeError::BadMagic { found: REPORT_MAGIC, expected: MAGIC }));
        assert!(matches!(decode_report(&report[..report.len() - 1]), Err(DecodeError::Truncated { .. })));
        let mut version = report.clone();
        version[8] = 2;
        assert_eq!(
            decode_report(&version),
            Err(DecodeError::UnsupportedVersion { found: 2, oldest: 1, newest: REPORT_FORMAT_VERSION })
        );
        let mut flipped = report.clone();
        flipped[HEADER_LEN + 2] ^= 0x01;
        assert!(matches!(decode_report(&flipped), Err(DecodeError::ChecksumMismatch { .. })));
        let mut longer = report;
        longer.push(0);
        assert!(matches!(decode_report(&longer), Err(DecodeError::TrailingBytes { extra: 1 })));
    }

    /// [`sample_report`] in report format 1: magic, version, payload length; epoch, primary; two
    /// rules (method, count, standbys); stop requested; stopped (checkpoint, clean); CRC.
    const GOLDEN_REPORT: &str = concat!(
        "4145524f444250520100a3000000030000000000000009000000000000007072",
        "696d6172792d3002000000000000000000000001020000000000000009000000",
        "000000007265706c6963612d3109000000000000007265706c6963612d320100",
        "000002030000000000000009000000000000007265706c6963612d3109000000",
        "000000007265706c6963612d3209000000000000007265706c6963612d330101",
        "03000000000000000020000000000000017a88b5c7",
    );

    fn unhex(text: &str) -> Vec<u8> {
        (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap()).collect()
    }

    #[test]
    fn round_trip_and_size() {
        let record = sample();
        let bytes = encode(&record).unwrap();
        assert_eq!(decode(&bytes).unwrap(), record);
        assert!(bytes.len() <= 512, "a typical record is {} bytes; at most 512 expected", bytes.len());
        let bootstrap = AuthorityRecord::bootstrap(id("primary-0"));
        assert_eq!(decode(&encode(&bootstrap).unwrap()).unwrap(), bootstrap);
    }

    fn reframe(payload: &[u8]) -> Vec<u8> {
        let mut frame = MAGIC.to_vec();
        frame.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        frame.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        frame.extend_from_slice(payload);
        let crc = crc32fast::hash(&frame);
        frame.extend_from_slice(&crc.to_le_bytes());
        frame
    }

    #[test]
    fn every_check_has_its_own_error() {
        let good = encode(&sample()).unwrap();
        assert!(matches!(decode(&good[..5]), Err(DecodeError::Truncated { actual: 5, expected: 18 })));
        assert!(matches!(decode(&good[..good.len() - 1]), Err(DecodeError::Truncated { .. })));

        let mut magic = good.clone();
        magic[0] = b'X';
        assert!(matches!(decode(&magic), Err(DecodeError::BadMagic { .. })));
        // Not a record at all: bad magic (not "truncated"), the bytes shown as hex.
        let garbage = decode(b"garbage!").unwrap_err();
        assert!(matches!(garbage, DecodeError::BadMagic { .. }));
        assert!(garbage.to_string().contains("6761726261676521"), "{garbage}");

        for unknown in [0, 4, 9] {
            let mut version = good.clone();
            version[8] = unknown;
            assert_eq!(
                decode(&version),
                Err(DecodeError::UnsupportedVersion {
                    found: unknown.into(),
                    oldest: 1,
                    newest: FORMAT_VERSION
                })
            );
        }

        let mut huge = good.clone();
        huge[10..14].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(decode(&huge), Err(DecodeError::LengthOutOfBounds { declared: u64::from(u32::MAX) }));

        let mut trailing = good.clone();
        trailing.push(0);
        assert_eq!(decode(&trailing), Err(DecodeError::TrailingBytes { extra: 1 }));
        trailing.extend_from_slice(&[0, 0]);
        assert_eq!(
            decode(&trailing),
            Err(DecodeError::TrailingBytes { extra: 3 }),
            "the count an operator reads"
        );

        let mut flipped = good.clone();
        flipped[20] ^= 0x40;
        assert!(matches!(decode(&flipped), Err(DecodeError::ChecksumMismatch { .. })));

        assert!(matches!(decode(&reframe(&[0xff; 7])), Err(DecodeError::Payload(_))));

        let mut payload = bincode::serde::encode_to_vec(sample().body(), config()).unwrap();
        payload.push(0);
        assert!(matches!(decode(&reframe(&payload)), Err(DecodeError::Payload(_))));

        let mut body = sample().body().clone();
        body.previous_primary = Some(id("someone-else"));
        let invalid = reframe(&bincode::serde::encode_to_vec(&body, config()).unwrap());
        assert_eq!(decode(&invalid), Err(DecodeError::Invalid(RecordError::PreviousPrimary)));
    }

    #[test]
    fn identical_records_encode_to_identical_bytes() {
        assert_eq!(encode(&sample()).unwrap(), encode(&sample().clone()).unwrap());
    }
}

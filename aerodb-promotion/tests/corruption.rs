//! Corruption of a real record (stage 6.7): every single-bit flip and every truncation is a
//! typed decode error; random corruption and garbage never decode to another record, never
//! panic, and never allocate for a huge declared length.
//! Figures: `cargo test -p aerodb-promotion --test corruption -- --nocapture`.

mod common;

use aerodb_core::testing::check;
use aerodb_promotion::format::{FORMAT_VERSION, MAGIC, MAX_PAYLOAD};
use aerodb_promotion::testing::{MemoryStore, caught_up_inputs};
use aerodb_promotion::*;
use common::*;

/// The bytes of a real record after two promotions, with a reason and a request id.
fn real_record() -> (AuthorityRecord, Vec<u8>) {
    let mut store = MemoryStore::default();
    let first = store.bootstrap(id("primary-0")).unwrap();
    let req = PromotionRequest::builder("replica-1")
        .reason("disk failure on primary-0")
        .request_id("op-9")
        .build()
        .unwrap();
    attempt(&mut store, req, &caught_up_inputs(&first, id("replica-1"), 4096), PromotionPolicy::Enabled);
    let second = store.load().unwrap().unwrap();
    attempt(
        &mut store,
        forced("primary-0"),
        &caught_up_inputs(&second, id("primary-0"), 8192),
        PromotionPolicy::Enabled,
    );
    let record = store.load().unwrap().unwrap();
    assert_eq!(record.epoch().get(), 3);
    (record, store.bytes().unwrap().to_vec())
}

#[test]
fn every_single_bit_flip_is_detected() {
    let (_, bytes) = real_record();
    let mut detected = 0;
    for index in 0..bytes.len() {
        for bit in 0..8 {
            let mut flipped = bytes.clone();
            flipped[index] ^= 1 << bit;
            let error = AuthorityRecord::from_bytes(&flipped).expect_err("a flipped bit must never decode");
            let _typed: DecodeError = error;
            detected += 1;
        }
    }
    assert_eq!(detected, bytes.len() * 8);
    eprintln!("corruption: {detected} single-bit flips of a {}-byte record, all detected", bytes.len());
}

#[test]
fn every_truncation_is_detected() {
    let (_, bytes) = real_record();
    for len in 0..bytes.len() {
        assert!(
            matches!(AuthorityRecord::from_bytes(&bytes[..len]), Err(DecodeError::Truncated { .. })),
            "length {len}"
        );
    }
    eprintln!("corruption: {} truncations, all detected as truncated", bytes.len());
}

#[test]
fn random_multi_byte_corruption_never_yields_another_record() {
    fn prop(edits: Vec<(u16, u8)>) -> bool {
        let (record, mut bytes) = real_record();
        for (at, xor) in edits {
            let at = usize::from(at) % bytes.len();
            bytes[at] ^= xor.max(1);
        }
        match AuthorityRecord::from_bytes(&bytes) {
            Ok(decoded) => decoded == record,
            Err(_) => true,
        }
    }
    check("random_multi_byte_corruption", 2000, prop as fn(Vec<(u16, u8)>) -> bool);
}

#[test]
fn garbage_of_any_size_is_refused_without_panicking() {
    fn prop(garbage: Vec<u8>, framed: bool, declared: u32) -> bool {
        let mut bytes = garbage;
        if framed {
            let mut header = MAGIC.to_vec();
            header.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
            header.extend_from_slice(&declared.to_le_bytes());
            header.extend_from_slice(&bytes);
            bytes = header;
        }
        AuthorityRecord::from_bytes(&bytes).is_err()
    }
    check("garbage_is_refused", 2000, prop as fn(Vec<u8>, bool, u32) -> bool);
}

#[test]
fn a_huge_declared_length_is_refused_before_reading_the_payload() {
    let mut bytes = MAGIC.to_vec();
    bytes.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    bytes.extend_from_slice(&u32::MAX.to_le_bytes());
    assert_eq!(
        AuthorityRecord::from_bytes(&bytes),
        Err(DecodeError::LengthOutOfBounds { declared: u64::from(u32::MAX) })
    );
}

#[test]
fn a_huge_garbage_file_is_read_only_up_to_one_frame() {
    let dir = temp_dir("huge");
    let store = FileAuthorityStore::open(dir.path()).unwrap();
    let huge = vec![0xAB; 64 * 1024 * 1024];
    std::fs::write(store.record_path(), &huge).unwrap();
    let error = store.load().unwrap_err();
    assert!(matches!(error, StoreError::Corrupt { error: DecodeError::BadMagic { .. }, .. }), "{error}");
    let mut framed = MAGIC.to_vec();
    framed.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    framed.extend_from_slice(&(MAX_PAYLOAD as u32).to_le_bytes());
    framed.extend_from_slice(&huge);
    std::fs::write(store.record_path(), &framed).unwrap();
    let error = store.load().unwrap_err();
    assert!(
        matches!(error, StoreError::Corrupt { error: DecodeError::TrailingBytes { extra: 1 }, .. }),
        "{error}"
    );
}

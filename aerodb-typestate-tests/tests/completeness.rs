//! The forbidden-case folder is exactly the forty pairs §3 forbids, each file the canonical case.
//!
//! `AERODB_BLESS_FORBIDDEN=1 cargo test -p aerodb-typestate-tests --test completeness` rewrites
//! the folder from the table; then re-bless the snapshots (see README).

use std::collections::BTreeSet;
use std::path::Path;

use aerodb_promotion::{ALLOWED_TRANSITIONS, StateKind};
use aerodb_typestate_tests::{case_name, forbidden_case, forbidden_pairs};

#[test]
fn every_forbidden_pair_has_its_case_and_no_allowed_pair_does() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ui/forbidden");
    let pairs = forbidden_pairs();
    assert_eq!(pairs.len(), 49 - 9);
    assert_eq!(StateKind::ALL.len() * StateKind::ALL.len() - ALLOWED_TRANSITIONS.len(), pairs.len());

    if std::env::var_os("AERODB_BLESS_FORBIDDEN").is_some() {
        for &(from, to) in &pairs {
            std::fs::write(dir.join(format!("{}.rs", case_name(from, to))), forbidden_case(from, to))
                .unwrap();
        }
    }

    let present: BTreeSet<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".rs"))
        .collect();
    let expected: BTreeSet<String> = pairs.iter().map(|&(f, t)| format!("{}.rs", case_name(f, t))).collect();
    let missing: Vec<_> = expected.difference(&present).collect();
    let extra: Vec<_> = present.difference(&expected).collect();
    assert!(missing.is_empty(), "forbidden pairs without a compile-fail case: {missing:?}");
    assert!(extra.is_empty(), "cases that name no forbidden pair (allowed or unknown): {extra:?}");

    for &(from, to) in &pairs {
        let name = case_name(from, to);
        let source = std::fs::read_to_string(dir.join(format!("{name}.rs"))).unwrap();
        assert_eq!(source, forbidden_case(from, to), "{name}.rs differs from the canonical case");
        let stderr = std::fs::read_to_string(dir.join(format!("{name}.stderr")))
            .unwrap_or_else(|_| panic!("{name}.stderr snapshot is missing"));
        let message =
            format!("forbidden promotion transition `aerodb_promotion::{from}` → `aerodb_promotion::{to}`");
        assert!(stderr.contains(&message), "{name}.stderr lacks {message:?}");
    }
}

#[test]
fn allowed_pairs_are_the_complement() {
    for &(from, to) in &ALLOWED_TRANSITIONS {
        assert!(!forbidden_pairs().contains(&(from, to)));
    }
}

//! TRACEABILITY.md stays true: every cited `file::function` exists, every cited file exists,
//! and every invariant id of the spec appears.

use std::path::Path;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Every `` `path` `` and `` `path::name` `` citation of a `.rs` file in `text`.
fn citations(text: &str) -> Vec<(String, Option<String>)> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .filter_map(|span| {
            let (file, item) = match span.split_once("::") {
                Some((file, item)) => (file, Some(item.to_owned())),
                None => (span, None),
            };
            let cited = file.ends_with(".rs") && file.contains('/') && !file.contains(' ');
            cited.then(|| (file.to_owned(), item))
        })
        .collect()
}

#[test]
fn every_citation_exists_and_every_invariant_appears() {
    let text = std::fs::read_to_string(root().join("TRACEABILITY.md")).expect("TRACEABILITY.md");
    let cited = citations(&text);
    assert!(cited.len() > 80, "only {} citations found", cited.len());
    let mut missing = Vec::new();
    for (file, item) in &cited {
        let Ok(source) = std::fs::read_to_string(root().join(file)) else {
            missing.push(format!("file {file}"));
            continue;
        };
        let defines =
            |item: &str| source.contains(&format!("fn {item}(")) || source.contains(&format!("fn {item}<"));
        if let Some(item) = item.as_deref().filter(|item| !defines(item)) {
            missing.push(format!("{file}::{item}"));
        }
    }
    assert!(missing.is_empty(), "TRACEABILITY.md cites what does not exist: {missing:#?}");
    for invariant in aerodb::promotion::Invariant::ALL {
        assert!(text.contains(&format!("| {} |", invariant.id())), "{invariant} has no row");
    }
}

#[test]
fn the_checker_notices_a_missing_test() {
    let cited = citations("see `aerodb-promotion/tests/validator.rs::no_such_test` and `README.md`");
    assert_eq!(cited, [("aerodb-promotion/tests/validator.rs".to_owned(), Some("no_such_test".to_owned()))]);
    let source = std::fs::read_to_string(root().join("aerodb-promotion/tests/validator.rs")).unwrap();
    assert!(!source.contains("fn no_such_test("));
}

/// docs/PROTOCOL.md's table of checks is `CheckId::ALL`: same checks, same order, same invariants.
#[test]
fn the_protocol_lists_every_check_in_run_order() {
    let text = std::fs::read_to_string(root().join("docs/PROTOCOL.md")).expect("docs/PROTOCOL.md");
    let rows: Vec<(String, String)> = text
        .lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let name = cells.get(2)?.strip_prefix('`')?.strip_suffix('`')?;
            cells.get(1)?.parse::<usize>().ok()?;
            Some((name.to_owned(), (*cells.get(3)?).to_owned()))
        })
        .collect();
    let expected: Vec<(String, String)> = aerodb::promotion::CheckId::ALL
        .iter()
        .map(|check| {
            let invariants: Vec<&str> = check.invariants().iter().map(|i| i.id()).collect();
            (check.as_str().to_owned(), invariants.join(", "))
        })
        .collect();
    assert_eq!(rows, expected);
}

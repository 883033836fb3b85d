//! ARCHITECTURE.md stays true: `aerodb-promotion`'s modules, in the order its code map lists
//! them, only ever use modules listed before them — so the module graph has no circle and no
//! call climbs. Uses are read from the source as `crate::name` paths outside `#[cfg(test)]`.

use std::collections::BTreeSet;
use std::path::Path;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A source file without its test module: from the first `#[cfg(test)]` that is followed by a
/// `mod` on. A `#[cfg(test)]` on anything else (a method, say) does not end the code.
fn without_tests(source: &str) -> &str {
    let mut from = 0;
    while let Some(found) = source[from..].find("#[cfg(test)]") {
        let at = from + found;
        let rest = source[at + "#[cfg(test)]".len()..].trim_start();
        if rest.starts_with("mod ") || rest.starts_with("pub mod ") || rest.starts_with("pub(crate) mod ") {
            return &source[..at];
        }
        from = at + "#[cfg(test)]".len();
    }
    source
}

/// The `crate::module` names a source file uses outside its tests.
fn uses(source: &str) -> BTreeSet<String> {
    let code = without_tests(source);
    code.match_indices("crate::")
        .map(|(i, _)| {
            code[i + "crate::".len()..].chars().take_while(|c| c.is_ascii_lowercase() || *c == '_').collect()
        })
        .filter(|name: &String| !name.is_empty())
        .collect()
}

/// The module column of the code map table, in order.
fn code_map() -> Vec<String> {
    let text = std::fs::read_to_string(root().join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    text.lines()
        .filter_map(|line| line.strip_prefix("| `"))
        .filter_map(|rest| rest.split_once('`'))
        .map(|(name, _)| name.trim_end_matches(".rs").trim_end_matches('/').to_owned())
        .collect()
}

#[test]
fn every_module_uses_only_modules_below_it() {
    let src = root().join("aerodb-promotion/src");
    let order = code_map();
    let mut files: Vec<String> = std::fs::read_dir(&src)
        .expect("src")
        .filter_map(|e| e.ok()?.file_name().into_string().ok()?.strip_suffix(".rs").map(str::to_owned))
        .filter(|name| name != "lib")
        .collect();
    files.push("testing".to_owned());
    files.sort();
    let mut listed = order.clone();
    listed.sort();
    assert_eq!(listed, files, "the code map lists every module exactly once");
    for (position, module) in order.iter().enumerate().filter(|(_, m)| *m != "testing") {
        let source = std::fs::read_to_string(src.join(format!("{module}.rs"))).expect("module source");
        for used in uses(&source) {
            let Some(at) = order.iter().position(|m| *m == used) else { continue };
            assert!(at < position, "{module} uses {used}, which the code map lists after it");
        }
    }
}

/// The test back doors (a writable gate backed by nothing durable, a record planted behind a
/// store's back) are named so no reader mistakes them for a way to run a cluster, and no
/// documented path — README, crate docs, examples — uses them.
#[test]
fn documented_paths_stay_away_from_test_back_doors() {
    let back_doors = ["detached_primary_gate_for_tests", "tamper_with_record", "tamper_with_report"];
    let mut documented = vec![root().join("README.md")];
    for lib in
        ["src/lib.rs", "aerodb-core/src/lib.rs", "aerodb-promotion/src/lib.rs", "aerodb-etcd/src/lib.rs"]
    {
        documented.push(root().join(lib));
    }
    let mut stack = vec![root().join("examples")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("examples") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                documented.push(path);
            }
        }
    }
    assert!(documented.len() > 10, "{documented:?}");
    for path in documented {
        let text = std::fs::read_to_string(&path).expect("readable");
        for door in back_doors {
            assert!(!text.contains(door), "{} uses the test back door {door}", path.display());
        }
    }
    let testing =
        std::fs::read_to_string(root().join("aerodb-promotion/src/testing/mod.rs")).expect("testing");
    for door in back_doors {
        let at = testing.find(&format!("fn {door}")).unwrap_or_else(|| panic!("{door} is gone"));
        let doc = &testing[testing[..at].rfind("\n\n").unwrap_or(0)..at];
        assert!(doc.contains("UNSAFE FOR A CLUSTER"), "{door} says why it is unsafe: {doc}");
    }
}

/// A `#[cfg(test)]` on a method does not hide the rest of the file; the test module does.
#[test]
fn only_the_test_module_is_left_out() {
    let source = "use crate::a;\n#[cfg(test)]\nfn helper() {}\nuse crate::b;\n#[cfg(test)]\nmod tests { use crate::c; }\n";
    let found: Vec<String> = uses(source).into_iter().collect();
    assert_eq!(found, ["a", "b"]);
}

//! ARCHITECTURE.md stays true: `aerodb-promotion`'s modules, in the order its code map lists
//! them, only ever use modules listed before them — so the module graph has no circle and no
//! call climbs. Uses are read from the source as `crate::name` paths outside `#[cfg(test)]`.

use std::collections::BTreeSet;
use std::path::Path;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The `crate::module` names a source file uses outside its tests.
fn uses(source: &str) -> BTreeSet<String> {
    let code = source.split("#[cfg(test)]").next().unwrap_or_default();
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

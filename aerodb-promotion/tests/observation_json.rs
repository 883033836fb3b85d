//! `Observation::from_json` accepts exactly one JSON object in canonical form: every mutation of
//! a valid document below — data after it, a struct in array form, a number out of range or not
//! whole, another root — is refused at the path where it was made (P6-F1).

mod common;

use aerodb_core::*;
use aerodb_promotion::*;
use common::*;
use serde_json::Value;

/// A valid observation touching every field: histories, a commit being applied, a halted node.
fn observation() -> Observation {
    let inputs = approving_inputs();
    let mut json = serde_json::to_value(&inputs).unwrap();
    json.as_object_mut().unwrap().remove("authority");
    json.as_object_mut().unwrap().remove("report");
    let mut observation: Observation = serde_json::from_value(json).unwrap();
    observation.nodes[1].mvcc = Some(MvccBoundary {
        visible_commit: Lsn::new(140),
        applying: Some(PartialCommit { commit_lsn: Lsn::new(150), applied: 1, total: 2 }),
    });
    observation
}

/// Every (path, value) in `value`, depth first, with the path as errors name it.
fn places(value: &Value, path: String, out: &mut Vec<(String, Value)>) {
    out.push((path.clone(), value.clone()));
    let join = |key: &str| if path == "." { key.to_owned() } else { format!("{path}.{key}") };
    match value {
        Value::Object(fields) => fields.iter().for_each(|(k, v)| places(v, join(k), out)),
        Value::Array(items) => items.iter().enumerate().for_each(|(i, v)| {
            places(v, if path == "." { format!("[{i}]") } else { format!("{path}[{i}]") }, out)
        }),
        _ => {}
    }
}

/// `value` with the node at `path` replaced by `with`.
fn replaced(value: &Value, path: &str, with: &Value) -> Value {
    let pointer: String = path
        .split('.')
        .filter(|s| !s.is_empty())
        .flat_map(|part| {
            let mut pieces = vec![];
            let (name, rest) = part.split_once('[').map_or((part, ""), |(n, r)| (n, r));
            if !name.is_empty() {
                pieces.push(name.to_owned());
            }
            pieces.extend(
                rest.split('[').filter(|s| !s.is_empty()).map(|s| s.trim_end_matches(']').to_owned()),
            );
            pieces
        })
        .map(|piece| format!("/{piece}"))
        .collect();
    let mut copy = value.clone();
    *copy.pointer_mut(&pointer).unwrap_or_else(|| panic!("no {pointer}")) = with.clone();
    copy
}

fn refused_at(text: &str, path: &str) -> ObservationJsonError {
    let error = Observation::from_json(text).expect_err(text);
    assert!(error.path.starts_with(path), "refused at {} for a change at {path}: {error}", error.path);
    error
}

#[test]
fn the_canonical_form_is_accepted_and_an_absent_option_is_unknown() {
    let observation = observation();
    let text = serde_json::to_string_pretty(&observation).unwrap();
    assert_eq!(Observation::from_json(&text), Ok(observation.clone()));
    let mut json = serde_json::to_value(&observation).unwrap();
    json.as_object_mut().unwrap().remove("acknowledged");
    let read = Observation::from_json(&json.to_string()).unwrap();
    assert_eq!(read.acknowledged, None);
    for example in ["caught-up", "lagging"] {
        let path = format!("{}/../examples/observed/{example}.json", env!("CARGO_MANIFEST_DIR"));
        Observation::from_json(&std::fs::read_to_string(path).unwrap()).unwrap();
    }
}

/// The issue's case: a second object saying the old primary is active was ignored, and approved.
#[test]
fn data_after_the_object_is_refused() {
    let text = serde_json::to_string(&observation()).unwrap();
    for trailing in [r#"{"old_primary": "KnownActive"}"#, "{}", "[]", "1", "x", "\"\"", "null", ","] {
        let error = refused_at(&format!("{text}\n{trailing}"), ".");
        assert!(error.problem.contains("trailing"), "{trailing}: {error}");
    }
    // White space after the object is no data.
    assert!(Observation::from_json(&format!("{text}\n \t\n")).is_ok());
}

#[test]
fn only_an_object_is_a_document() {
    for (root, found) in [
        ("[]", "found an array"),
        ("null", "found null"),
        ("1", "found a number"),
        ("\"x\"", "found a string"),
        ("true", "found a boolean"),
        ("", "EOF"),
        ("   ", "EOF"),
    ] {
        let error = refused_at(root, ".");
        assert_eq!(error.path, ".", "{root}");
        assert!(error.problem.contains(found), "{root}: {error}");
    }
}

/// A unit variant spelled as a map (`{"Fenced": null}`) decodes, but is not the canonical form:
/// refused where it stands.
#[test]
fn a_unit_variant_spelled_as_a_map_is_refused() {
    let text = serde_json::to_string(&observation()).unwrap();
    for (canonical, spelled, path) in [
        (r#""old_primary":"ConfirmedStopped""#, r#""old_primary":{"ConfirmedStopped":null}"#, "old_primary"),
        (
            r#""replication":"ReplicaActive""#,
            r#""replication":{"ReplicaActive":null}"#,
            "nodes[1].replication",
        ),
    ] {
        let changed = text.replacen(canonical, spelled, 1);
        assert_ne!(changed, text, "{canonical}");
        let error = refused_at(&changed, path);
        assert!(error.problem.contains("canonical form"), "{error}");
    }
}

/// The ends of a field's range: 0 and u64::MAX are accepted; -1 is refused by its type, not as
/// a fraction.
#[test]
fn whole_numbers_at_both_ends_of_the_range_are_accepted() {
    let mut observation = observation();
    observation.nodes[1].position = WalPosition::new(Epoch::new(2), Lsn::new(u64::MAX));
    observation.acknowledged = Some(WalPosition::new(Epoch::new(0), Lsn::new(0)));
    let text = serde_json::to_string(&observation).unwrap();
    assert!(text.contains("18446744073709551615"));
    assert_eq!(Observation::from_json(&text), Ok(observation));
    let negative = text.replacen("18446744073709551615", "-1", 1);
    let error = refused_at(&negative, "nodes[1].position.lsn");
    assert!(error.problem.contains("invalid value: integer `-1`"), "{error}");
}

/// Every struct given as an array of its values is refused where it stands.
#[test]
fn every_struct_in_array_form_is_refused_where_it_stands() {
    let canonical = serde_json::to_value(observation()).unwrap();
    let mut all = vec![];
    places(&canonical, ".".to_owned(), &mut all);
    let mut tried = 0;
    for (path, value) in all.iter().filter(|(p, v)| p != "." && v.is_object()) {
        let as_array = Value::Array(value.as_object().unwrap().values().cloned().collect());
        refused_at(&replaced(&canonical, path, &as_array).to_string(), path);
        tried += 1;
    }
    assert!(tried >= 12, "{tried} structs tried");
    // The issue's spelling.
    let text = replaced(&canonical, "nodes[1].position", &serde_json::json!([2, 150])).to_string();
    let error = refused_at(&text, "nodes[1].position");
    assert!(error.problem.contains("named fields"), "{error}");
}

/// Every number out of range, or not whole, names its field.
#[test]
fn every_number_out_of_range_names_its_field() {
    let canonical = serde_json::to_value(observation()).unwrap();
    let mut all = vec![];
    places(&canonical, ".".to_owned(), &mut all);
    let numbers: Vec<&String> = all.iter().filter(|(_, v)| v.is_number()).map(|(p, _)| p).collect();
    assert!(numbers.len() >= 20, "{} numbers", numbers.len());
    let sentinel = Value::String("@@number@@".to_owned());
    for path in numbers {
        let text = replaced(&canonical, path, &sentinel).to_string();
        for (bad, says) in [("18446744073709551616", "too large"), ("1.5", "fraction"), ("1e3", "fraction")] {
            let error = refused_at(&text.replace("\"@@number@@\"", bad), path);
            assert!(error.problem.contains(says), "{path} = {bad}: {error}");
            assert_eq!(&error.path, path, "{bad}");
        }
        let negative = text.replace("\"@@number@@\"", "-1");
        assert_eq!(&refused_at(&negative, path).path, path);
    }
}

/// A field given twice is refused, wherever it stands: a reader keeping either value would
/// decide on what the author may not have meant.
#[test]
fn every_repeated_field_is_refused() {
    let canonical = serde_json::to_value(observation()).unwrap();
    let text = canonical.to_string();
    let mut all = vec![];
    places(&canonical, ".".to_owned(), &mut all);
    let mut tried = 0;
    for (path, value) in all.iter().filter(|(_, v)| v.is_object()) {
        let Some((key, field)) = value.as_object().unwrap().iter().next() else { continue };
        // The object's text with its first field given again at the end.
        let object = value.to_string();
        let repeated = format!("{},{}:{}}}", &object[..object.len() - 1], Value::from(key.as_str()), field);
        let changed = text.replacen(&object, &repeated, 1);
        assert_ne!(changed, text, "{path}");
        let error = Observation::from_json(&changed).expect_err(&changed);
        assert!(error.problem.contains("duplicate") || error.problem.contains("expected"), "{path}: {error}");
        tried += 1;
    }
    assert!(tried >= 12, "{tried}");
    let twice = text.replacen(
        r#""old_primary":"ConfirmedStopped""#,
        r#""old_primary":"ConfirmedStopped","old_primary":"KnownActive""#,
        1,
    );
    assert_ne!(twice, text);
    assert!(Observation::from_json(&twice).unwrap_err().problem.contains("duplicate field `old_primary`"));
}

/// A repeat hidden by an escape is the same field; an unknown field inside a variant is
/// refused even when its value is `null`.
#[test]
fn escaped_repeats_and_unknown_variant_fields_are_refused() {
    let text = serde_json::to_string(&observation()).unwrap();
    let escaped = text.replacen(
        r#""old_primary":"ConfirmedStopped""#,
        r#""old_primary":"KnownActive","old\u005fprimary":"ConfirmedStopped""#,
        1,
    );
    assert_ne!(escaped, text);
    assert!(Observation::from_json(&escaped).unwrap_err().problem.contains("duplicate"));
    let halted = r#"{"ReplicationHalted":{"reason":"AuthorityAmbiguity"}}"#;
    assert!(text.contains(halted), "{text}");
    for extra in ["null", "1", "{}"] {
        let with_extra = text.replacen(
            halted,
            &format!(r#"{{"ReplicationHalted":{{"reason":"AuthorityAmbiguity","extra":{extra}}}}}"#),
            1,
        );
        let error = Observation::from_json(&with_extra).unwrap_err();
        assert!(error.problem.contains("unknown field `extra`"), "{extra}: {error}");
        assert!(error.path.starts_with("nodes[0].replication"), "{extra}: {error}");
    }
}

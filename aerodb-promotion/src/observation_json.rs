//! An [`Observation`] read from JSON strictly (P6-F1): exactly one JSON object, every struct with
//! named fields, every number a whole number that fits its field; anything else is refused
//! with the path where it went wrong. Lenient readers approve what the author never wrote: data
//! after the first value, or `"position": [1, 120]` with its field names skipped.

use serde_json::Value;

use crate::inputs::Observation;

/// Why an observation's JSON was refused: where, and what is wrong there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at `{path}`: {problem}")]
pub struct ObservationJsonError {
    /// Where: `.` for the document, else like `nodes[0].position.lsn`.
    pub path: String,
    /// What is wrong there.
    pub problem: String,
}

impl Observation {
    /// Reads `text` strictly: one JSON object and nothing after it, named fields only (no
    /// struct in array form), no unknown or repeated field, whole numbers within their field's
    /// range.
    pub fn from_json(text: &str) -> Result<Observation, ObservationJsonError> {
        let value: Value = serde_json::from_str(text).map_err(|e| refused(".", e.to_string()))?;
        if !value.is_object() {
            return Err(refused(".", format!("expected one JSON object, found {}", kind(&value))));
        }
        first_fraction(&value, ".".to_owned())?;
        // From the text, not the parsed value: a value keeps one of two equal keys, but the
        // text's second `"old_primary"` is refused as a duplicate field.
        let observation: Observation =
            serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_str(text))
                .map_err(|e| refused(&e.path().to_string(), e.inner().to_string()))?;
        let canonical = serde_json::to_value(&observation).map_err(|e| refused(".", e.to_string()))?;
        same_form(&value, &canonical, ".".to_owned())?;
        Ok(observation)
    }
}

fn refused(path: &str, problem: String) -> ObservationJsonError {
    ObservationJsonError { path: path.to_owned(), problem }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn child(path: &str, key: &str) -> String {
    if path == "." { key.to_owned() } else { format!("{path}.{key}") }
}

fn element(path: &str, index: usize) -> String {
    if path == "." { format!("[{index}]") } else { format!("{path}[{index}]") }
}

/// No field takes a fraction, and a whole number beyond 64 bits reaches serde as one: name the
/// field rather than report "floating point 1.8446744073709552e19".
fn first_fraction(value: &Value, path: String) -> Result<(), ObservationJsonError> {
    match value {
        Value::Number(n) if n.as_u64().is_none() && n.as_i64().is_none() => Err(refused(
            &path,
            format!(
                "{n} is not a whole number from 0 to {}: too large for this field, or written with a fraction or an exponent",
                u64::MAX
            ),
        )),
        Value::Array(items) => {
            items.iter().enumerate().try_for_each(|(i, item)| first_fraction(item, element(&path, i)))
        }
        Value::Object(fields) => fields.iter().try_for_each(|(k, v)| first_fraction(v, child(&path, k))),
        _ => Ok(()),
    }
}

/// The input must be the canonical form of what it decoded to (an absent optional field reads as
/// `null`): a struct given as an array, or any other alternative spelling, is refused where found.
fn same_form(input: &Value, canonical: &Value, path: String) -> Result<(), ObservationJsonError> {
    match (input, canonical) {
        (Value::Object(given), Value::Object(expected)) => {
            let mut keys: Vec<&String> = given.keys().chain(expected.keys()).collect();
            keys.sort_unstable();
            keys.dedup();
            keys.into_iter().try_for_each(|k| {
                let null = Value::Null;
                same_form(given.get(k).unwrap_or(&null), expected.get(k).unwrap_or(&null), child(&path, k))
            })
        }
        // Element by element to the longer one's end: a missing element reads as `null`.
        (Value::Array(given), Value::Array(expected)) => {
            (0..given.len().max(expected.len())).try_for_each(|i| {
                let null = Value::Null;
                same_form(given.get(i).unwrap_or(&null), expected.get(i).unwrap_or(&null), element(&path, i))
            })
        }
        (Value::Array(_), Value::Object(_)) => {
            Err(refused(&path, "expected an object with named fields, found an array".to_owned()))
        }
        _ if input == canonical => Ok(()),
        _ => Err(refused(&path, format!("not in canonical form: found {input}, expected {canonical}"))),
    }
}

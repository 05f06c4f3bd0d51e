//! Reading typed values out of [`Node`]s, with errors that name the file, line, column and
//! field path, a did-you-mean for misspelt keys and a hint for wrong types.

use std::time::Duration;

use indexmap::IndexMap;

use super::error::{ComposeError, Result};
use super::syntax;
use super::yaml::{Map, Node, Value};
use crate::names::NameKind;

/// `parent.child` (or `child` at the top).
pub fn join(path: &str, key: &str) -> String {
    if path.is_empty() { key.to_string() } else { format!("{path}.{key}") }
}

/// Last segment of a field path, without an index: `services.web.ports[0]` -> `ports`.
fn leaf(path: &str) -> &str {
    let last = path.rsplit('.').next().unwrap_or(path);
    last.split('[').next().unwrap_or(last)
}

/// An example of the expected shape for common fields, used in type-error hints.
fn example_for(field: &str) -> Option<&'static str> {
    Some(match field {
        "ports" => "ports: [\"8000:8000\"]",
        "expose" => "expose: [\"3000\"]",
        "volumes" => "volumes: [\"./data:/data\"]",
        "depends_on" => "depends_on: [db]",
        "environment" => "environment: {KEY: value} or environment: [\"KEY=value\"]",
        "labels" => "labels: {com.example.key: value}",
        "networks" => "networks: [front]",
        "secrets" => "secrets: [db_password]",
        "configs" => "configs: [app_config]",
        "profiles" => "profiles: [debug]",
        "cap_add" => "cap_add: [NET_ADMIN]",
        "cap_drop" => "cap_drop: [ALL]",
        "command" => "command: [\"python\", \"app.py\"] or command: python app.py",
        "entrypoint" => "entrypoint: [\"/entrypoint.sh\"]",
        "services" => "services: {web: {image: nginx}}",
        "healthcheck" => "healthcheck: {test: [\"CMD\", \"curl\", \"-f\", \"http://localhost\"]}",
        "build" => "build: . or build: {context: ., dockerfile: Dockerfile}",
        "env_file" => "env_file: .env or env_file: [.env]",
        "extra_hosts" => "extra_hosts: [\"host.docker.internal:host-gateway\"]",
        "ulimits" => "ulimits: {nofile: {soft: 20000, hard: 40000}}",
        "devices" => "devices: [\"/dev/ttyUSB0:/dev/ttyUSB0\"]",
        "security_opt" => "security_opt: [\"no-new-privileges:true\"]",
        _ => return None,
    })
}

/// "must be a list" style error with a hint showing the expected shape.
pub fn type_error(node: &Node, path: &str, expected: &str) -> ComposeError {
    let field = leaf(path);
    let got = match &node.value {
        Value::Str(s) => format!("the string {s:?}"),
        Value::Int(i) => format!("the number {i}"),
        Value::Float(f) => format!("the number {f}"),
        Value::Bool(b) => format!("the boolean {b}"),
        _ => node.kind().to_string(),
    };
    let err = ComposeError::invalid(&node.pos, path, format!("must be {expected}, got {got}"));
    let hint = match (expected, &node.value) {
        ("a string", Value::Int(_) | Value::Float(_) | Value::Bool(_)) => Some(format!("quote it: {field}: \"{}\"", node.scalar_text().unwrap_or_default())),
        _ => example_for(field).map(|example| {
            let shape = match (expected.contains("mapping"), expected.contains("list")) {
                (true, true) => "a mapping or a list",
                (false, true) => "a list",
                (true, false) => "a mapping",
                _ => "it",
            };
            format!("write {shape} such as `{example}`")
        }),
    };
    match hint {
        Some(h) => err.with_hint(h),
        None => err,
    }
}

/// The closest known name, if close enough to be a typo: edit distance with a
/// swap of two neighbours counting as one edit (optimal string alignment).
pub fn did_you_mean<'a>(word: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).clamp(1, 3);
    known.into_iter().map(|k| (strsim::osa_distance(word, k), k)).filter(|(d, _)| *d <= limit).min_by_key(|(d, _)| *d).map(|(_, k)| k)
}

pub fn unknown_key(key_pos: &super::error::Pos, path: &str, key: &str, known: &[&str]) -> ComposeError {
    let err = ComposeError::invalid(key_pos, &join(path, key), "unknown attribute");
    match did_you_mean(key, known.iter().copied()) {
        Some(suggestion) => err.with_hint(format!("did you mean `{suggestion}`?")),
        None => err,
    }
}

pub fn map<'a>(node: &'a Node, path: &str) -> Result<&'a Map> {
    node.as_map().ok_or_else(|| type_error(node, path, "a mapping"))
}

pub fn string(node: &Node, path: &str) -> Result<String> {
    match &node.value {
        Value::Str(s) => Ok(s.clone()),
        _ => Err(type_error(node, path, "a string")),
    }
}

/// A string that names something on the host (volume, network, container...): it must
/// follow `kind`'s rule ([`crate::names`]), the error points at the value.
pub fn name(node: &Node, path: &str, kind: NameKind) -> Result<String> {
    let value = string(node, path)?;
    check_name(&node.pos, path, kind, &value)?;
    Ok(value)
}

/// Refuses `value` unless it follows `kind`'s rule; the error names `pos` and `path`.
pub fn check_name(pos: &super::error::Pos, path: &str, kind: NameKind, value: &str) -> Result<()> {
    crate::names::validate(kind, value).map_err(|e| ComposeError::bad_name(pos, path, e))
}

/// A string or a number (compose accepts both, e.g. `expose: [3000]`).
pub fn text(node: &Node, path: &str) -> Result<String> {
    match &node.value {
        Value::Str(_) | Value::Int(_) | Value::Float(_) => Ok(node.scalar_text().unwrap_or_default()),
        _ => Err(type_error(node, path, "a string or a number")),
    }
}

pub fn boolean(node: &Node, path: &str) -> Result<bool> {
    match &node.value {
        Value::Bool(b) => Ok(*b),
        // Interpolated values arrive as strings.
        Value::Str(s) => match s.to_ascii_lowercase().as_str() {
            "true" | "yes" | "y" | "on" | "1" => Ok(true),
            "false" | "no" | "n" | "off" | "0" => Ok(false),
            _ => Err(type_error(node, path, "a boolean (true or false)")),
        },
        _ => Err(type_error(node, path, "a boolean (true or false)")),
    }
}

pub fn integer(node: &Node, path: &str) -> Result<i64> {
    match &node.value {
        Value::Int(i) => Ok(*i),
        Value::Str(s) => s.trim().parse().map_err(|_| type_error(node, path, "an integer")),
        _ => Err(type_error(node, path, "an integer")),
    }
}

pub fn unsigned<T: TryFrom<i64>>(node: &Node, path: &str) -> Result<T> {
    let value = integer(node, path)?;
    T::try_from(value).map_err(|_| ComposeError::invalid(&node.pos, path, format!("{value} is out of range")))
}

pub fn float(node: &Node, path: &str) -> Result<f64> {
    match &node.value {
        Value::Int(i) => Ok(*i as f64),
        Value::Float(f) => Ok(*f),
        Value::Str(s) => s.trim().parse().map_err(|_| type_error(node, path, "a number")),
        _ => Err(type_error(node, path, "a number")),
    }
}

pub fn duration(node: &Node, path: &str) -> Result<Duration> {
    let text = string(node, path).map_err(|e| e.with_hint("write a duration with a unit, such as \"30s\" or \"1m30s\""))?;
    syntax::parse_duration(&text).map_err(|m| ComposeError::invalid(&node.pos, path, m))
}

pub fn bytes(node: &Node, path: &str) -> Result<u64> {
    match &node.value {
        Value::Int(i) if *i >= 0 => Ok(*i as u64),
        Value::Str(s) => syntax::parse_bytes(s).map_err(|m| ComposeError::invalid(&node.pos, path, m)),
        _ => Err(type_error(node, path, "a size such as \"512m\" or a number of bytes")),
    }
}

/// A list of strings (numbers accepted and turned into text).
pub fn string_list(node: &Node, path: &str) -> Result<Vec<String>> {
    let items = node.as_seq().ok_or_else(|| type_error(node, path, "a list"))?;
    items.iter().enumerate().map(|(i, item)| text(item, &format!("{path}[{i}]"))).collect()
}

/// A single string or a list of strings (`dns`, `tmpfs`, `env_file`...).
pub fn string_or_list(node: &Node, path: &str) -> Result<Vec<String>> {
    match &node.value {
        Value::Str(_) | Value::Int(_) => Ok(vec![node.scalar_text().unwrap_or_default()]),
        Value::Seq(_) => string_list(node, path),
        _ => Err(type_error(node, path, "a string or a list")),
    }
}

/// `{KEY: value}` or `["KEY=value", "KEY"]`; `None` = no value given.
pub fn key_values(node: &Node, path: &str, separators: &[char]) -> Result<IndexMap<String, Option<String>>> {
    let mut out = IndexMap::new();
    match &node.value {
        Value::Map(map) => {
            for (key, value) in map {
                let field = join(path, &key.name);
                let value = match &value.value {
                    Value::Null => None,
                    Value::Seq(_) | Value::Map(_) => {
                        return Err(type_error(value, &field, "a string, a number or a boolean"));
                    }
                    _ => value.scalar_text(),
                };
                out.insert(key.name.clone(), value);
            }
        }
        Value::Seq(items) => {
            for (i, item) in items.iter().enumerate() {
                let entry = text(item, &format!("{path}[{i}]"))?;
                match entry.find(separators) {
                    Some(at) => out.insert(entry[..at].to_string(), Some(entry[at + 1..].to_string())),
                    None => out.insert(entry, None),
                };
            }
        }
        _ => return Err(type_error(node, path, "a mapping or a list")),
    }
    Ok(out)
}

/// Labels, sysctls, driver options...: like [`key_values`] but a missing value is "".
pub fn string_map(node: &Node, path: &str) -> Result<IndexMap<String, String>> {
    Ok(key_values(node, path, &['='])?.into_iter().map(|(k, v)| (k, v.unwrap_or_default())).collect())
}

/// Converts an untyped node to JSON, for attributes kept as they are.
pub fn to_json(node: &Node) -> serde_json::Value {
    use serde_json::Value as J;
    match &node.value {
        Value::Null => J::Null,
        Value::Bool(b) => J::Bool(*b),
        Value::Int(i) => J::from(*i),
        Value::Float(f) => serde_json::Number::from_f64(*f).map(J::Number).unwrap_or(J::Null),
        Value::Str(s) => J::String(s.clone()),
        Value::Seq(items) => J::Array(items.iter().map(to_json).collect()),
        Value::Map(map) => J::Object(map.iter().map(|(k, v)| (k.name.clone(), to_json(v))).collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        let known = ["image", "ports", "volumes", "environment", "depends_on"];
        assert_eq!(did_you_mean("imgae", known), Some("image"));
        assert_eq!(did_you_mean("port", known), Some("ports"));
        assert_eq!(did_you_mean("enviroment", known), Some("environment"));
        assert_eq!(did_you_mean("depend_on", known), Some("depends_on"));
        assert_eq!(did_you_mean("xyz", known), None);
        assert_eq!(strsim::osa_distance("kitten", "sitting"), 3);
        assert_eq!(did_you_mean("imgae", ["image", "command"]), Some("image"));
    }
}

//! `extends`: a service starts from another service (same file or another file, possibly
//! extending further), then its own attributes are merged on top with the usual rules.

use std::path::{Path, PathBuf};

use super::error::{ComposeError, Result};
use super::fields::{self, join};
use super::load::Loader;
use super::merge::merge_service;
use super::yaml::{Node, Value};

/// Replaces every service of `doc` (read from `file`) that uses `extends` with its resolved form.
pub fn apply(doc: &mut Node, file: &Path, loader: &mut Loader) -> Result<()> {
    let names: Vec<String> = match doc.get("services").and_then(Node::as_map) {
        Some(services) => services.iter().filter(|(_, s)| s.get("extends").is_some()).map(|(k, _)| k.name.clone()).collect(),
        None => return Ok(()),
    };
    let mut resolved = Vec::new();
    for name in names {
        resolved.push((name.clone(), resolve(doc, file, &name, &mut Vec::new(), loader)?));
    }
    let services = doc.as_map_mut().and_then(|m| m.get_mut("services")).and_then(Node::as_map_mut).expect("services checked above");
    for (name, service) in resolved {
        if let Some(slot) = services.get_mut(name.as_str()) {
            *slot = service;
        }
    }
    Ok(())
}

/// The fully extended definition of service `name` in `doc`.
fn resolve(doc: &Node, file: &Path, name: &str, stack: &mut Vec<(PathBuf, String)>, loader: &mut Loader) -> Result<Node> {
    let path = format!("services.{name}");
    let service = doc.get("services").and_then(|s| s.get(name)).ok_or_else(|| {
        let known: Vec<&str> = doc.get("services").and_then(Node::as_map).map(|m| m.keys().map(|k| k.name.as_str()).collect()).unwrap_or_default();
        let err = ComposeError::project("extends", format!("cannot extend service {name:?}: not found in {}", file.display()));
        match fields::did_you_mean(name, known) {
            Some(s) => err.with_hint(format!("did you mean `{s}`?")),
            None => err,
        }
    })?;
    let Some(extends) = service.get("extends") else {
        return Ok(service.clone());
    };

    let here = (file.to_path_buf(), name.to_string());
    if let Some(start) = stack.iter().position(|entry| *entry == here) {
        let chain: Vec<String> = stack[start..].iter().chain(std::iter::once(&here)).map(|(f, s)| format!("{}:{s}", loader.display(f))).collect();
        return Err(ComposeError::ExtendsCycle { pos: Some(extends.pos.clone()), chain: chain.join(" -> ") });
    }

    let field = join(&path, "extends");
    let (base_name, base_file) = match &extends.value {
        Value::Str(s) => (s.clone(), None),
        Value::Map(map) => {
            let mut base_name = None;
            let mut base_file = None;
            for (key, value) in map {
                match key.name.as_str() {
                    "service" => base_name = Some(fields::string(value, &join(&field, "service"))?),
                    "file" => base_file = Some(PathBuf::from(fields::string(value, &join(&field, "file"))?)),
                    other => {
                        return Err(fields::unknown_key(&key.pos, &field, other, &["service", "file"]));
                    }
                }
            }
            let base_name = base_name.ok_or_else(|| ComposeError::invalid(&extends.pos, &field, "missing `service`"))?;
            (base_name, base_file)
        }
        _ => {
            return Err(fields::type_error(extends, &field, "a service name or a mapping with `service` and `file`"));
        }
    };

    stack.push(here);
    let base = match base_file.filter(|f| f != file) {
        Some(other_file) => {
            // Relative paths in the other file are relative to that file's directory.
            let dir = other_file.parent().map(Path::to_path_buf).unwrap_or_default();
            let other_doc = loader.load_file(&other_file, &dir, Some(&extends.pos))?;
            resolve(&other_doc, &other_file, &base_name, stack, loader)?
        }
        None => resolve(doc, file, &base_name, stack, loader)?,
    };
    stack.pop();

    let mut own = service.clone();
    if let Some(map) = own.as_map_mut() {
        map.shift_remove("extends");
    }
    Ok(merge_service(base, own, name))
}

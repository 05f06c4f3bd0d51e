//! `include`: other compose files loaded as their own sub-projects (own directory, own
//! `.env`), whose services and resources are added to the including file. A resource
//! defined differently on both sides is an error, as in compose.

use std::path::{Path, PathBuf};

use indexmap::IndexMap;

use super::error::{ComposeError, Result};
use super::fields::{self, join};
use super::load::Loader;
use super::paths;
use super::yaml::{Node, Value};

struct IncludeEntry {
    paths: Vec<PathBuf>,
    project_directory: Option<PathBuf>,
    env_files: Vec<PathBuf>,
}

/// Loads every entry of `doc`'s `include:` (paths relative to `base_dir`) and adds what they
/// define to `doc`.
pub fn apply(doc: &mut Node, file: &Path, base_dir: &Path, loader: &mut Loader) -> Result<()> {
    let Some(include) = doc.as_map_mut().and_then(|m| m.shift_remove("include")) else {
        return Ok(());
    };
    let entries = parse_entries(&include, base_dir, loader.home())?;
    for (index, entry) in entries.into_iter().enumerate() {
        let field = format!("include[{index}]");
        // The chain of files being included, this one last.
        let including: Vec<PathBuf> = loader.include_stack.iter().cloned().chain(std::iter::once(file.to_path_buf())).collect();
        for path in &entry.paths {
            if let Some(start) = including.iter().position(|p| p == path) {
                let chain: Vec<String> = including[start..].iter().chain(std::iter::once(path)).map(|p| loader.display(p).to_string()).collect();
                return Err(ComposeError::IncludeCycle { pos: Some(include.pos.clone()), chain: chain.join(" -> ") });
            }
        }
        let project_dir = entry.project_directory.clone().unwrap_or_else(|| entry.paths[0].parent().map(Path::to_path_buf).unwrap_or_default());
        let env_files = if entry.env_files.is_empty() {
            let default = project_dir.join(".env");
            if default.is_file() { vec![default] } else { Vec::new() }
        } else {
            entry.env_files.clone()
        };
        // The including project's variables win over the included project's env files.
        let mut env = loader.environment.clone();
        for env_file in &env_files {
            let current = env.clone();
            for (k, v) in super::dotenv::read(env_file, &|k: &str| current.get(k).cloned())? {
                env.entry(k).or_insert(v);
            }
        }
        loader.include_stack.push(file.to_path_buf());
        let saved_env = std::mem::replace(&mut loader.environment, env);
        let result = loader.load_files(&entry.paths, &project_dir, Some(&include.pos));
        loader.environment = saved_env;
        loader.include_stack.pop();
        let included = result?;
        import(doc, included, &field)?;
    }
    Ok(())
}

fn parse_entries(include: &Node, base_dir: &Path, home: Option<&str>) -> Result<Vec<IncludeEntry>> {
    let items = include.as_seq().ok_or_else(|| fields::type_error(include, "include", "a list"))?;
    let resolve = |p: &str| paths::absolute(base_dir, p, home);
    let mut entries = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let field = format!("include[{i}]");
        let entry = match &item.value {
            Value::Str(p) => IncludeEntry { paths: vec![resolve(p)], project_directory: None, env_files: Vec::new() },
            Value::Map(map) => {
                let mut entry = IncludeEntry { paths: Vec::new(), project_directory: None, env_files: Vec::new() };
                for (key, value) in map {
                    let f = join(&field, &key.name);
                    match key.name.as_str() {
                        "path" => entry.paths = fields::string_or_list(value, &f)?.iter().map(|p| resolve(p)).collect(),
                        "project_directory" => entry.project_directory = Some(resolve(&fields::string(value, &f)?)),
                        "env_file" => entry.env_files = fields::string_or_list(value, &f)?.iter().map(|p| resolve(p)).collect(),
                        other => {
                            return Err(fields::unknown_key(&key.pos, &field, other, &["path", "project_directory", "env_file"]));
                        }
                    }
                }
                if entry.paths.is_empty() {
                    return Err(ComposeError::invalid(&item.pos, &field, "missing `path`"));
                }
                entry
            }
            _ => {
                return Err(fields::type_error(item, &field, "a path or a mapping with `path`"));
            }
        };
        entries.push(entry);
    }
    Ok(entries)
}

/// Adds the included document's services, networks, volumes, secrets and configs to `doc`.
fn import(doc: &mut Node, included: Node, field: &str) -> Result<()> {
    let Value::Map(included) = included.value else {
        return Ok(());
    };
    let Some(target) = doc.as_map_mut() else {
        return Ok(());
    };
    for section in ["services", "networks", "volumes", "secrets", "configs"] {
        let Some(Node { value: Value::Map(items), pos, .. }) = included.get(section).cloned() else {
            continue;
        };
        let slot = target.entry(super::yaml::Key::new(section, pos.clone())).or_insert_with(|| Node::new(Value::Map(IndexMap::new()), pos.clone()));
        if slot.is_null() {
            *slot = Node::new(Value::Map(IndexMap::new()), pos.clone());
        }
        let existing = slot.as_map_mut().ok_or_else(|| fields::type_error(&Node::new(Value::Null, pos.clone()), section, "a mapping"))?;
        for (key, value) in items {
            match existing.get(key.name.as_str()) {
                Some(current) if !current.same(&value) => {
                    return Err(ComposeError::invalid(
                        &key.pos,
                        &format!("{section}.{}", key.name),
                        format!("conflicts with the definition imported by {field} from {}", key.pos.file),
                    ));
                }
                Some(_) => {}
                None => {
                    existing.insert(key, value);
                }
            }
        }
    }
    Ok(())
}

//! A service's environment: `env_file` contents, then `environment` on top.

use super::*;

/// A service's variables: `None` values only when interpolation is off.
pub(super) type Environment = IndexMap<String, Option<String>>;

/// env_file contents first, `environment` on top; bare keys come from the project
/// environment and are dropped when it does not define them (as `docker run -e KEY` does);
/// those keys are returned second (`config` prints them as `KEY: null`, as compose does).
pub(super) fn resolve_environment(
    env_files: &[EnvFile],
    environment: Option<&Node>,
    path: &str,
    ctx: &mut ServiceContext,
) -> Result<(Environment, Vec<String>)> {
    let mut out: IndexMap<String, Option<String>> = IndexMap::new();
    let mut unset = Vec::new();
    for env_file in env_files {
        if !env_file.path.exists() && !env_file.required {
            continue;
        }
        let previous = out.clone();
        let project_env = ctx.environment;
        let lookup = |k: &str| previous.get(k).cloned().flatten().or_else(|| project_env.get(k).cloned());
        let vars = dotenv::read_format(&env_file.path, env_file.format.as_deref(), &lookup).map_err(|e| match e {
            ComposeError::Read { path: file, .. } if !file.exists() => {
                ComposeError::Read { path: file, message: format!("env file not found (referenced by {path}.env_file)") }
            }
            other => other,
        })?;
        out.extend(vars.into_iter().map(|(k, v)| (k, Some(v))));
    }
    if let Some(node) = environment.filter(|n| !n.is_null()) {
        let field = join(path, "environment");
        for (key, value) in fields::key_values(node, &field, &['='])? {
            match value {
                Some(v) => {
                    out.insert(key, Some(v));
                }
                None if ctx.resolve_environment => match ctx.environment.get(&key) {
                    Some(v) => {
                        out.insert(key, Some(v.clone()));
                    }
                    None => {
                        out.shift_remove(&key);
                        unset.push(key);
                    }
                },
                None => {
                    out.insert(key, None);
                }
            }
        }
    }
    Ok((out, unset))
}

pub(super) fn env_files(node: &Node, path: &str) -> Result<Vec<EnvFile>> {
    let items: Vec<&Node> = match &node.value {
        Value::Seq(items) => items.iter().collect(),
        _ => vec![node],
    };
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let field = if node.as_seq().is_some() { format!("{path}[{i}]") } else { path.to_string() };
        match &item.value {
            Value::Str(p) => out.push(EnvFile { path: PathBuf::from(p), required: true, format: None }),
            Value::Map(map) => {
                let mut env_file = EnvFile { path: PathBuf::new(), required: true, format: None };
                for (key, value) in map {
                    let f = join(&field, &key.name);
                    match key.name.as_str() {
                        "path" => env_file.path = PathBuf::from(fields::string(value, &f)?),
                        "required" => env_file.required = fields::boolean(value, &f)?,
                        "format" => match fields::string(value, &f)?.as_str() {
                            "" => {}
                            "raw" => env_file.format = Some("raw".into()),
                            other => {
                                return Err(ComposeError::invalid(&value.pos, &f, format!("unsupported env_file format {other:?}"))
                                    .with_hint("leave it out for compose's .env syntax, or write `format: raw`"));
                            }
                        },
                        other => {
                            return Err(fields::unknown_key(&key.pos, &field, other, &["path", "required", "format"]));
                        }
                    }
                }
                if env_file.path.as_os_str().is_empty() {
                    return Err(ComposeError::invalid(&item.pos, &field, "missing `path`"));
                }
                out.push(env_file);
            }
            _ => return Err(type_error(item, &field, "a path or a mapping with `path`")),
        }
    }
    Ok(out)
}

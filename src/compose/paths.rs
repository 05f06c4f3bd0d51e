//! Path helpers: lexical cleaning (like Go's filepath.Clean, so `./` becomes the directory
//! itself), `~` expansion, and rewriting of the relative paths inside a parsed file so that
//! later stages only ever see absolute paths.

use std::path::{Component, Path, PathBuf};

use super::yaml::{Node, Value};

/// Joins `path` onto `base` (unless absolute) and removes `.`/`..` lexically.
pub fn absolute(base: &Path, path: &str, home: Option<&str>) -> PathBuf {
    let expanded = expand_tilde(path, home);
    let joined = if Path::new(&expanded).is_absolute() { PathBuf::from(expanded) } else { base.join(expanded) };
    clean(&joined)
}

pub fn expand_tilde(path: &str, home: Option<&str>) -> String {
    match (path, home) {
        ("~", Some(home)) => home.to_string(),
        (p, Some(home)) if p.starts_with("~/") => format!("{home}{}", &p[1..]),
        (p, _) => p.to_string(),
    }
}

pub fn clean(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    if out.as_os_str().is_empty() { PathBuf::from(".") } else { out }
}

pub fn to_string(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

/// True for a volume source that names a host path rather than a named volume.
pub fn is_host_path(source: &str) -> bool {
    source.starts_with('/') || source.starts_with('.') || source.starts_with('~')
}

/// True for a build context that is a remote URL and must not be resolved on disk.
pub fn is_remote_context(context: &str) -> bool {
    context.contains("://") || context.starts_with("git@") || context.starts_with("github.com/")
}

/// Rewrites, in one parsed compose file, every relative path that compose resolves against
/// the project (or included/extended file's) directory: build contexts and additional
/// contexts, env_file and label_file entries, `develop.watch` paths,
/// bind-mount sources, `extends.file`, and top-level secret/config files.
pub fn resolve_relative_paths(root: &mut Node, base: &Path, home: Option<&str>) {
    let resolve = |node: &mut Node| {
        if let Value::Str(s) = &mut node.value
            && !s.is_empty()
        {
            *s = to_string(&absolute(base, s, home));
        }
    };
    let Some(root_map) = root.as_map_mut() else {
        return;
    };
    for section in ["secrets", "configs"] {
        if let Some(items) = root_map.get_mut(section).and_then(Node::as_map_mut) {
            for (_, item) in items.iter_mut() {
                if let Some(file) = item.as_map_mut().and_then(|m| m.get_mut("file")) {
                    resolve(file);
                }
            }
        }
    }
    let Some(services) = root_map.get_mut("services").and_then(Node::as_map_mut) else {
        return;
    };
    for (_, service) in services.iter_mut() {
        let Some(service) = service.as_map_mut() else {
            continue;
        };
        match service.get_mut("build") {
            Some(build @ Node { value: Value::Str(_), .. }) if !build.as_str().is_some_and(is_remote_context) => {
                resolve(build);
            }
            Some(Node { value: Value::Map(build), .. }) => {
                if let Some(context) = build.get_mut("context")
                    && !context.as_str().is_some_and(is_remote_context)
                {
                    resolve(context);
                }
                // Named contexts that are directories (not `docker-image://`, URLs...).
                match build.get_mut("additional_contexts").map(|n| &mut n.value) {
                    Some(Value::Map(contexts)) => {
                        for (_, context) in contexts.iter_mut() {
                            if context.as_str().is_some_and(|c| !c.contains("://") && !is_remote_context(c)) {
                                resolve(context);
                            }
                        }
                    }
                    Some(Value::Seq(items)) => {
                        for item in items {
                            if let Value::Str(entry) = &mut item.value
                                && let Some((name, context)) = entry.split_once('=')
                                && !context.is_empty()
                                && !context.contains("://")
                                && !is_remote_context(context)
                            {
                                *entry = format!("{name}={}", to_string(&absolute(base, context, home)));
                            }
                        }
                    }
                    _ => {}
                }
            }
            _ => {}
        }
        // `develop.watch[].path`: the files to watch.
        if let Some(Node { value: Value::Map(develop), .. }) = service.get_mut("develop")
            && let Some(Node { value: Value::Seq(watch), .. }) = develop.get_mut("watch")
        {
            for rule in watch.iter_mut().filter_map(Node::as_map_mut) {
                if let Some(path) = rule.get_mut("path") {
                    resolve(path);
                }
            }
        }
        if let Some(Node { value: Value::Map(extends), .. }) = service.get_mut("extends")
            && let Some(file) = extends.get_mut("file")
        {
            resolve(file);
        }
        for key in ["env_file", "label_file"] {
            match service.get_mut(key) {
                Some(single @ Node { value: Value::Str(_), .. }) => resolve(single),
                Some(Node { value: Value::Seq(items), .. }) => {
                    for item in items {
                        match &mut item.value {
                            Value::Str(_) => resolve(item),
                            Value::Map(m) => {
                                if let Some(path) = m.get_mut("path") {
                                    resolve(path);
                                }
                            }
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
        if let Some(Node { value: Value::Seq(volumes), .. }) = service.get_mut("volumes") {
            for volume in volumes {
                match &mut volume.value {
                    Value::Str(spec) => {
                        let (source, rest) = match spec.find(':') {
                            Some(at) => (&spec[..at], &spec[at..]),
                            None => continue,
                        };
                        if source.starts_with('.') || source.starts_with('~') {
                            let resolved = to_string(&absolute(base, source, home));
                            // Rebased onto a relative directory (--no-path-resolution): still a path.
                            let resolved = if resolved.starts_with(['/', '.', '~']) { resolved } else { format!("./{resolved}") };
                            *spec = format!("{resolved}{rest}");
                        }
                    }
                    Value::Map(m) => {
                        let is_bind = m.get("type").and_then(Node::as_str) == Some("bind");
                        if let Some(source) = m.get_mut("source")
                            && is_bind
                            && source.as_str().is_some_and(|s| !s.starts_with('/'))
                        {
                            resolve(source);
                        }
                    }
                    _ => {}
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleaning_and_tilde() {
        assert_eq!(absolute(Path::new("/p"), "./", None), PathBuf::from("/p"));
        assert_eq!(absolute(Path::new("/p"), "./docker/data", None), PathBuf::from("/p/docker/data"));
        assert_eq!(absolute(Path::new("/p/q"), "../x", None), PathBuf::from("/p/x"));
        assert_eq!(absolute(Path::new("/p"), "/abs/./y/", None), PathBuf::from("/abs/y"));
        assert_eq!(absolute(Path::new("/p"), "~/cache", Some("/home/u")), PathBuf::from("/home/u/cache"));
        assert_eq!(absolute(Path::new("/p"), "~", Some("/home/u")), PathBuf::from("/home/u"));
    }
}

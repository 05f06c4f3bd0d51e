//! Finding the compose files, the project directory and the project name, as compose does.

use std::path::{Path, PathBuf};

use indexmap::IndexMap;

use super::error::{ComposeError, Result};

/// File names looked for in each directory, in order of preference.
pub const DEFAULT_FILES: [&str; 4] = ["compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml"];
pub const OVERRIDE_FILES: [&str; 4] = ["compose.override.yaml", "compose.override.yml", "docker-compose.override.yml", "docker-compose.override.yaml"];

/// Looks in `start` and then each parent for a compose file; returns it plus the override
/// file next to it (if any), and a warning when several candidates exist in one directory.
pub fn find_default_files(start: &Path) -> Result<(Vec<PathBuf>, Vec<String>)> {
    let mut dir = Some(start);
    while let Some(current) = dir {
        let found: Vec<PathBuf> = DEFAULT_FILES.iter().map(|n| current.join(n)).filter(|p| p.is_file()).collect();
        if let Some(winner) = found.first() {
            let mut warnings = Vec::new();
            if found.len() > 1 {
                warnings.push(format!(
                    "found multiple config files with supported names: {}; using {}",
                    found.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "),
                    winner.display()
                ));
            }
            let mut files = vec![winner.clone()];
            if let Some(over) = OVERRIDE_FILES.iter().map(|n| current.join(n)).find(|p| p.is_file()) {
                files.push(over);
            }
            return Ok((files, warnings));
        }
        dir = current.parent();
    }
    Err(ComposeError::NoConfigFile { dir: start.to_path_buf() })
}

/// COMPOSE_FILE, split on COMPOSE_PATH_SEPARATOR (default `:`).
pub fn files_from_env(env: &IndexMap<String, String>) -> Option<Vec<PathBuf>> {
    let value = env.get("COMPOSE_FILE").filter(|v| !v.is_empty())?;
    let separator = env.get("COMPOSE_PATH_SEPARATOR").filter(|s| !s.is_empty()).map(String::as_str).unwrap_or(":");
    Some(value.split(separator).filter(|s| !s.is_empty()).map(PathBuf::from).collect())
}

/// What compose does with a directory name: lowercase, keep only `[a-z0-9_-]`, and drop
/// leading `_`/`-` so that the name starts with a letter or digit
/// ([`crate::names::normalize_project`]).
pub fn normalize_project_name(raw: &str) -> String {
    crate::names::normalize_project(raw)
}

/// Names given explicitly (`-p`, COMPOSE_PROJECT_NAME, `name:`) must already be valid
/// ([`crate::names::NameKind::Project`]: `[a-z0-9][a-z0-9_-]*`, at most 250 bytes).
pub fn validate_project_name(name: &str) -> Result<()> {
    if crate::names::is_valid(crate::names::NameKind::Project, name) {
        return Ok(());
    }
    let normalized = normalize_project_name(name);
    let hint = (!normalized.is_empty() && normalized.len() <= 250).then(|| format!("use {normalized:?}"));
    Err(ComposeError::InvalidProjectName { name: name.to_string(), hint })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_name_normalisation() {
        let cases = [
            ("myapp", "myapp"),
            ("My App", "myapp"),
            ("django-sample_for.Docker", "django-sample_fordocker"),
            ("__hidden", "hidden"),
            ("-x", "x"),
            ("Ünïcode9", "ncode9"),
            ("...", ""),
        ];
        for (raw, expected) in cases {
            assert_eq!(normalize_project_name(raw), expected, "{raw}");
        }
        assert!(validate_project_name("ok-name_1").is_ok());
        let err = validate_project_name("Bad Name").unwrap_err().to_string();
        assert_eq!(
            err,
            "invalid project name \"Bad Name\": must contain only lowercase letters, digits, dashes and underscores, and start with a letter or digit; hint: use \"badname\""
        );
        assert!(validate_project_name("_x").is_err());
        assert!(validate_project_name("../x").is_err());
        assert!(validate_project_name("a/b").is_err());
        assert!(validate_project_name(&"p".repeat(251)).is_err());
    }

    #[test]
    fn compose_file_env() {
        let mut env = IndexMap::new();
        env.insert("COMPOSE_FILE".to_string(), "a.yml:b.yml".to_string());
        assert_eq!(files_from_env(&env).unwrap(), vec![PathBuf::from("a.yml"), PathBuf::from("b.yml")]);
        env.insert("COMPOSE_PATH_SEPARATOR".to_string(), ";".to_string());
        env.insert("COMPOSE_FILE".to_string(), "a.yml;b:c.yml".to_string());
        assert_eq!(files_from_env(&env).unwrap(), vec![PathBuf::from("a.yml"), PathBuf::from("b:c.yml")]);
    }
}

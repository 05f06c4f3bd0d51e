//! Errors and warnings. Every error's Display is the full one-line message a user sees.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

/// A position in a compose (or env) file: `file:line:column`, both 1-based.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pos {
    pub file: Arc<str>,
    pub line: usize,
    pub column: usize,
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// Something accepted but worth telling the user (obsolete `version`, attributes rde
/// cannot run yet, unset variables...).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Warning {
    pub file: Option<String>,
    pub service: Option<String>,
    pub field: Option<String>,
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(file) = &self.file {
            write!(f, "{file}: ")?;
        }
        if let Some(field) = &self.field {
            write!(f, "{field}: ")?;
        } else if let Some(service) = &self.service {
            write!(f, "services.{service}: ")?;
        }
        write!(f, "{}", self.message)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ComposeError {
    #[error(
        "no configuration file provided: not found (looked for compose.yaml, compose.yml, docker-compose.yml, docker-compose.yaml in {} and its parents)",
        dir.display()
    )]
    NoConfigFile { dir: PathBuf },

    #[error("{}: {message}", path.display())]
    Read { path: PathBuf, message: String },

    #[error("{pos}: YAML syntax error: {message}")]
    Syntax { pos: Pos, message: String },

    /// A resource limit of the YAML reader (nesting depth, alias expansion) was exceeded.
    #[error("{pos}: {message}; hint: {hint}")]
    YamlLimit { pos: Pos, message: String, hint: String },

    #[error("{}{field}: {message}{}", prefix(pos), hint_suffix(hint))]
    Invalid { pos: Option<Pos>, field: String, message: String, hint: Option<String> },

    #[error("{}{field}: required variable {variable} is missing a value{}", prefix(pos), reason_suffix(reason))]
    MissingVariable { pos: Option<Pos>, field: String, variable: String, reason: String },

    #[error("{}{field}: invalid interpolation format {value:?}: {message}", prefix(pos))]
    BadInterpolation { pos: Option<Pos>, field: String, value: String, message: String },

    #[error("{}:{line}: {message}", path.display())]
    EnvFile { path: PathBuf, line: usize, message: String },

    #[error("{}circular reference in extends: {chain}", prefix(pos))]
    ExtendsCycle { pos: Option<Pos>, chain: String },

    #[error("{}include cycle detected: {chain}", prefix(pos))]
    IncludeCycle { pos: Option<Pos>, chain: String },

    #[error("dependency cycle detected: {chain}")]
    DependencyCycle { chain: String },

    #[error(
        "invalid project name {name:?}: must contain only lowercase letters, digits, dashes and underscores, and start with a letter or digit{}",
        hint_suffix(hint)
    )]
    InvalidProjectName { name: String, hint: Option<String> },
}

fn prefix(pos: &Option<Pos>) -> String {
    pos.as_ref().map(|p| format!("{p}: ")).unwrap_or_default()
}

fn hint_suffix(hint: &Option<String>) -> String {
    hint.as_ref().map(|h| format!("; hint: {h}")).unwrap_or_default()
}

fn reason_suffix(reason: &str) -> String {
    if reason.is_empty() { String::new() } else { format!(": {reason}") }
}

impl ComposeError {
    /// The common "this value is wrong" error.
    pub fn invalid(pos: &Pos, field: &str, message: impl Into<String>) -> Self {
        ComposeError::Invalid { pos: Some(pos.clone()), field: field.to_string(), message: message.into(), hint: None }
    }

    /// A project-level error with no single position (e.g. a reference between services).
    pub fn project(field: &str, message: impl Into<String>) -> Self {
        ComposeError::Invalid { pos: None, field: field.to_string(), message: message.into(), hint: None }
    }

    /// A name refused by [`crate::names::validate`], at `pos` in the file, e.g.
    /// `compose.yml:4:11: volumes.data.name: invalid volume name "/tmp/x": '/' is not allowed
    /// (a name is not a path); hint: ...`.
    pub fn bad_name(pos: &Pos, field: &str, error: crate::names::NameError) -> Self {
        ComposeError::Invalid { pos: Some(pos.clone()), field: field.to_string(), message: error.message(), hint: Some(error.hint()) }
    }

    /// Adds (or replaces) the `hint:` part of an [`ComposeError::Invalid`] error.
    pub fn with_hint(self, new_hint: impl Into<String>) -> Self {
        match self {
            ComposeError::Invalid { pos, field, message, .. } => ComposeError::Invalid { pos, field, message, hint: Some(new_hint.into()) },
            other => other,
        }
    }
}

pub type Result<T, E = ComposeError> = std::result::Result<T, E>;

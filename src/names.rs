//! The rules for names that become paths or name host objects: volumes (a
//! directory under `volumes-v1/`), networks (`networks-v1/<name>.json`),
//! containers, compose projects (`projects/<name>.lock`, the prefix of every
//! container, network and volume name), compose services and the keys of a
//! compose file's top-level sections.
//!
//! Whatever the source (a compose file, `-p`, `--name`, `-v NAME:/path`,
//! `network create NAME`), a name is data: a valid one is a single path
//! component that is neither `.` nor `..` and holds no `/`, no NUL and no
//! control character. The rules are docker's and docker compose's:
//!
//! | kind        | rule                           | from                                     | max bytes |
//! |-------------|--------------------------------|------------------------------------------|-----------|
//! | `Volume`    | `[a-zA-Z0-9][a-zA-Z0-9_.-]+`   | moby's local volume driver (2 chars min) | 250       |
//! | `Container` | `[a-zA-Z0-9][a-zA-Z0-9_.-]+`   | moby's `RestrictedNamePattern`           | 250       |
//! | `Network`   | `[a-zA-Z0-9][a-zA-Z0-9_.-]*`   | docker                                   | 128       |
//! | `Project`   | `[a-z0-9][a-z0-9_-]*`          | compose-go (`NormalizeProjectName`)      | 250       |
//! | `Service`, `Key` | `[a-zA-Z0-9._-]+`, not `.` or `..` | the compose-spec schema's keys  | 250       |
//!
//! 250 bytes leave room for a suffix (`.json`, `.lock`) within one path
//! component (NAME_MAX is 255); 128 is what rde's network records always
//! allowed. Pure functions, no I/O: usable from every layer.

use std::fmt;

/// What a name names; decides the rule [`validate`] applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NameKind {
    /// A named volume: `-v NAME:/path`, a compose volume's `name:` (or `<project>_<key>`).
    Volume,
    /// A network: `network create NAME`, a compose network's `name:` (or `<project>_<key>`).
    Network,
    /// A container: `--name`, compose's `container_name`.
    Container,
    /// A compose project: `-p`, `COMPOSE_PROJECT_NAME`, the top-level `name:`.
    Project,
    /// A compose service (a key of `services:`).
    Service,
    /// A key of a compose file's `volumes:`, `networks:`, `secrets:` or `configs:`.
    Key,
}

impl NameKind {
    /// The longest accepted name, in bytes.
    pub fn max_len(self) -> usize {
        match self {
            NameKind::Network => 128,
            _ => 250,
        }
    }

    /// The shortest accepted name, in bytes (docker refuses 1-character volume and container names).
    pub fn min_len(self) -> usize {
        match self {
            NameKind::Volume | NameKind::Container => 2,
            _ => 1,
        }
    }

    /// The rule as docker writes it, for messages.
    pub fn pattern(self) -> &'static str {
        match self {
            NameKind::Volume | NameKind::Container => "[a-zA-Z0-9][a-zA-Z0-9_.-]+",
            NameKind::Network => "[a-zA-Z0-9][a-zA-Z0-9_.-]*",
            NameKind::Project => "[a-z0-9][a-z0-9_-]*",
            NameKind::Service | NameKind::Key => "[a-zA-Z0-9._-]+",
        }
    }

    fn allowed(self, c: char) -> bool {
        match self {
            NameKind::Project => c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-',
            _ => c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'),
        }
    }

    fn allowed_first(self, c: char) -> bool {
        match self {
            NameKind::Project => c.is_ascii_lowercase() || c.is_ascii_digit(),
            NameKind::Service | NameKind::Key => self.allowed(c),
            _ => c.is_ascii_alphanumeric(),
        }
    }
}

impl fmt::Display for NameKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NameKind::Volume => "volume",
            NameKind::Network => "network",
            NameKind::Container => "container",
            NameKind::Project => "project",
            NameKind::Service => "service",
            NameKind::Key => "resource",
        })
    }
}

/// Why a name was refused. Display is the whole one-line message with its
/// `; hint: ...`; [`NameError::message`] and [`NameError::hint`] give the two
/// parts to callers that place them themselves (the compose loader adds the
/// file, line and field in front).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("{}; hint: {}", self.message(), self.hint())]
    Empty { kind: NameKind },
    #[error("{}; hint: {}", self.message(), self.hint())]
    TooShort { kind: NameKind, name: String },
    #[error("{}; hint: {}", self.message(), self.hint())]
    TooLong { kind: NameKind, name: String },
    /// `.` or `..` (only reachable for kinds whose first character may be a dot).
    #[error("{}; hint: {}", self.message(), self.hint())]
    Dots { kind: NameKind, name: String },
    /// A character the rule does not allow; `first` tells whether it was the first one.
    #[error("{}; hint: {}", self.message(), self.hint())]
    BadChar { kind: NameKind, name: String, bad: char, first: bool },
}

impl NameError {
    /// The kind of name that was refused.
    pub fn kind(&self) -> NameKind {
        match self {
            NameError::Empty { kind }
            | NameError::TooShort { kind, .. }
            | NameError::TooLong { kind, .. }
            | NameError::Dots { kind, .. }
            | NameError::BadChar { kind, .. } => *kind,
        }
    }

    /// The refused name ("" for [`NameError::Empty`]).
    pub fn name(&self) -> &str {
        match self {
            NameError::Empty { .. } => "",
            NameError::TooShort { name, .. } | NameError::TooLong { name, .. } | NameError::Dots { name, .. } | NameError::BadChar { name, .. } => name,
        }
    }

    /// `invalid volume name "/tmp/x": '/' is not allowed (a name is not a path)`, without the hint.
    /// The name is quoted with Rust's escapes, so control characters cannot break the line,
    /// and cut after 64 characters.
    pub fn message(&self) -> String {
        let kind = self.kind();
        let name = self.name();
        let head = match name.char_indices().nth(64) {
            Some((cut, _)) => format!("invalid {kind} name {:?}...", &name[..cut]),
            None => format!("invalid {kind} name {name:?}"),
        };
        match self {
            NameError::Empty { .. } => format!("invalid {kind} name: it is empty"),
            NameError::TooShort { .. } => format!("{head}: too short, {kind} names have at least {} characters", kind.min_len()),
            NameError::TooLong { name, .. } => format!("{head}: {} bytes long, at most {} are allowed", name.len(), kind.max_len()),
            NameError::Dots { .. } => format!("{head}: `.` and `..` are not names"),
            NameError::BadChar { bad: '/', .. } => format!("{head}: '/' is not allowed (a name is not a path)"),
            NameError::BadChar { bad, first: true, .. } => format!("{head}: it may not start with {bad:?}"),
            NameError::BadChar { bad, .. } => format!("{head}: {bad:?} is not allowed"),
        }
    }

    /// What a valid name looks like (for a project, the normalised name when there is one).
    pub fn hint(&self) -> String {
        let kind = self.kind();
        let rule = match kind {
            NameKind::Project => "use lowercase letters, digits, '_' and '-', starting with a letter or digit".to_string(),
            NameKind::Service | NameKind::Key => "use letters, digits, '_', '.' and '-'".to_string(),
            _ => format!("use letters, digits, '_', '.' and '-', starting with a letter or digit ({})", kind.pattern()),
        };
        match kind {
            NameKind::Project => match normalize_project(self.name()) {
                n if !n.is_empty() && validate(kind, &n).is_ok() && n != self.name() => format!("{rule}, e.g. {n:?}"),
                _ => rule,
            },
            NameKind::Volume => format!("{rule}; to mount a host directory, use a bind mount with an absolute or ./relative path"),
            _ => rule,
        }
    }
}

/// Checks `name` against the rule for `kind` (see the module's table).
///
/// Errors: [`NameError::Empty`], [`NameError::TooShort`], [`NameError::TooLong`],
/// [`NameError::Dots`] or [`NameError::BadChar`] (the first character the rule refuses).
pub fn validate(kind: NameKind, name: &str) -> Result<(), NameError> {
    let bad = |bad: char, first: bool| NameError::BadChar { kind, name: name.to_string(), bad, first };
    let mut chars = name.chars();
    let Some(first) = chars.next() else {
        return Err(NameError::Empty { kind });
    };
    if !kind.allowed_first(first) {
        return Err(bad(first, true));
    }
    if let Some(c) = chars.find(|c| !kind.allowed(*c)) {
        return Err(bad(c, false));
    }
    if name == "." || name == ".." {
        return Err(NameError::Dots { kind, name: name.to_string() });
    }
    if name.len() < kind.min_len() {
        return Err(NameError::TooShort { kind, name: name.to_string() });
    }
    if name.len() > kind.max_len() {
        return Err(NameError::TooLong { kind, name: name.to_string() });
    }
    Ok(())
}

/// `true` when [`validate`] accepts the name.
pub fn is_valid(kind: NameKind, name: &str) -> bool {
    validate(kind, name).is_ok()
}

/// What docker compose (compose-go's `NormalizeProjectName`) makes of a directory
/// name: lowercase, keep only `[a-z0-9_-]`, drop leading `_` and `-`. The result
/// is empty or a valid [`NameKind::Project`] name (length aside).
pub fn normalize_project(raw: &str) -> String {
    let kept: String = raw.to_lowercase().chars().filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_' || *c == '-').collect();
    kept.trim_start_matches(['_', '-']).to_string()
}

/// 64 random hex characters, as docker's container and network ids (used by
/// runtime/ and net/, so it lives below both).
pub fn new_id() -> String {
    let mut bytes = [0u8; 32];
    let _ = rustix::rand::getrandom(&mut bytes, rustix::rand::GetRandomFlags::empty());
    hex::encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_rules() {
        for ok in ["pgdata", "shop_pgdata", "a1", "A.b-c_d", "0x"] {
            assert!(is_valid(NameKind::Volume, ok), "{ok}");
            assert!(is_valid(NameKind::Container, ok), "{ok}");
            assert!(is_valid(NameKind::Network, ok), "{ok}");
        }
        assert!(is_valid(NameKind::Network, "a"));
        for bad in ["", "a", "/tmp/victim", "../x", "..", ".", ".x", "-x", "_x", "a/b", "a b", "a:b", "a\nb", "a\0b", "ünï"] {
            assert!(!is_valid(NameKind::Volume, bad), "{bad:?}");
            assert!(!is_valid(NameKind::Container, bad), "{bad:?}");
        }
        for bad in ["", "/x", "a/b", "..", ".", "x/../y", "a b", "-a"] {
            assert!(!is_valid(NameKind::Network, bad), "{bad:?}");
        }
        assert!(is_valid(NameKind::Network, &"n".repeat(128)));
        assert!(!is_valid(NameKind::Network, &"n".repeat(129)));
        assert!(is_valid(NameKind::Volume, &"v".repeat(250)));
        assert!(!is_valid(NameKind::Volume, &"v".repeat(251)));
    }

    #[test]
    fn compose_rules() {
        for ok in ["myapp", "my-app_2", "0"] {
            assert!(is_valid(NameKind::Project, ok), "{ok}");
        }
        for bad in ["", "MyApp", "my.app", "../x", "a/b", "-x", "_x", "my app"] {
            assert!(!is_valid(NameKind::Project, bad), "{bad:?}");
        }
        for ok in ["web", "Web.1", "_x", "-x", ".hidden", "a"] {
            assert!(is_valid(NameKind::Service, ok), "{ok}");
            assert!(is_valid(NameKind::Key, ok), "{ok}");
        }
        for bad in ["", ".", "..", "a/b", "../x", "a b", "a:b"] {
            assert!(!is_valid(NameKind::Service, bad), "{bad:?}");
            assert!(!is_valid(NameKind::Key, bad), "{bad:?}");
        }
    }

    #[test]
    fn messages_name_the_value_and_hint() {
        let e = validate(NameKind::Volume, "/tmp/victim").unwrap_err();
        assert_eq!(e.message(), "invalid volume name \"/tmp/victim\": '/' is not allowed (a name is not a path)");
        assert!(e.to_string().contains("; hint: use letters, digits"), "{e}");
        let e = validate(NameKind::Volume, "..x").unwrap_err();
        assert_eq!(e.message(), "invalid volume name \"..x\": it may not start with '.'");
        let e = validate(NameKind::Network, "a\nb").unwrap_err();
        assert_eq!(e.message(), "invalid network name \"a\\nb\": '\\n' is not allowed");
        assert!(!e.to_string().contains('\n'));
        let e = validate(NameKind::Key, "..").unwrap_err();
        assert_eq!(e.to_string(), "invalid resource name \"..\": `.` and `..` are not names; hint: use letters, digits, '_', '.' and '-'");
        let e = validate(NameKind::Volume, "a").unwrap_err();
        assert_eq!(e.message(), "invalid volume name \"a\": too short, volume names have at least 2 characters");
        let e = validate(NameKind::Project, "My App").unwrap_err();
        assert!(e.hint().ends_with("e.g. \"myapp\""), "{}", e.hint());
        let e = validate(NameKind::Volume, &"v".repeat(100_000)).unwrap_err();
        assert_eq!(e.message(), format!("invalid volume name {:?}...: 100000 bytes long, at most 250 are allowed", "v".repeat(64)));
        let e = validate(NameKind::Container, "").unwrap_err();
        assert_eq!(e.message(), "invalid container name: it is empty");
    }

    #[test]
    fn project_normalisation_is_compose_gos() {
        for (raw, want) in
            [("myapp", "myapp"), ("My App", "myapp"), ("django-sample_for.Docker", "django-sample_fordocker"), ("__hidden", "hidden"), ("...", "")]
        {
            let got = normalize_project(raw);
            assert_eq!(got, want, "{raw}");
            assert!(got.is_empty() || is_valid(NameKind::Project, &got));
        }
    }
}

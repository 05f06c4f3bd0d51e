//! Image references, parsed and normalised exactly as docker does:
//! `postgres` is `docker.io/library/postgres:latest`.

use super::digest::Digest;
use std::fmt;
use std::str::FromStr;

pub const DOCKER_HUB: &str = "docker.io";

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Reference {
    /// Registry host, with port if any (`docker.io`, `127.0.0.1:5000`).
    pub registry: String,
    /// Repository path inside the registry (`library/postgres`).
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<Digest>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ReferenceError {
    #[error("invalid reference format {0:?}: the reference is empty")]
    Empty(String),
    #[error("invalid reference format {0:?}: repository name must be lowercase")]
    Uppercase(String),
    #[error("invalid reference format {input:?}: {what}")]
    Invalid { input: String, what: &'static str },
}

impl Reference {
    /// The tag to use: the given one, or `latest` when there is neither tag nor digest.
    pub fn tag_or_latest(&self) -> Option<&str> {
        match (&self.tag, &self.digest) {
            (Some(t), _) => Some(t),
            (None, None) => Some("latest"),
            (None, Some(_)) => None,
        }
    }

    /// What to ask the registry's manifest endpoint for: the digest wins over the tag.
    pub fn manifest_key(&self) -> String {
        match &self.digest {
            Some(d) => d.to_string(),
            None => self.tag_or_latest().unwrap_or("latest").to_string(),
        }
    }

    /// `docker.io/library/postgres` shown as docker shows it: `postgres`.
    pub fn familiar_repository(&self) -> String {
        if self.registry == DOCKER_HUB {
            match self.repository.strip_prefix("library/") {
                Some(short) if !short.contains('/') => short.to_string(),
                _ => self.repository.clone(),
            }
        } else {
            format!("{}/{}", self.registry, self.repository)
        }
    }

    /// Full name without tag or digest: `docker.io/library/postgres`.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// The canonical tagged form stored in the image index: `docker.io/library/postgres:15`.
    pub fn tagged(&self) -> Option<String> {
        self.tag_or_latest().map(|t| format!("{}:{t}", self.name()))
    }

    /// Short human form, `postgres:15` or `127.0.0.1:5000/x/y@sha256:...`.
    pub fn familiar(&self) -> String {
        let mut s = self.familiar_repository();
        if let Some(t) = self.tag_or_latest() {
            s.push(':');
            s.push_str(t);
        }
        if let Some(d) = &self.digest {
            s.push('@');
            s.push_str(&d.to_string());
        }
        s
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.name())?;
        if let Some(t) = self.tag_or_latest() {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

impl FromStr for Reference {
    type Err = ReferenceError;

    /// The grammar (and Docker Hub's normalisation) is oci-spec's
    /// `distribution::Reference`, the regular expression of distribution/reference;
    /// rde adds its own explanations of what is wrong and keeps an absent tag absent.
    fn from_str(input: &str) -> Result<Reference, ReferenceError> {
        use oci_spec::distribution::{ParseError, Reference as OciReference};
        let invalid = |what| ReferenceError::Invalid { input: input.to_string(), what };
        if input.is_empty() {
            return Err(ReferenceError::Empty(input.to_string()));
        }
        let (rest, _) = input.split_once('@').unwrap_or((input, ""));
        // A ':' after the last '/' separates the tag; one before it belongs to a host:port.
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].find(':') {
            Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
            None => (rest, None),
        };
        let parsed = OciReference::try_from(input).map_err(|e| match e {
            ParseError::ReferenceInvalidFormat => {
                let repository = name.split_once('/').filter(|(first, _)| first.contains(['.', ':']) || *first == "localhost").map_or(name, |(_, path)| path);
                if repository.chars().any(|c| c.is_ascii_uppercase()) {
                    ReferenceError::Uppercase(input.to_string())
                } else if tag.is_some_and(|t| !valid_tag(t)) {
                    invalid("tag must be 1-128 of [A-Za-z0-9_.-] and not start with '.' or '-'")
                } else if !valid_host(name.split_once('/').map_or("", |(h, _)| h)) && name.split_once('/').is_some_and(|(h, _)| h.contains(['.', ':'])) {
                    invalid("bad registry host")
                } else if input.contains('@') {
                    invalid("bad digest after '@'")
                } else {
                    invalid("repository path components must be lowercase letters, digits and separators (. _ __ -)")
                }
            }
            ParseError::NameTooLong => invalid("name longer than 255 characters"),
            ParseError::NameContainsUppercase => ReferenceError::Uppercase(input.to_string()),
            _ => invalid("bad digest after '@'"),
        })?;
        let digest = match parsed.digest() {
            Some(d) => Some(d.parse::<Digest>().map_err(|_| invalid("bad digest after '@'"))?),
            None => None,
        };
        Ok(Reference { registry: parsed.registry().to_string(), repository: parsed.repository().to_string(), tag: tag.map(str::to_string), digest })
    }
}

fn valid_tag(tag: &str) -> bool {
    let first_ok = tag.chars().next().is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
    first_ok && tag.len() <= 128 && tag.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

fn valid_host(host: &str) -> bool {
    let (name, port) = match host.rsplit_once(':') {
        Some((n, p)) if !n.contains(']') || n.ends_with(']') => (n, Some(p)),
        _ => (host, None),
    };
    let port_ok = port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.chars().all(|c| c.is_ascii_digit()));
    let name_ok = !name.is_empty()
        && (name.starts_with('[') && name.ends_with(']') || name.split('.').all(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')));
    port_ok && name_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Reference {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn normalises_like_docker() {
        let cases = [
            ("postgres", "docker.io/library/postgres:latest"),
            ("postgres:15", "docker.io/library/postgres:15"),
            ("library/python:3.11-slim", "docker.io/library/python:3.11-slim"),
            ("docker.io/library/python:3.11", "docker.io/library/python:3.11"),
            ("index.docker.io/foo/bar", "docker.io/foo/bar:latest"),
            ("bitnami/redis:7.2", "docker.io/bitnami/redis:7.2"),
            ("ghcr.io/org/app:tag", "ghcr.io/org/app:tag"),
            ("localhost/app", "localhost/app:latest"),
            ("localhost:5000/app:v1", "localhost:5000/app:v1"),
            ("127.0.0.1:5000/x/y:z", "127.0.0.1:5000/x/y:z"),
            ("quay.io/a/b/c/d:1.0_rc-2", "quay.io/a/b/c/d:1.0_rc-2"),
            ("my_repo/with__double.dots-and--dashes", "docker.io/my_repo/with__double.dots-and--dashes:latest"),
        ];
        for (input, want) in cases {
            assert_eq!(parse(input).to_string(), want, "{input}");
        }
    }

    #[test]
    fn digests() {
        let d = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let r = parse(&format!("127.0.0.1:5000/x/y@{d}"));
        assert_eq!(r.tag, None);
        assert_eq!(r.manifest_key(), d);
        assert_eq!(r.tag_or_latest(), None);
        let r = parse(&format!("postgres:15@{d}"));
        assert_eq!(r.tag.as_deref(), Some("15"));
        assert_eq!(r.manifest_key(), d);
        assert_eq!(r.to_string(), format!("docker.io/library/postgres:15@{d}"));
    }

    #[test]
    fn familiar_forms() {
        assert_eq!(parse("postgres:15").familiar(), "postgres:15");
        assert_eq!(parse("foo/bar").familiar(), "foo/bar:latest");
        assert_eq!(parse("127.0.0.1:5000/library/busybox").familiar_repository(), "127.0.0.1:5000/library/busybox");
    }

    #[test]
    fn rejects_bad_references() {
        for bad in [
            "",
            "Postgres",
            "postgres:",
            "postgres:-x",
            "postgres@sha256:abc",
            "a//b",
            "-a",
            "a-",
            "a/.b",
            "host:port/x",
            "x:y:z",
            "post gres",
            "a___b",
            &format!("x:{}", "t".repeat(129)),
        ] {
            assert!(bad.parse::<Reference>().is_err(), "{bad:?} should be rejected");
        }
        assert!(matches!("Postgres".parse::<Reference>(), Err(ReferenceError::Uppercase(_))));
    }
}
